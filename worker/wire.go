package worker

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/dispatcher"
	"github.com/smsdispatch/smsdispatch/ratelimit"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Fleet-wide budgets of the Tencent APIs other than SendSms, kept under Tencent's own limits
// (PullSmsSendStatusByPhoneNumber 20/s, PullSmsSendStatus 100/s per account).
const (
	ByPhoneRateLimit    = 18
	PullStatusRateLimit = 90
	// PullReplyRateLimit is the budget of PullSmsReplyStatus (Tencent: 100 calls/s per account).
	PullReplyRateLimit = 90
)

// parts are the dispatcher pieces the worker runs.
type parts struct {
	send, reconcile, probe asynq.Handler
	retryDelay             asynq.RetryDelayFunc
	isFailure              func(error) bool
	loops                  []loop
	callbacks              *dispatcher.Callbacks // nil without Config.CallbackToken
	closeFn                func()
	// advertise tells producers which app and sign name this worker defaults to.
	advertise func(context.Context) error
}

func (p *parts) close() {
	if p.closeFn != nil {
		p.closeFn()
	}
}

// build wires the store, the Tencent client, the rate limiters and the dispatcher's handlers and
// loops from cfg (defaults applied, validated).
func build(cfg Config, logger *zap.Logger, reg prometheus.Registerer) (*parts, error) {
	st := store.New(cfg.Redis, store.Options{
		Retention:     cfg.Retention,
		ClaimLease:    cfg.ClaimLease,
		ReceiptWindow: cfg.ReceiptWindow,
		Now:           cfg.Now,
	})
	tc, err := tencentsms.New(cfg.Tencent)
	if err != nil {
		return nil, fmt.Errorf("worker: config Tencent: %w", err)
	}
	fail := func(err error) (*parts, error) {
		_ = tc.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}
	region := cfg.Tencent.Region
	if region == "" {
		region = tencentsms.DefaultRegion
	}
	limiter := func(api string, perSecond int) (*ratelimit.Limiter, error) {
		return ratelimit.New(cfg.Redis, ratelimit.Key(api, region, cfg.Tencent.SecretID), perSecond)
	}
	sendLim, err := limiter("SendSms", cfg.RateLimit)
	if err != nil {
		return fail(err)
	}
	byPhoneLim, err := limiter("PullSmsSendStatusByPhoneNumber", ByPhoneRateLimit)
	if err != nil {
		return fail(err)
	}
	pullLim, err := limiter("PullSmsSendStatus", PullStatusRateLimit)
	if err != nil {
		return fail(err)
	}
	replyLim, err := limiter("PullSmsReplyStatus", PullReplyRateLimit)
	if err != nil {
		return fail(err)
	}
	m, err := dispatcher.NewMetrics(reg)
	if err != nil {
		return fail(err)
	}
	pm, err := dispatcher.NewPushMetrics(reg)
	if err != nil {
		return fail(err)
	}
	if err := newFleetCollector(cfg, st, logger, reg); err != nil {
		return fail(err)
	}
	// The enqueuer shares the caller's Redis client; asynq never closes a shared client.
	enq := tasks.NewEnqueuer(cfg.Redis)
	log := logger.Named("dispatcher")

	send, err := dispatcher.NewSendHandler(dispatcher.SendConfig{
		Store:             st,
		Sender:            tc,
		Enqueuer:          enq,
		Limiter:           sendLim,
		Suppressor:        st,
		Logger:            log,
		Metrics:           m,
		Policy:            cfg.RetryPolicy,
		ReconcileWindow:   cfg.ReconcileWindow,
		HaltProbeInterval: cfg.HaltProbeInterval,
		SignName:          cfg.SignName,
		Now:               cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	probe, err := dispatcher.NewProbeHandler(dispatcher.ProbeConfig{
		Send:              send,
		Store:             st,
		Enqueuer:          enq,
		Logger:            log,
		Metrics:           m,
		HaltProbeInterval: cfg.HaltProbeInterval,
		Now:               cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	reconcile, err := dispatcher.NewReconcileHandler(dispatcher.ReconcileConfig{
		Store:           st,
		Puller:          tc,
		Enqueuer:        enq,
		Limiter:         byPhoneLim,
		Logger:          log,
		Metrics:         m,
		ReconcileWindow: cfg.ReconcileWindow,
		Now:             cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	puller, err := dispatcher.NewPuller(dispatcher.PullerConfig{
		Store:    st,
		Puller:   tc,
		Limiter:  pullLim,
		Apps:     []string{cfg.AppID},
		Logger:   log,
		Metrics:  m,
		Interval: cfg.StatusPullInterval,
		Now:      cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	// Receipts of pages lost between a pull and its save, by number; same budget as reconcile.
	lookup, err := dispatcher.NewReceiptLookup(dispatcher.ReceiptLookupConfig{
		Store:   st,
		Puller:  tc,
		Limiter: byPhoneLim,
		Logger:  log,
		Metrics: m,
		Age:     cfg.ReceiptLookupAge,
		Now:     cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	sweeper, err := dispatcher.NewSweeper(dispatcher.SweeperConfig{
		Store:    st,
		Enqueuer: enq,
		Logger:   log,
		Metrics:  m,
		Interval: cfg.SweepInterval,
		Grace:    cfg.SweepGrace,
		Now:      cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	replies, err := dispatcher.NewReplyLoop(dispatcher.ReplyLoopConfig{
		Store:       st,
		Puller:      tc,
		Suppressor:  st,
		Limiter:     replyLim,
		Apps:        []string{cfg.AppID},
		Keywords:    cfg.UnsubscribeKeywords,
		Logger:      log,
		PushMetrics: pm,
		Interval:    cfg.StatusPullInterval,
		Now:         cfg.Now,
	})
	if err != nil {
		return fail(err)
	}
	var callbacks *dispatcher.Callbacks
	if cfg.CallbackToken != "" {
		callbacks, err = dispatcher.NewCallbacks(dispatcher.CallbackConfig{
			Store:       st,
			Suppressor:  st,
			Token:       cfg.CallbackToken,
			App:         cfg.AppID,
			Keywords:    cfg.UnsubscribeKeywords,
			Logger:      log,
			Metrics:     m,
			PushMetrics: pm,
			Now:         cfg.Now,
		})
		if err != nil {
			return fail(err)
		}
	}
	return &parts{
		callbacks:  callbacks,
		send:       send,
		reconcile:  reconcile,
		probe:      probe,
		retryDelay: dispatcher.RetryDelay,
		isFailure:  dispatcher.IsFailure,
		loops: []loop{
			{name: "puller", run: puller.Run},
			{name: "sweeper", run: sweeper.Run},
			{name: "receipt-lookup", run: lookup.Run},
			{name: "replies", run: replies.Run},
		},
		closeFn: func() { _ = tc.Close() },
		advertise: func(ctx context.Context) error {
			return st.AdvertiseDefaults(ctx, store.Defaults{AppID: cfg.AppID, SignName: cfg.SignName})
		},
	}, nil
}
