package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/internal/version"
	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/store"
)

// app is one run of the program.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	cfg            Config
	term           terminal // tells whether stderr is a terminal, and its width
	cacheDir       string   // where notices shown once are remembered; "" for none
	// progressEvery is the least time between two progress lines of status --wait when stderr
	// is not a terminal.
	progressEvery time.Duration
	// ownCounts gives stats this system's own hourly counts; nil: stats says they are not available.
	ownCounts ownCounts
}

// run executes enqueue with args (without the program name) and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, progressEvery: 5 * time.Second, ownCounts: storeHourlyCounts,
		term: osTerminal{}, cacheDir: cacheDir(getenv)}
	return a.run(ctx, args)
}

// run executes enqueue with args and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(a.stderr, "enqueue: "+strings.ReplaceAll(err.Error(), "\n", "\nenqueue: "))
	code := exitCode(err)
	if code == exitUsage {
		fmt.Fprintln(a.stderr, "Run 'enqueue --help' for usage.")
	}
	return code
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "enqueue",
		Short: "Send SMS jobs through smsdispatch and follow them",
		Long: "enqueue sends SMS jobs to smsdispatch's workers through Redis, and shows, cancels and resumes them.\n\n" +
			"Redis: REDIS_URL (default " + DefaultRedisURL + "; rediss:// for TLS) or REDIS_CLUSTER_NODES, each also a flag\n" +
			"(flags win). SMS_SDK_APP_ID and SMS_SIGN_NAME are the defaults of --app and --sign. The template check,\n" +
			"stats, template and balance call Tencent with TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY,\n" +
			"TENCENTCLOUD_REGION and SMS_ENDPOINT (environment only), else the sandbox a zero-setup worker advertises.\n\n" + exitCodesHelp,
		Version:       version.String("enqueue"),
		Args:          rootArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
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
	root.SetVersionTemplate("{{.Version}}\n")
	root.SuggestionsMinimumDistance = 2 // for rootArgs
	addConfigFlags(root.PersistentFlags())
	root.AddCommand(a.sendCommand(), a.statusCommand(), a.cancelCommand(), a.resumeCommand())
	root.AddCommand(a.statsCommand(), a.templateCommand(), a.balanceCommand())
	root.AddCommand(a.suppressCommand(), a.reportCommand(), a.listCommand())
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
		return nil, nil, err // an unreachableError when Redis did not answer
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
		window, tz, templateType                                                 string
		params, to                                                               []string
		deferDaily, noCheck                                                      bool
		o                                                                        sendOutput
	)
	cmd := &cobra.Command{
		Use:   "send --template ID (--to NUMBER... | --file PATH | --file -)",
		Short: "Send a job; prints its id",
		Long: "send stores a job and enqueues its batches; it prints the job id alone on stdout (--json: one object\n" +
			"{id, recipients, batches, rejected, duplicates, created}).\n\n" +
			"--file lines are NUMBER or NUMBER,PARAM1,PARAM2,... (CSV); a line's params replace --param for that\n" +
			"number. Blank lines and # comments are skipped; bad lines are reported on stderr with their line\n" +
			"number and the rest is still sent (--strict: nothing is sent when any line is rejected, exit 1;\n" +
			"--rejects FILE also writes them as CSV line,input,reason). Numbers without + are read in --country\n" +
			"(default CN). On a terminal, reading a --file shows its progress on stderr.\n\n" +
			"The file is UTF-8 unless --encoding says gb18030 (also gbk: a CSV saved by Excel on a Chinese\n" +
			"Windows); a byte order mark decides over --encoding. When any line is not valid text in the\n" +
			"encoding, each such line is reported and nothing is sent (exit 1): the file is in another encoding.\n\n" +
			"--at is at most a year ahead; --expire at most a year and 30 days.\n\n" +
			"--dry-run normalises, deduplicates and batches the recipients without Redis and prints what would be\n" +
			"sent: recipients, batches, rejected and duplicate lines; with --content (the template's text, {1}...\n" +
			"for its params) also the billed segments per number and the fee estimate, by Tencent's rules: a\n" +
			"domestic message is 【sign】 plus the content, 70 characters in one segment and 67 per segment beyond;\n" +
			"an international one is 160 and 153 in GSM-7, or 70 and 67 with any other character; an emoji counts 2.\n\n" +
			"--id makes the send idempotent: the same command again prints the same id and sends nothing new\n" +
			"(\"already exists\" on stderr, exit 0). The same id with a different template, params, sign, app,\n" +
			"priority, --at, --expire, --defer-daily-limit or set of recipients is refused with the differences\n" +
			"named, exit 5. Recipients compare as a set of numbers with their own params: order, notation,\n" +
			"duplicates and bad lines do not count.\n\n" + templateCheckHelp,
		Args: exactArgs(0, "no arguments (numbers go in --to or --file)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			f := cmd.Flags()
			req := client.Request{
				JobID: id, TemplateID: template, Params: params, SignName: sign, AppID: appID,
				Priority: priority, Country: country, DeferDailyLimit: deferDaily, Encoding: encoding,
				Window: window, TemplateType: templateType,
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
			if f.Changed("tz") {
				if !f.Changed("window") {
					return usagef("--tz: needs --window")
				}
				req.TimeZone = tz
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
			case f.Changed("content") && !o.dryRun:
				return usagef("--content: only with --dry-run (the segment estimate)")
			case o.dryRun && o.strict:
				return usagef("--dry-run and --strict: a dry run already reports every rejected line")
			}
			for _, n := range to {
				req.Recipients = append(req.Recipients, client.Recipient{Number: n})
			}
			appSource := "--app"
			if !f.Changed("app") {
				appSource = "SMS_SDK_APP_ID"
				req.AppID = a.cfg.AppID
			}
			if !f.Changed("sign") {
				req.SignName = a.cfg.SignName
			}
			failed := func(err error) error { return sendError(err, f.Changed("file"), encoding, appSource) }

			src, err := a.openRecipients(ctx, file, f.Changed("file"), o.strict)
			if err != nil {
				return err
			}
			defer src.close()
			req.Reader = src.reader
			rejects, err := newRejectLog(o.rejectsPath, req.Reader != nil, a.stderr)
			if err != nil {
				return err
			}
			rejects.before = src.interrupt
			req.OnReject = rejects.add

			if o.dryRun || o.strict {
				plan, err := client.DryRun(ctx, req, client.Options{})
				src.done()
				if cerr := rejects.close(); err == nil {
					err = cerr
				}
				if err != nil {
					return failed(err)
				}
				if o.dryRun {
					return newDryRunReport(plan, req.SignName, o.content).print(a.stdout, o.asJSON)
				}
				if plan.Rejected > 0 {
					return fmt.Errorf("--strict: %d lines rejected; nothing sent", plan.Rejected)
				}
				if req.Reader, err = src.rewind(); err != nil {
					return err
				}
				req.OnReject = nil // the plan found none; the input has not changed
			}

			c, closeFn, err := a.connectSend(ctx, !noCheck)
			if err != nil {
				return err
			}
			defer closeFn()
			if req.AppID == "" {
				// Neither --app nor SMS_SDK_APP_ID: use the app a running worker advertises.
				d, err := c.Store().AdvertisedDefaults(ctx)
				if errors.Is(err, store.ErrNotFound) {
					return usagef("--app: no SmsSdkAppId: pass --app, set SMS_SDK_APP_ID, or start a worker (it advertises its own)")
				}
				if err != nil {
					return err
				}
				req.AppID = d.AppID
				appSource = "--app"
				if firstTime(a.cacheDir, "advertised-app-"+d.AppID) {
					fmt.Fprintf(a.stderr, "enqueue: neither --app nor SMS_SDK_APP_ID is set: using the app %s advertised by a worker (said once)\n", d.AppID)
				}
			}
			res, err := c.Send(ctx, req)
			src.done()
			rerr := rejects.close() // reported after the job's id: the job is sent all the same
			if errors.Is(err, client.ErrNotEnqueued) {
				if perr := o.printResult(a.stdout, res); perr != nil {
					return perr
				}
				return errors.Join(err, rerr)
			}
			if err != nil {
				return failed(err)
			}
			if err := o.printResult(a.stdout, res); err != nil {
				return err
			}
			if !res.Created {
				fmt.Fprintf(a.stderr, "enqueue: job %s already exists (%d recipients): nothing new sent\n", res.JobID, res.Accepted)
				return rerr
			}
			fmt.Fprintf(a.stderr, "enqueue: job %s: %d recipients in %d batches, %d rejected, %d duplicates dropped\n",
				res.JobID, res.Accepted, res.Batches, res.RejectedCount, res.Duplicates)
			return rerr
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
	f.BoolVar(&noCheck, "no-check", false, "do not look the template up before accepting the job (for accounts whose role cannot call DescribeSmsTemplateList)")
	f.StringVar(&encoding, "encoding", recipients.EncodingUTF8, "encoding of --file: utf-8 or gb18030 (gbk: Excel on a Chinese Windows)")
	f.StringVar(&window, "window", "", "send only between these times of day, HH:MM-HH:MM in --tz (22:00-06:00 wraps midnight); otp ignores it")
	f.StringVar(&tz, "tz", store.BeijingTZ, "IANA time zone of --window")
	f.StringVar(&templateType, "template-type", "", "otp, notification or marketing, for a template not added with `enqueue template add` (which records it): marketing jobs get the 08:00-22:00 Beijing window unless --window says otherwise")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object {id, recipients, batches, rejected, duplicates, created}")
	f.StringVar(&o.rejectsPath, "rejects", "", "also write the rejected lines with their reasons to this CSV file")
	f.BoolVar(&o.strict, "strict", false, "send nothing (exit 1) when any line is rejected")
	f.BoolVar(&o.dryRun, "dry-run", false, "store nothing: print the recipients, batches, rejects and (with --content) the segment and fee estimate")
	f.StringVar(&o.content, "content", "", "with --dry-run: the template's text ({1}, {2}... for the params), for the segment estimate")
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
	case "Window":
		return "--window"
	case "TemplateType":
		return "--template-type"
	case "TimeZone":
		return "--tz"
	case "Country":
		return "--country"
	case "Recipients":
		return "--to/--file"
	}
	return field
}

func (a *app) statusCommand() *cobra.Command {
	var asJSON, wait, exitStatus bool
	var every, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status JOB_ID",
		Short: "Show a job's counts and state, and why it is in it",
		Long: "status prints a job's counts and state, and why: the halt of its app (code, since when, next probe), its\n" +
			"send time and expiry, template and sign, and the most frequent failure codes with their meaning.\n" +
			"--json prints store.Status as one JSON object with the integer fields total, sent, failed, cancelled,\n" +
			"unknown, pending, delivered, undelivered, rejected, fee, sent_fee_unknown, the object failed_by_code, id,\n" +
			"state, final (true once the state no longer changes) and fatal_code (the job-fatal code that stopped the\n" +
			"job, or \"\").\n\n" +
			"--wait shows progress on stderr until the state is final, then prints the final status; --timeout\n" +
			"bounds the wait (exit 1 when it passes, the status so far printed). --exit-status (with --wait) exits 1\n" +
			"when the job ends failed or cancelled, and stops waiting with exit 1 when it is paused (its app is\n" +
			"halted: see enqueue resume); done, partial and delivering exit 0.\n\n" + jobStatesHelp(),
		Args: exactArgs(1, "one JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch {
			case every <= 0:
				return usagef("--interval: %v is not a positive duration", every)
			case timeout < 0:
				return usagef("--timeout: %v is negative", timeout)
			case (exitStatus || timeout > 0) && !wait:
				return usagef("--exit-status and --timeout: only with --wait")
			}
			if err := client.ValidJobID(args[0]); err != nil {
				return usagef("JOB_ID: %v", err)
			}
			c, closeFn, err := a.connect(ctx, client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			var st store.Status
			if wait {
				p := newProgress(a.stderr, a.term, a.progressEvery)
				st, err = waitJob(ctx, c, args[0], every, timeout, exitStatus, p.show)
				p.done()
			} else {
				st, err = c.Status(ctx, args[0])
			}
			if errors.Is(err, store.ErrNotFound) {
				return notFound(args[0])
			}
			if err != nil && st.ID == "" {
				return err
			}
			if perr := a.printStatus(st, asJSON); perr != nil {
				return perr
			}
			if !asJSON {
				if werr := a.printWhy(ctx, c.Store(), st); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&wait, "wait", false, "show progress until the state is final (done, partial, failed or cancelled)")
	cmd.Flags().DurationVar(&every, "interval", time.Second, "poll interval of --wait")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long, exit 1 (0: wait as long as it takes)")
	cmd.Flags().BoolVar(&exitStatus, "exit-status", false, "with --wait: exit 1 when the job ends failed or cancelled, or is paused")
	return cmd
}

// jobStatesHelp renders store.JobStates (the table of the README's "Job states") for status --help.
func jobStatesHelp() string {
	var b strings.Builder
	b.WriteString("States: derived from the counts each time, with pending = total - sent - failed - cancelled - suppressed (waiting,\n" +
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
			if err := client.ValidJobID(args[0]); err != nil {
				return usagef("JOB_ID: %v", err)
			}
			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			st, err := c.Cancel(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return notFound(args[0])
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
	if st.Window != "" {
		if !st.NextOpen.IsZero() {
			fmt.Fprintf(tw, "window\t%s\tclosed: opens %s\n", st.Window, st.NextOpen.Local().Format(time.RFC3339))
		} else {
			fmt.Fprintf(tw, "window\t%s\n", st.Window)
		}
	}
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
	if st.Suppressed > 0 {
		fmt.Fprintf(tw, "suppressed\t%d%s\t(on the suppression list: never sent)\n", st.Suppressed, pct(st.Suppressed, st.Total))
	}
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
	return printFailedByCode(a.stdout, st.FailedByCode)
}
