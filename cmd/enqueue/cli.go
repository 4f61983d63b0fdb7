package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/store"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitConflict = 3 // send --id: the id names a job created by a different request
)

// conflictError is a job id already used by a different request: exit status 3.
type conflictError struct{ err error }

func (e conflictError) Error() string { return e.err.Error() }
func (e conflictError) Unwrap() error { return e.err }

// usageError is a malformed flag, argument or setting: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// app is one run of the program.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	cfg            Config
	// progressEvery is the least time between two progress lines of status --wait when stderr
	// is not a terminal.
	progressEvery time.Duration
}

// run executes enqueue with args (without the program name) and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, progressEvery: 5 * time.Second}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "enqueue: "+strings.ReplaceAll(err.Error(), "\n", "\nenqueue: "))
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'enqueue --help' for usage.")
		return exitUsage
	}
	var ce conflictError
	if errors.As(err, &ce) {
		return exitConflict
	}
	return exitFailure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "enqueue",
		Short: "Send SMS jobs through smsdispatch and follow them",
		Long: "enqueue sends SMS jobs to smsdispatch's workers through Redis, and shows, cancels and resumes them.\n\n" +
			"Redis: REDIS_URL (default " + DefaultRedisURL + "; rediss:// for TLS) or REDIS_CLUSTER_NODES, each also a flag\n" +
			"(flags win). SMS_SDK_APP_ID and SMS_SIGN_NAME are the defaults of --app and --sign.\n\n" +
			"Exit status: 0 success, 1 failure, 2 bad usage (a malformed flag, argument or setting), 3 send --id names\n" +
			"a job that was created by a different request (nothing sent).",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags(), a.getenv)
			if err != nil {
				return usageError{err}
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			a.cfg = cfg
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	addConfigFlags(root.PersistentFlags())
	root.AddCommand(a.sendCommand(), a.statusCommand(), a.cancelCommand(), a.resumeCommand())
	root.AddCommand(a.reportCommand(), a.listCommand())
	return root
}

// exactArgs is cobra.ExactArgs with a usage error naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %s, got %d arguments", cmd.Name(), what, len(args))
		}
		return nil
	}
}

