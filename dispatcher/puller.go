package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Backoff of the save of a pulled page: it doubles from saveBackoffBase up to saveBackoffMax.
const (
	saveBackoffBase = 100 * time.Millisecond
	saveBackoffMax  = 5 * time.Second
)

// Puller pulls delivery receipts (PullSmsSendStatus) for every app in use. One puller per app
// across all workers holds the Redis lease "pull:<app>"; the others skip that app. Every page is
// saved to Redis before it is applied and before the next pull, and pages saved but not applied
// (a crash in between) are applied first on the next run, so no receipt is lost; applying is
// idempotent, so none is counted twice.
//
// A pulled page is never dropped. While it cannot be saved (Redis down or failing over) it is
// kept in memory, its save is retried with backoff, and nothing more is pulled for its app until
// it is saved: each run tries it first. When the context ends with a page still unsaved, Run
// tries once more for SaveTimeout, then gives up (the process is stopping, and a page in memory
// dies with it); that, like a kill -9 between a pull and its save, is what ReceiptLookup
// recovers: the numbers of a lost page get their receipts by number.
//
// An app that answers SdkAppIdNotExist is not pulled again for MissingAppRecheck: it never
// answers anything else.
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
	recheck     time.Duration
	backoff     time.Duration // first wait between save tries (tests shorten it)
	now         func() time.Time

	mu      sync.Mutex
	held    map[string]bool            // apps whose lease this puller took
	unsaved map[string][]store.Receipt // app -> the pulled page that could not be saved yet
	missing map[string]time.Time       // app -> when it answered SdkAppIdNotExist
}

// NewPuller checks cfg, applies its defaults and returns the puller.
func NewPuller(cfg PullerConfig) (*Puller, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
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
		recheck:     cfg.MissingAppRecheck,
		backoff:     saveBackoffBase,
		now:         nowOrDefault(cfg.Now),
		held:        map[string]bool{},
		unsaved:     map[string][]store.Receipt{},
		missing:     map[string]time.Time{},
	}, nil
}

// Run pulls every Interval until ctx ends, then tries a last time to save the pages it could not
// save, gives its leases up and returns nil. Errors of a run are logged; the next run tries again.
func (p *Puller) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	defer p.releaseLeases(ctx)
	defer p.flushUnsaved(ctx)
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
		if p.isMissing(app) {
			continue
		}
		if err := p.pullApp(ctx, app); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isMissing reports whether app answered SdkAppIdNotExist less than MissingAppRecheck ago.
func (p *Puller) isMissing(app string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.missing[app]
	if !ok {
		return false
	}
	if p.now().Sub(at) >= p.recheck {
		delete(p.missing, app)
		return false
	}
	return true
}

