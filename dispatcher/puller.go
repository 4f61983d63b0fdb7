package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Defaults of PullerConfig.
const (
	DefaultPullInterval = 10 * time.Second
	DefaultMaxPages     = 1000 // pages of 100 per app and run: 100,000 receipts
	// pageSaveTries is how often a pulled page's save is tried: the page exists nowhere else.
	pageSaveTries = 5
)

// PullerConfig configures a Puller. Store, Puller and Limiter are required.
type PullerConfig struct {
	Store  ReceiptStore
	Puller StatusPuller
	// Limiter is the fleet-wide budget of PullSmsSendStatus (Tencent: 100 calls/s per account):
	// a ratelimit.Limiter of its own key, e.g. at 90/s.
	Limiter Limiter
	// Apps are pulled on every run besides those Store.Apps returns (the worker's default
	// SmsSdkAppId, so that receipts are pulled even before the first job).
	Apps    []string
	Logger  *zap.Logger
	Metrics *Metrics
	// Interval is the wait between runs (SMS_STATUS_PULL_INTERVAL). Default 10 s.
	Interval time.Duration
	// LeaseTTL is how long one worker's hold on an app's pull lease lasts without renewal (it is
	// renewed every page and every run). Default 3 × Interval, at least 30 s.
	LeaseTTL time.Duration
	// MaxPages bounds the pages pulled per app and run. Default DefaultMaxPages.
	MaxPages int
	// Owner identifies this puller in leases. Default: a random token.
	Owner string
	// SaveTimeout bounds the save and apply of a pulled page, which run even after the context
	// ends (a pulled receipt is gone from Tencent). Default 10 s.
	SaveTimeout time.Duration
	Now         func() time.Time
}

// Puller pulls delivery receipts (PullSmsSendStatus) for every app in use. One puller per app
// across all workers holds the Redis lease "pull:<app>"; the others skip that app. Every page is
// saved to Redis before it is applied and before the next pull, and pages saved but not applied
// (a crash in between) are applied first on the next run, so no receipt is lost; applying is
// idempotent, so none is counted twice.
type Puller struct {
	store       ReceiptStore
	puller      StatusPuller
	limiter     Limiter
	apps        []string
	log         *zap.Logger
	m           *Metrics
	interval    time.Duration
	leaseTTL    time.Duration
	maxPages    int
	owner       string
	saveTimeout time.Duration
	now         func() time.Time

	mu   sync.Mutex
	held map[string]bool // apps whose lease this puller took
}

// NewPuller checks cfg, applies its defaults and returns the puller.
func NewPuller(cfg PullerConfig) (*Puller, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("dispatcher: PullerConfig.Store is nil")
	case cfg.Puller == nil:
		return nil, errors.New("dispatcher: PullerConfig.Puller is nil")
	case cfg.Limiter == nil:
		return nil, errors.New("dispatcher: PullerConfig.Limiter is nil")
	case cfg.Interval < 0 || cfg.LeaseTTL < 0 || cfg.MaxPages < 0 || cfg.SaveTimeout < 0:
		return nil, errors.New("dispatcher: PullerConfig durations and MaxPages must not be negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultPullInterval
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = max(3*cfg.Interval, 30*time.Second)
	}
	if cfg.MaxPages == 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	if cfg.Owner == "" {
		cfg.Owner = newToken()
	}
	if cfg.SaveTimeout == 0 {
		cfg.SaveTimeout = DefaultCommitTimeout
	}
	return &Puller{
		store:       cfg.Store,
		puller:      cfg.Puller,
		limiter:     cfg.Limiter,
		apps:        slices.Clone(cfg.Apps),
		log:         nopIfNil(cfg.Logger).Named("puller"),
		m:           orNew(cfg.Metrics),
		interval:    cfg.Interval,
		leaseTTL:    cfg.LeaseTTL,
		maxPages:    cfg.MaxPages,
		owner:       cfg.Owner,
		saveTimeout: cfg.SaveTimeout,
		now:         nowOrDefault(cfg.Now),
		held:        map[string]bool{},
	}, nil
}