// connect opens Redis and returns a client over it and a function closing both.
func (a *app) connect(ctx context.Context, opts client.Options) (*client.Client, func(), error) {
	rdb, err := a.cfg.openRedis(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(rdb, opts)
	if err != nil {
		_ = rdb.Close()
		return nil, nil, err
	}
	return c, func() { _ = rdb.Close() }, nil
}

func (a *app) sendCommand() *cobra.Command {
	var (
		template, sign, appID, priority, at, expire, id, country, file, encoding string
		params, to                                                               []string
		deferDaily                                                               bool
	)
	cmd := &cobra.Command{
		Use:   "send --template ID (--to NUMBER... | --file PATH | --file -)",
		Short: "Send a job; prints its id",
		Long: "send stores a job and enqueues its batches; it prints the job id alone on stdout.\n\n" +
			"--file lines are NUMBER or NUMBER,PARAM1,PARAM2,... (CSV); a line's params replace --param for that\n" +
			"number. Blank lines and # comments are skipped; bad lines are reported on stderr with their line\n" +
			"number and the rest is still sent. Numbers without + are read in --country (default CN).\n\n" +
			"The file is UTF-8 unless --encoding says gb18030 (also gbk: a CSV saved by Excel on a Chinese\n" +
			"Windows); a byte order mark decides over --encoding. When any line is not valid text in the\n" +
			"encoding, each such line is reported and nothing is sent (exit 1): the file is in another encoding.\n\n" +
			"--at is at most a year ahead; --expire at most a year and 30 days.\n\n" +
			"--id makes the send idempotent: the same command again prints the same id and sends nothing new\n" +
			"(\"already exists\" on stderr, exit 0). The same id with a different template, params, sign, app,\n" +
			"priority, --at, --expire, --defer-daily-limit or set of recipients is refused with the differences\n" +
			"named, exit 3. Recipients compare as a set of numbers with their own params: order, notation,\n" +
			"duplicates and bad lines do not count.",
		Args: exactArgs(0, "no arguments (numbers go in --to or --file)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			req := client.Request{
				JobID: id, TemplateID: template, Params: params, SignName: sign, AppID: appID,
				Priority: priority, Country: country, DeferDailyLimit: deferDaily, Encoding: encoding,
			}
			if !f.Changed("template") {
				return usagef("--template: required")
			}
			if f.Changed("priority") {
				switch priority {
				case "otp", "normal", "bulk":
				default:
					return usagef("--priority: %q is not otp, normal or bulk", priority)
				}
			}
			if f.Changed("at") {
				t, err := time.Parse(time.RFC3339, strings.TrimSpace(at))
				if err != nil {
					return usagef("--at: %q is not an RFC 3339 time such as 2026-03-01T09:00:00+08:00", at)
				}
				req.SendAt = t
			}
			if f.Changed("expire") {
				d, err := time.ParseDuration(strings.TrimSpace(expire))
				if err != nil || d <= 0 {
					return usagef("--expire: %q is not a positive Go duration such as 10m or 1h30m", expire)
				}
				req.Expire = d
			}
			if f.Changed("id") && id == "" {
				return usagef("--id: empty")
			}
			if _, err := recipients.CanonicalEncoding(encoding); err != nil {
				return usagef("--encoding: %q is not utf-8 or gb18030", encoding)
			}
			switch {
			case len(to) > 0 && f.Changed("file"):
				return usagef("--to and --file: give one of them, not both")
			case len(to) == 0 && !f.Changed("file"):
				return usagef("--to or --file: required (the recipients)")
			case f.Changed("file") && file == "":
				return usagef("--file: empty path (use --file - for stdin)")
			}
			for _, n := range to {
				req.Recipients = append(req.Recipients, client.Recipient{Number: n})
			}
			if f.Changed("file") {
				if file == "-" {
					req.Reader = a.stdin
				} else {
					fh, err := os.Open(file)
					if err != nil {
						return fmt.Errorf("--file: %w", err)
					}
					defer fh.Close()
					req.Reader = fh
				}
			}
			appSource := "--app"
			if !f.Changed("app") {
				appSource = "SMS_SDK_APP_ID"
				req.AppID = a.cfg.AppID
			}
			if !f.Changed("sign") {
				req.SignName = a.cfg.SignName
			}
			req.OnReject = func(le client.LineError) {
				if req.Reader != nil {
					fmt.Fprintf(a.stderr, "line %d: %s: %q\n", le.Line, le.Reason, le.Input)
				} else {
					fmt.Fprintf(a.stderr, "--to %q: %s\n", le.Input, le.Reason)
				}
			}

			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			if req.AppID == "" {
				// Neither --app nor SMS_SDK_APP_ID: use the app a running worker advertises.
				d, err := c.Store().AdvertisedDefaults(cmd.Context())
				if errors.Is(err, store.ErrNotFound) {
					return usagef("--app: no SmsSdkAppId: pass --app, set SMS_SDK_APP_ID, or start a worker (it advertises its own)")
				}
				if err != nil {
					return err
				}
				req.AppID = d.AppID
				appSource = "--app"
				fmt.Fprintf(a.stderr, "enqueue: neither --app nor SMS_SDK_APP_ID is set: using the app %s advertised by a worker\n", d.AppID)
			}
			res, err := c.Send(cmd.Context(), req)
			var (
				fe *client.FieldError
				ie *client.IdempotencyError
			)
			switch {
			case errors.As(err, &ie):
				return conflictError{idempotencyMessage(ie, appSource)}
			case errors.As(err, &fe) && fe.Field == "Recipients":
				return fmt.Errorf("nothing to send: %s", fe.Reason)
			case errors.As(err, &fe) && fe.Field == "Encoding" && !f.Changed("file"):
				return usageError{fmt.Errorf("--to: %s", fe.Reason)}
			case errors.As(err, &fe) && fe.Field == "Encoding":
				hint := ""
				if mustCanonical(encoding) != recipients.EncodingGB18030 && strings.Contains(fe.Reason, "not valid UTF-8") {
					hint = "\nIf the file was saved as GBK/GB18030 (Excel on a Chinese Windows), pass --encoding gb18030."
				}
				return fmt.Errorf("--file: %s.%s", fe.Reason, hint)
			case errors.As(err, &fe):
				return usageError{fmt.Errorf("%s: %s", flagOf(fe.Field, appSource), fe.Reason)}
			case errors.Is(err, client.ErrNotEnqueued):
				fmt.Fprintln(a.stdout, res.JobID)
				return err
			case err != nil:
				return err
			}
			fmt.Fprintln(a.stdout, res.JobID)
			if !res.Created {
				fmt.Fprintf(a.stderr, "enqueue: job %s already exists (%d recipients): nothing new sent\n", res.JobID, res.Accepted)
				return nil
			}
			fmt.Fprintf(a.stderr, "enqueue: job %s: %d recipients in %d batches, %d rejected, %d duplicates dropped\n",
				res.JobID, res.Accepted, res.Batches, res.RejectedCount, res.Duplicates)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&template, "template", "", "Tencent template id (required)")
	f.StringArrayVar(&params, "param", nil, "template param, repeat in order (--param 1234 --param 5)")
	f.StringVar(&sign, "sign", "", "sign name (default SMS_SIGN_NAME)")
	f.StringVar(&appID, "app", "", "SmsSdkAppId (default SMS_SDK_APP_ID)")
	f.StringVar(&priority, "priority", "normal", "otp, normal or bulk")
	f.StringVar(&at, "at", "", "send at this RFC 3339 time (default now)")
	f.StringVar(&expire, "expire", "", "give up numbers not sent within this Go duration (default 10m for otp, never otherwise)")
	f.StringVar(&id, "id", "", "job id (sending the same id again sends nothing new); default: a random id")
	f.StringVar(&country, "country", "CN", "region of numbers written without +")
	f.BoolVar(&deferDaily, "defer-daily-limit", false, "defer, rather than fail, numbers over Tencent's daily per-number limit")
	f.StringSliceVar(&to, "to", nil, "recipient number; repeat or separate with commas")
	f.StringVar(&file, "file", "", "file of recipient lines, - for stdin")
	f.StringVar(&encoding, "encoding", recipients.EncodingUTF8, "encoding of --file: utf-8 or gb18030 (gbk: Excel on a Chinese Windows)")
	return cmd
}

// mustCanonical is the canonical name of an encoding already validated.
func mustCanonical(name string) string {
	enc, _ := recipients.CanonicalEncoding(name)
	return enc
}

// idempotencyMessage words an IdempotencyError with the flags of the fields that differ.
func idempotencyMessage(ie *client.IdempotencyError, appSource string) error {
	parts := make([]string, len(ie.Differences))
	for i, d := range ie.Differences {
		parts[i] = fmt.Sprintf("%s (job: %s; this request: %s)", flagOf(d.Field, appSource), d.Job, d.Request)
	}
	return fmt.Errorf("job %s already exists for a different request: %s differ; nothing sent.\n"+
		"Run the same command again to get the existing job, or choose another --id.", ie.JobID, strings.Join(parts, ", "))
}

// flagOf names the flag of a client.Request field.
func flagOf(field, appSource string) string {
	switch field {
	case "TemplateID":
		return "--template"
	case "Params":
		return "--param"
	case "SignName":
		return "--sign"
	case "AppID":
		return appSource
	case "Priority":
		return "--priority"
	case "SendAt":
		return "--at"
	case "Expire":
		return "--expire"
	case "JobID":
		return "--id"
	case "Encoding":
		return "--encoding"
	case "DeferDailyLimit":
		return "--defer-daily-limit"
	case "Country":
		return "--country"
	case "Recipients":
		return "--to/--file"
	}
	return field
}

func (a *app) statusCommand() *cobra.Command {
	var asJSON, wait bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "status JOB_ID",
		Short: "Show a job's counts and state",
		Long: "status prints a job's counts and state; --json prints store.Status as one JSON object with the integer\n" +
			"fields total, sent, failed, cancelled, unknown, pending, delivered, undelivered, rejected, fee, sent_fee_unknown, the object\n" +
			"failed_by_code, id, state, final (true once the state no longer changes) and fatal_code (the job-fatal\n" +
			"code that stopped the job, or \"\"). --wait shows progress on stderr until the state is final, then\n" +
			"prints the final status.\n\n" + jobStatesHelp(),
		Args: exactArgs(1, "one JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if every <= 0 {
				return usagef("--interval: %v is not a positive duration", every)
			}
			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			var st store.Status
			if wait {
				p := newProgress(a.stderr, a.progressEvery)
				st, err = c.Wait(cmd.Context(), args[0], every, p.show)
				p.done()
			} else {
				st, err = c.Status(cmd.Context(), args[0])
			}
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("job %s not found (never created, or expired after its retention)", args[0])
			}
			if err != nil && st.ID == "" {
				return err
			}
			if perr := a.printStatus(st, asJSON); perr != nil {
				return perr
			}
			if err != nil {
				return fmt.Errorf("stopped waiting: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&wait, "wait", false, "show progress until the state is final (done, partial, failed or cancelled)")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "poll interval of --wait")
	return cmd
}

// jobStatesHelp renders store.JobStates (the table of the README's "Job states") for status --help.
func jobStatesHelp() string {
	var b strings.Builder
	b.WriteString("States: derived from the counts each time, with pending = total - sent - failed - cancelled (waiting,\n" +
		"in flight, due for a retry or unknown). The first row whose condition holds is the state; a job ends\n" +
		"done, partial, failed or cancelled (final: the state no longer changes; delivered and undelivered may\n" +
		"still grow with late receipts).\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  state\tfinal\tcondition")
	for _, row := range store.JobStates {
		final := "no"
		if row.Final {
			final = "yes"
		}
		for i, line := range wrapWords(row.Condition, 72) {
			if i == 0 {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", row.State, final, line)
			} else {
				fmt.Fprintf(tw, "  \t\t%s\n", line)
			}
		}
	}
	_ = tw.Flush() // a strings.Builder does not fail
	return strings.TrimRight(b.String(), "\n")
}

// wrapWords splits s into lines of at most width bytes, at spaces (a longer word gets its own line).
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func (a *app) cancelCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cancel JOB_ID",
		Short: "Cancel a job's batches not sent yet, and print the resulting counts",
		Args:  exactArgs(1, "one JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			st, err := c.Cancel(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("job %s not found (never created, or expired after its retention)", args[0])
			}
			if err != nil {
				return err
			}
			return a.printStatus(st, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func (a *app) resumeCommand() *cobra.Command {
	var appID string
	cmd := &cobra.Command{
		Use:   "resume [--app ID]",
		Short: "End an app's halt at once and restart its parked batches",
		Long: "resume ends the halt of an app (for example after topping up the balance) at once, instead of at the\n" +
			"next probe, and re-enqueues every batch parked by it. Without --app and SMS_SDK_APP_ID, every halted\n" +
			"app is resumed.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			source := "--app"
			if !cmd.Flags().Changed("app") {
				appID, source = a.cfg.AppID, "SMS_SDK_APP_ID"
			}
			if appID != "" && strings.Trim(appID, "0123456789") != "" {
				return usagef("%s: %q is not a numeric SmsSdkAppId", source, appID)
			}
			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			n, err := c.Resume(cmd.Context(), appID)
			if err != nil {
				return err
			}
			what := "app " + appID
			if appID == "" {
				what = "every halted app"
			}
			fmt.Fprintf(a.stdout, "resumed %s: %d batches restarted\n", what, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "SmsSdkAppId to resume (default SMS_SDK_APP_ID; neither: every halted app)")
	return cmd
}

// printStatus writes st as JSON or as an aligned summary.
func (a *app) printStatus(st store.Status, asJSON bool) error {
	if asJSON {
		if st.FailedByCode == nil {
			st.FailedByCode = map[string]int64{}
		}
		enc := json.NewEncoder(a.stdout)
		return enc.Encode(st)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	pct := func(n, of int64) string {
		if of == 0 {
			return ""
		}
		return fmt.Sprintf("\t%.1f%%", 100*float64(n)/float64(of))
	}
	fmt.Fprintf(tw, "job\t%s\n", st.ID)
	fmt.Fprintf(tw, "state\t%s\n", st.State)
	if st.Priority != "" || st.AppID != "" {
		fmt.Fprintf(tw, "priority\t%s\tapp %s\n", st.Priority, st.AppID)
	}
	if !st.CreatedAt.IsZero() {
		fmt.Fprintf(tw, "created\t%s\n", st.CreatedAt.Local().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "total\t%d\n", st.Total)
	fmt.Fprintf(tw, "sent\t%d%s\n", st.Sent, pct(st.Sent, st.Total))
	fmt.Fprintf(tw, "failed\t%d%s\n", st.Failed, pct(st.Failed, st.Total))
	fmt.Fprintf(tw, "cancelled\t%d%s\n", st.Cancelled, pct(st.Cancelled, st.Total))
	fmt.Fprintf(tw, "pending\t%d%s\n", st.Pending, pct(st.Pending, st.Total))
	fmt.Fprintf(tw, "unknown\t%d\n", st.Unknown)
	fmt.Fprintf(tw, "delivered\t%d%s\n", st.Delivered, pct(st.Delivered, st.Sent))
	fmt.Fprintf(tw, "undelivered\t%d%s\n", st.Undelivered, pct(st.Undelivered, st.Sent))
	fmt.Fprintf(tw, "rejected\t%d\n", st.Rejected)
	fmt.Fprintf(tw, "fee\t%d\n", st.Fee)
	if st.SentFeeUnknown > 0 {
		fmt.Fprintf(tw, "sent, fee unknown\t%d\t(settled by a receipt after a lost reply; not in fee)\n", st.SentFeeUnknown)
	}
	fmt.Fprintf(tw, "batches\t%d\n", st.Batches)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.FailedByCode) == 0 {
		return nil
	}
	fmt.Fprintln(a.stdout, "failed by code:")
	tw = tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, code := range sortedKeys(st.FailedByCode) {
		fmt.Fprintf(tw, "  %s\t%d\n", code, st.FailedByCode[code])
	}
	return tw.Flush()
}
