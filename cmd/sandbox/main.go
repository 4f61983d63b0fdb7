// Command sandbox runs the local Tencent Cloud SMS API (see package
// sandbox) on an address, for development and demos without a Tencent
// account:
//
//	go run ./cmd/sandbox --addr 127.0.0.1:9000
//
// GET http://127.0.0.1:9000/_sandbox/stats returns its counters as JSON
// (sandbox.Stats: calls by action, numbers sent, duplicate sends, receipts).
//
// Point the official SDK at it with HttpProfile.Scheme "HTTP" and
// HttpProfile.Endpoint "127.0.0.1:9000", using the credentials, app ID,
// sign name and template IDs printed at start-up.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/smsdispatch/smsdispatch/internal/version"
	"github.com/smsdispatch/smsdispatch/sandbox"
)

func main() {
	if version.Requested(os.Args[1:]) {
		fmt.Fprintln(os.Stdout, version.String("sandbox"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := 0
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		code = 1
		if errors.Is(err, errUsage) {
			code = 2
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
		} else {
			code = 0
		}
	}
	stop()
	os.Exit(code)
}

var errUsage = errors.New("usage")

// options are the command-line settings.
type options struct {
	addr     string
	logLevel string
	cfg      sandbox.Config
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{cfg: sandbox.DefaultConfig()}
	c := &o.cfg
	var signNames, numberErrorCodes string
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9000", "listen address")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.SecretID, "secret-id", c.SecretID, "the only SecretId accepted")
	fs.StringVar(&c.SecretKey, "secret-key", c.SecretKey, "the only SecretKey accepted")
	fs.StringVar(&c.AppID, "app-id", c.AppID, "the only SmsSdkAppId accepted")
	fs.StringVar(&signNames, "sign-names", strings.Join(c.SignNames, ","), "approved sign names, comma-separated")
	fs.DurationVar(&c.ReceiptDelay, "receipt-delay", c.ReceiptDelay, "delay before a delivery receipt is pullable and pushed")
	fs.Float64Var(&c.ReceiptFailRate, "receipt-fail-rate", c.ReceiptFailRate, "share of receipts reporting FAIL")
	fs.StringVar(&c.CallbackURL, "callback-url", "", "URL receiving Tencent-style status callbacks (empty: none)")
	fs.DurationVar(&c.FrequencyInterval, "frequency-interval", c.FrequencyInterval, "minimum time between sends of one template to one number (0: off)")
	fs.IntVar(&c.DailyLimit, "daily-limit", c.DailyLimit, "accepted sends per number per natural day, China time (0: off)")
	fs.BoolVar(&c.MarketingHours, "marketing-hours", c.MarketingHours, "allow marketing templates only 08:00-22:00 China time")
	fs.Uint64Var(&c.PackageAmount, "package-amount", c.PackageAmount, "SMS package size in billed segments (0: unlimited)")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random seed for faults and receipt outcomes (0: from the clock)")
	fs.DurationVar(&c.Faults.Latency, "latency", 0, "latency added to every call")
	fs.Float64Var(&c.Faults.ErrorRate, "error-rate", 0, "share of calls answered with an InternalError.* code")
	fs.Float64Var(&c.Faults.DropRate, "drop-rate", 0, "share of SendSms replies lost after the send is recorded")
	fs.IntVar(&c.Faults.QPS, "qps", 0, "calls per second per action before RequestLimitExceeded (0: unlimited)")
	fs.DurationVar(&c.Faults.LatencyJitter, "latency-jitter", 0, "uniform random latency in [0, jitter) added to --latency")
	fs.Float64Var(&c.Faults.NumberErrorRate, "number-error-rate", 0, "share of valid numbers answered with a per-number code from --number-error-codes")
	fs.StringVar(&numberErrorCodes, "number-error-codes", strings.Join(sandbox.DefaultNumberErrorCodes, ","),
		"per-number codes drawn by --number-error-rate, comma-separated, e.g. LimitExceeded.PhoneNumberThirtySecondLimit")
	fs.BoolVar(&c.Faults.NumberErrorFirstAttempt, "number-error-first-attempt", false,
		"expose only a number's first SendSms to --number-error-rate (a resend is answered normally)")
	fs.BoolVar(&c.Faults.ErrorAfterSend, "error-after-send", false, "inject --error-rate SendSms errors after the send is recorded (outcome unknown to the client)")
	fs.StringVar(&c.Faults.HaltCode, "halt-code", "", "answer every SendSms with this error code, e.g. FailedOperation.InsufficientBalanceInSmsPackage")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	c.Faults.NumberErrorCodes = nil
	for _, code := range strings.Split(numberErrorCodes, ",") {
		if code = strings.TrimSpace(code); code != "" {
			c.Faults.NumberErrorCodes = append(c.Faults.NumberErrorCodes, code)
		}
	}
	c.SignNames = nil
	for _, n := range strings.Split(signNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			c.SignNames = append(c.SignNames, n)
		}
	}
	return o, nil
}

func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("%w: --log-level: %w", errUsage, err)
	}
	enc := zap.NewDevelopmentEncoderConfig()
	enc.EncodeLevel = zapcore.CapitalLevelEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lvl)
	return zap.New(core), nil
}

// run serves the sandbox until ctx is done. ready, when set, receives the
// listening address.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(o.logLevel, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	o.cfg.Logger = log
	srv, err := sandbox.New(o.cfg)
	if err != nil {
		return fmt.Errorf("start sandbox: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	printBanner(stdout, ln.Addr().String(), o.cfg, srv.Templates())
	log.Info("sandbox listening", zap.String("addr", ln.Addr().String()), zap.String("secret_id", o.cfg.SecretID),
		zap.String("app_id", o.cfg.AppID), zap.Duration("receipt_delay", o.cfg.ReceiptDelay),
		zap.Bool("callback", o.cfg.CallbackURL != ""), zap.Int64("seed", o.cfg.Seed))
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("sandbox stopped", zap.Any("calls", srv.Stats().Calls))
	return nil
}

// printBanner prints what a user needs to configure a client. The secret
// key is printed here, for copying, and never logged.
func printBanner(w io.Writer, addr string, c sandbox.Config, templates []sandbox.Template) {
	fmt.Fprintf(w, "Tencent SMS sandbox (API %s) on http://%s\n", sandbox.APIVersion, addr)
	fmt.Fprintf(w, "  endpoint     %s   (SDK: HttpProfile.Scheme=\"HTTP\", HttpProfile.Endpoint=%q)\n", addr, addr)
	fmt.Fprintf(w, "  region       %s\n", strings.Join(sandbox.Regions, ", "))
	fmt.Fprintf(w, "  SecretId     %s\n", c.SecretID)
	fmt.Fprintf(w, "  SecretKey    %s\n", c.SecretKey)
	fmt.Fprintf(w, "  SmsSdkAppId  %s\n", c.AppID)
	fmt.Fprintf(w, "  SignName     %s\n", strings.Join(c.SignNames, ", "))
	fmt.Fprintln(w, "  templates:")
	for _, t := range templates {
		status := "approved"
		switch t.Status {
		case sandbox.TemplateReviewing:
			status = "under review"
		case sandbox.TemplateRejected:
			status = "rejected"
		}
		scope := "domestic"
		if t.International {
			scope = "international"
		}
		fmt.Fprintf(w, "    %s  %-13s %-12s %d params  %s\n", t.ID, scope, status, t.Params(), t.Content)
	}
}
