package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
)

// defaultSandboxTTL is how long the shared sandbox's record lives in Redis unless its worker
// renews it (every third of that): a worker killed with -9 leaves a record that others see stop
// answering at once and that expires within this time.
const defaultSandboxTTL = 15 * time.Second

// zeroSandbox is the sandbox a zero-setup worker sends to. The first zero-setup worker on a Redis
// serves one in-process and records its URL there (store.ClaimSandbox, renewed while it runs);
// every later zero-setup worker on the same Redis finds the record and sends through that
// sandbox instead of serving its own, so the one receipt puller of the app pulls every receipt.
// When the serving worker stops, a worker using its sandbox serves one in its place, at the same
// address (its Tencent client keeps the URL), and records it.
type zeroSandbox struct {
	e     runEnv
	st    *store.Store
	log   *zap.Logger
	ttl   time.Duration
	owner string // this worker's record owner token

	url       string   // the sandbox this worker sends to; fixed for the worker's life
	appID     string   // the app it accepts
	signNames []string // the sign names it accepts
	shared    bool     // at start: the sandbox was another worker's

	// Owned by the keep loop (and close, after the loop ended).
	stopServing func() // stops the sandbox this worker serves; nil while it uses another's
	warned      bool   // a "record not ours" warning was logged

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// openSandbox returns the sandbox this zero-setup worker sends to: the one another zero-setup
// worker on the same Redis serves when its record names one that answers, else one it serves and
// records itself. A sandbox that does not accept this worker's SMS_SDK_APP_ID or SMS_SIGN_NAME is
// a configuration error. It keeps the record (or watches the other's) until close.
func (e runEnv) openSandbox(ctx context.Context, cfg Config, st *store.Store, logger *zap.Logger) (*zeroSandbox, error) {
	ttl := e.sandboxTTL
	if ttl <= 0 {
		ttl = defaultSandboxTTL
	}
	z := &zeroSandbox{e: e, st: st, log: logger, ttl: ttl, owner: newOwner(), done: make(chan struct{})}
	own := sandboxSpec(cfg)
	for try := 0; try < 3; try++ {
		addrs := []string{e.sandboxAddr}
		rec, err := st.Sandbox(ctx)
		switch {
		case err == nil && sandboxAnswers(ctx, rec.URL):
			if err := compatible(cfg, rec); err != nil {
				return nil, configError{err}
			}
			z.url, z.appID, z.signNames, z.shared = rec.URL, rec.AppID, rec.SignNames, true
			z.start()
			return z, nil
		case err == nil:
			// Its worker is gone (killed): drop the record, serve one in its place.
			logger.Warn("the recorded zero-setup sandbox does not answer: serving one in its place",
				zap.String("sandbox_url", rec.URL))
			if err := st.ReleaseSandbox(ctx, rec.Owner); err != nil {
				return nil, fmt.Errorf("sandbox record: %w", err)
			}
			if a := hostPort(rec.URL); a != "" {
				addrs = append([]string{a}, addrs...)
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("sandbox record: %w", err)
		}
		url, stopServing, err := e.startSandbox(own, logger, addrs, true)
		if err != nil {
			return nil, err
		}
		_, won, err := st.ClaimSandbox(ctx, z.record(url, own), ttl)
		if err != nil {
			stopServing()
			return nil, fmt.Errorf("sandbox record: %w", err)
		}
		if won {
			z.url, z.appID, z.signNames, z.stopServing = url, own.AppID, own.SignNames, stopServing
			z.start()
			return z, nil
		}
		// Another zero-setup worker recorded its sandbox in between: use that one.
		stopServing()
	}
	return nil, errors.New("sandbox: other zero-setup workers keep replacing the sandbox record in Redis; start them one at a time")
}

func (z *zeroSandbox) record(url string, spec sandboxSpecT) store.SandboxRecord {
	return store.SandboxRecord{URL: url, AppID: spec.AppID, SignNames: spec.SignNames, Owner: z.owner}
}

func (z *zeroSandbox) start() {
	ctx, cancel := context.WithCancel(context.Background())
	z.cancel = cancel
	go z.keep(ctx)
}

// keep renews this worker's record, or watches the other worker's, every third of the TTL.
func (z *zeroSandbox) keep(ctx context.Context) {
	defer close(z.done)
	t := time.NewTicker(z.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			z.tick(ctx)
		}
	}
}

func (z *zeroSandbox) tick(ctx context.Context) {
	spec := sandboxSpecT{AppID: z.appID, SignNames: z.signNames}
	if z.stopServing != nil {
		cur, won, err := z.st.ClaimSandbox(ctx, z.record(z.url, spec), z.ttl)
		switch {
		case err != nil:
			z.log.Warn("cannot renew the zero-setup sandbox record", zap.Error(err))
		case !won && !z.warned:
			z.warned = true
			z.log.Warn("another worker's sandbox is recorded in Redis; this worker keeps serving its own for the workers that send to it",
				zap.String("sandbox_url", z.url), zap.String("recorded_url", cur.URL))
		case won:
			z.warned = false
		}
		return
	}
	rec, err := z.st.Sandbox(ctx)
	switch {
	case err == nil && rec.URL != z.url:
		if !z.warned {
			z.warned = true
			z.log.Error("the zero-setup sandbox this worker sends to stopped and another one is recorded; restart this worker to use it",
				zap.String("sandbox_url", z.url), zap.String("recorded_url", rec.URL))
		}
		return
	case err == nil && sandboxAnswers(ctx, rec.URL):
		return
	case err == nil:
		_ = z.st.ReleaseSandbox(ctx, rec.Owner) // its worker is gone
	case !errors.Is(err, store.ErrNotFound):
		z.log.Warn("cannot read the zero-setup sandbox record", zap.Error(err))
		return
	}
	// The serving worker stopped: serve the sandbox in its place, at the same address.
	addr := hostPort(z.url)
	if addr == "" {
		return
	}
	_, stopServing, err := z.e.startSandbox(spec, z.log, []string{addr}, false)
	if err != nil {
		z.log.Debug("cannot serve the zero-setup sandbox in place of the stopped one yet", zap.Error(err))
		return
	}
	if _, won, err := z.st.ClaimSandbox(ctx, z.record(z.url, spec), z.ttl); err != nil || !won {
		stopServing()
		return
	}
	z.stopServing, z.warned = stopServing, false
	z.log.Warn("SANDBOX MODE: the worker serving the zero-setup sandbox stopped; this worker serves it now, at the same address",
		zap.String("sandbox_url", z.url))
}

// close stops the keep loop and, if this worker serves the sandbox, stops it and drops its record.
func (z *zeroSandbox) close() {
	z.once.Do(func() {
		if z.cancel != nil {
			z.cancel()
			<-z.done
		}
		if z.stopServing != nil {
			z.stopServing()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := z.st.ReleaseSandbox(ctx, z.owner); err != nil {
				z.log.Warn("cannot drop the zero-setup sandbox record", zap.Error(err))
			}
		}
	})
}

// sandboxSpecT is what a sandbox accepts.
type sandboxSpecT struct {
	AppID     string
	SignNames []string
}

// sandboxSpec is the sandbox a zero-setup worker serves: the sandbox defaults, adopting
// SMS_SDK_APP_ID and SMS_SIGN_NAME when they are set.
func sandboxSpec(cfg Config) sandboxSpecT {
	sc := sandbox.DefaultConfig()
	s := sandboxSpecT{AppID: sc.AppID, SignNames: sc.SignNames}
	if cfg.AppID != "" {
		s.AppID = cfg.AppID
	}
	if cfg.SignName != "" && !slices.Contains(s.SignNames, cfg.SignName) {
		s.SignNames = append(s.SignNames, cfg.SignName)
	}
	return s
}

// compatible reports, as an error naming the setting, why this worker cannot send through the
// recorded sandbox.
func compatible(cfg Config, rec store.SandboxRecord) error {
	if cfg.AppID != "" && cfg.AppID != rec.AppID {
		return fmt.Errorf("SMS_SDK_APP_ID: %s, but the sandbox another zero-setup worker serves at %s (recorded in Redis) accepts only app %s: unset SMS_SDK_APP_ID or set the same one",
			cfg.AppID, rec.URL, rec.AppID)
	}
	if cfg.SignName != "" && !slices.Contains(rec.SignNames, cfg.SignName) {
		return fmt.Errorf("SMS_SIGN_NAME: %q, but the sandbox another zero-setup worker serves at %s (recorded in Redis) accepts only %q: unset SMS_SIGN_NAME or set one of those",
			cfg.SignName, rec.URL, strings.Join(rec.SignNames, `", "`))
	}
	return nil
}

// sandboxAnswers reports whether url answers like the Tencent API (the sandbox answers a GET
// with an error in Tencent's {"Response":...} envelope).
func sandboxAnswers(ctx context.Context, u string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.Contains(string(b), `"Response"`)
}

// hostPort is the host:port of a URL, "" when it has none.
func hostPort(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Port() == "" {
		return ""
	}
	return p.Host
}

// startSandbox serves a sandbox accepting spec in-process on the first of addrs that is free
// (or, with anyPort, a free port of the last one's host) and returns its URL.
func (e runEnv) startSandbox(spec sandboxSpecT, logger *zap.Logger, addrs []string, anyPort bool) (url string, stop func(), err error) {
	sc := sandbox.DefaultConfig()
	sc.Logger = logger.Named("sandbox")
	sc.AppID, sc.SignNames = spec.AppID, spec.SignNames
	var ln net.Listener
	for _, a := range addrs {
		if ln, err = net.Listen("tcp", a); err == nil {
			break
		}
		logger.Info("sandbox address taken", zap.String("addr", a), zap.Error(err))
	}
	if ln == nil && anyPort && len(addrs) > 0 {
		host, _, _ := net.SplitHostPort(addrs[len(addrs)-1])
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
	}
	if ln == nil {
		return "", nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	sb, err := sandbox.New(sc)
	if err != nil {
		_ = ln.Close()
		return "", nil, fmt.Errorf("sandbox: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sb.Serve(ctx, ln); err != nil {
			logger.Error("sandbox stopped", zap.Error(err))
		}
	}()
	stop = func() {
		cancel()
		<-done
		_ = sb.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// newOwner returns a random token naming this worker in the sandbox record.
func newOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