// Run pulls every Interval until ctx ends, then gives its leases up and returns nil. Errors of a
// run are logged; the next run tries again.
func (p *Puller) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	defer p.releaseLeases(ctx)
	for {
		if err := p.PullOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("receipt pull incomplete", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PullOnce runs one pull over every app: for each app whose lease it gets, it applies the pages
// left saved by an earlier run, then pulls pages until a short one.
func (p *Puller) PullOnce(ctx context.Context) error {
	apps, err := p.store.Apps(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("dispatcher: apps: %w", err))
	}
	for _, app := range p.apps {
		if !slices.Contains(apps, app) {
			apps = append(apps, app)
		}
	}
	for _, app := range apps {
		if ctx.Err() != nil {
			break
		}
		if err := p.pullApp(ctx, app); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *Puller) pullApp(ctx context.Context, app string) error {
	log := p.log.With(zap.String("app", app))
	ok, err := p.lease(ctx, app)
	if err != nil || !ok {
		return err
	}
	// Pages a crashed run saved and did not apply.
	saved, err := p.store.SavedReceiptPages(ctx, app)
	if err != nil {
		return fmt.Errorf("dispatcher: pull %s: %w", app, err)
	}
	for _, page := range saved {
		if err := p.applyPage(ctx, app, page); err != nil {
			return err
		}
	}
	if len(saved) > 0 {
		log.Info("applied receipt pages left by an earlier run", zap.Int("pages", len(saved)))
	}
	for range p.maxPages {
		if err := p.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the next run goes on
			}
			return fmt.Errorf("dispatcher: pull %s: rate limiter: %w", app, err)
		}
		// A pull is a destructive read: once started it is not cut short by ctx (shutdown), or
		// the page Tencent hands out would be lost. The client's own timeout bounds it.
		pulled, err := p.puller.PullSendStatus(context.WithoutCancel(ctx), app, tencentsms.MaxPullLimit)
		if err != nil {
			if errors.Is(err, tencentsms.ErrOutcomeUnknown) {
				// Tencent may have handed out a page we never read: those receipts are gone.
				log.Error("receipt page may be lost: the pull's answer was not read", zap.Error(err))
			}
			return fmt.Errorf("dispatcher: pull %s: %w", app, err)
		}
		if len(pulled) == 0 {
			return nil
		}
		if err := p.saveAndApply(ctx, app, pulled); err != nil {
			return err
		}
		if len(pulled) < tencentsms.MaxPullLimit {
			return nil
		}
		// Renew the lease before the next page; stop if another worker has it now.
		if ok, err := p.lease(ctx, app); err != nil || !ok {
			return err
		}
	}
	return nil
}

// saveAndApply persists a pulled page (it exists nowhere else), then applies it. Both run even if
// ctx ends, under SaveTimeout.
func (p *Puller) saveAndApply(ctx context.Context, app string, pulled []tencentsms.Receipt) error {
	sctx, cancel := detached(ctx, p.saveTimeout)
	defer cancel()
	now := p.now()
	page := make([]store.Receipt, len(pulled))
	for i, r := range pulled {
		page[i] = fromTencent(r, now)
	}
	var id string
	var err error
	for try := range pageSaveTries {
		if id, err = p.store.SaveReceiptPage(sctx, app, page); err == nil {
			break
		}
		if try+1 < pageSaveTries && sleep(sctx, time.Duration(100<<try)*time.Millisecond) != nil {
			break
		}
	}
	if err != nil {
		p.log.Error("pulled receipt page lost: it could not be saved", zap.String("app", app),
			zap.Int("receipts", len(page)), zap.Error(err))
		return fmt.Errorf("dispatcher: pull %s: save page: %w", app, err)
	}
	return p.applyPage(sctx, app, store.SavedPage{ID: id, Receipts: page})
}

func (p *Puller) applyPage(ctx context.Context, app string, page store.SavedPage) error {
	st, err := p.store.ApplyReceiptPage(ctx, app, page)
	if err != nil {
		// The page stays saved: the next run applies it.
		return fmt.Errorf("dispatcher: pull %s: apply page %s: %w", app, page.ID, err)
	}
	p.m.Receipts.WithLabelValues("applied").Add(float64(st.Applied))
	p.m.Receipts.WithLabelValues("duplicate").Add(float64(st.Duplicate))
	p.m.Receipts.WithLabelValues("unmatched").Add(float64(st.Unmatched))
	return nil
}

// lease takes or renews the app's pull lease.
func (p *Puller) lease(ctx context.Context, app string) (bool, error) {
	ok, err := p.store.AcquireLease(ctx, "pull:"+app, p.owner, p.leaseTTL)
	if err != nil {
		return false, fmt.Errorf("dispatcher: pull %s: lease: %w", app, err)
	}
	p.mu.Lock()
	if ok {
		p.held[app] = true
	} else {
		delete(p.held, app)
	}
	p.mu.Unlock()
	return ok, nil
}

func (p *Puller) releaseLeases(ctx context.Context) {
	rctx, cancel := detached(ctx, 5*time.Second)
	defer cancel()
	p.mu.Lock()
	apps := make([]string, 0, len(p.held))
	for app := range p.held {
		apps = append(apps, app)
	}
	clear(p.held)
	p.mu.Unlock()
	for _, app := range apps {
		if err := p.store.ReleaseLease(rctx, "pull:"+app, p.owner); err != nil {
			p.log.Warn("pull lease not released; it expires by itself", zap.String("app", app), zap.Error(err))
		}
	}
}