func (p *Puller) pullApp(ctx context.Context, app string) error {
	log := p.log.With(zap.String("app", app))
	// A page pulled earlier and not saved yet comes first: nothing more is pulled for the app
	// until it is saved.
	if page := p.unsavedPage(app); page != nil {
		if err := p.saveAndApply(ctx, app, page); err != nil {
			return err
		}
		log.Info("receipt page kept in memory is saved; pulls of the app go on", zap.Int("receipts", len(page)))
	}
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
	// A pull mark left by an earlier holder: it died (or could not save) between a pull and the
	// save of its page, which may be lost. The receipt lookup looks the numbers sent before it
	// up soon.
	if at, ok, err := p.store.TakePullMark(ctx, app); err != nil {
		return fmt.Errorf("dispatcher: pull %s: %w", app, err)
	} else if ok {
		log.Warn("a receipt page may be lost (a pull was not saved): numbers sent before it without a receipt are looked up",
			zap.Time("pulled_at", at))
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
		if err := p.store.MarkPull(ctx, app, p.owner, p.now()); err != nil {
			return fmt.Errorf("dispatcher: pull %s: %w", app, err)
		}
		pulled, err := p.puller.PullSendStatus(context.WithoutCancel(ctx), app, tencentsms.MaxPullLimit)
		if err != nil {
			var apiErr *tencentsms.Error
			if errors.As(err, &apiErr) && apiErr.Code == retry.CodeSdkAppIdNotExist {
				p.mu.Lock()
				p.missing[app] = p.now()
				p.mu.Unlock()
				log.Warn("app does not exist: its receipts are not pulled", zap.String("code", apiErr.Code),
					zap.Duration("recheck_after", p.recheck))
				return nil
			}
			if errors.Is(err, tencentsms.ErrOutcomeUnknown) {
				// Tencent may have handed out a page we never read: the pull mark stays, so the
				// next run records the suspected loss and the receipt lookup recovers them.
				log.Error("receipt page may be lost: the pull's answer was not read", zap.Error(err))
				return fmt.Errorf("dispatcher: pull %s: %w", app, err)
			}
			return errors.Join(fmt.Errorf("dispatcher: pull %s: %w", app, err), p.clearPull(ctx, app))
		}
		if len(pulled) == 0 {
			return p.clearPull(ctx, app)
		}
		if err := p.saveAndApply(ctx, app, pulledPage(pulled, p.now())); err != nil {
			return err // the mark stays until the page kept in memory is saved
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

// clearPull removes the app's pull mark if this puller wrote it: the pull's page is saved (or
// there was none).
func (p *Puller) clearPull(ctx context.Context, app string) error {
	if err := p.store.ClearPull(ctx, app, p.owner); err != nil {
		return fmt.Errorf("dispatcher: pull %s: %w", app, err)
	}
	return nil
}

// unsavedPage returns the app's page kept in memory, or nil.
func (p *Puller) unsavedPage(app string) []store.Receipt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unsaved[app]
}

// pulledPage converts a pulled page to store receipts, stamped with now where Tencent gave no
// receive time.
func pulledPage(pulled []tencentsms.Receipt, now time.Time) []store.Receipt {
	page := make([]store.Receipt, len(pulled))
	for i, r := range pulled {
		page[i] = fromTencent(r, now)
	}
	return page
}

// saveAndApply persists a pulled page (it exists nowhere else), then applies it. The save is
// tried with backoff until it succeeds, SaveTimeout passes or ctx ends; a call in flight is not
// cut short by ctx, and the apply runs even if ctx ended, under SaveTimeout. A page still not
// saved is kept in memory (pullApp tries it again first, before any other pull of the app; Run
// tries once more when it stops) and the error returned.
func (p *Puller) saveAndApply(ctx context.Context, app string, page []store.Receipt) error {
	sctx, cancel := detached(ctx, p.saveTimeout)
	defer cancel()
	id, err := p.save(ctx, sctx, app, page)
	p.mu.Lock()
	if err != nil {
		p.unsaved[app] = page
	} else {
		delete(p.unsaved, app)
	}
	p.mu.Unlock()
	if err != nil {
		p.log.Error("pulled receipt page not saved: kept in memory, no more pulls of the app until it is saved",
			zap.String("app", app), zap.Int("receipts", len(page)), zap.Error(err))
		return fmt.Errorf("dispatcher: pull %s: save page: %w", app, err)
	}
	// Saved: the page can no longer be lost, whatever happens to the apply.
	if err := p.clearPull(sctx, app); err != nil {
		p.log.Warn("pull mark not cleared: the next puller will look this page's numbers up early",
			zap.String("app", app), zap.Error(err))
	}
	return p.applyPage(sctx, app, store.SavedPage{ID: id, Receipts: page})
}

// save tries SaveReceiptPage (each call under sctx) until it succeeds or ctx or sctx ends,
// waiting between tries from p.backoff doubling up to saveBackoffMax.
func (p *Puller) save(ctx, sctx context.Context, app string, page []store.Receipt) (string, error) {
	wait := p.backoff
	for {
		id, err := p.store.SaveReceiptPage(sctx, app, page)
		if err == nil {
			return id, nil
		}
		if ctx.Err() != nil || sleep(sctx, wait) != nil || ctx.Err() != nil {
			return "", err
		}
		wait = min(2*wait, saveBackoffMax)
	}
}

// flushUnsaved tries, once ctx has ended, to save and apply the pages still kept in memory, for
// SaveTimeout in all. What cannot be saved now is lost with the process (and recovered by number:
// see ReceiptLookup); the least lossy choice left, as a stopping worker cannot hand its memory
// on, and waiting longer would only hold up the shutdown.
func (p *Puller) flushUnsaved(ctx context.Context) {
	fctx, cancel := detached(ctx, p.saveTimeout)
	defer cancel()
	p.mu.Lock()
	apps := make([]string, 0, len(p.unsaved))
	for app := range p.unsaved {
		apps = append(apps, app)
	}
	p.mu.Unlock()
	slices.Sort(apps)
	for _, app := range apps {
		page := p.unsavedPage(app)
		if err := p.saveAndApply(fctx, app, page); err != nil {
			p.log.Error("receipt page lost at shutdown: it could not be saved; its numbers are looked up by number later",
				zap.String("app", app), zap.Int("receipts", len(page)), zap.Error(err))
		}
	}
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
