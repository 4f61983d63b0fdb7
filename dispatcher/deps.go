package dispatcher

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// The dispatcher depends only on the small interfaces below. *store.Store satisfies every store
// interface (and Store), *tencentsms.Client every Tencent interface, *ratelimit.Limiter Limiter,
// and *tasks.Enqueuer Enqueuer.

// SendStore is what SendHandler needs from the store.
type SendStore interface {
	Claim(ctx context.Context, job string, batch int, token string) (store.ClaimResult, error)
	Launch(ctx context.Context, job string, batch int, token string) (store.LaunchResult, error)
	Release(ctx context.Context, job string, batch int, token string) error
	Requeue(ctx context.Context, job string, batch int, token string) error
	Commit(ctx context.Context, job string, batch int, token string, results []store.NumberResult) (store.CommitResult, error)
	IndexSerials(ctx context.Context, job string, batch int, results []store.NumberResult) error
	FailJob(ctx context.Context, job, code string) error
	HaltOf(ctx context.Context, app string) (*store.Halt, error)
	Halt(ctx context.Context, app, code string, probeAt time.Time) error
	Park(ctx context.Context, app, job string, batch int) error
}

// ProbeStore is what ProbeHandler needs from the store (besides its SendHandler's).
type ProbeStore interface {
	HaltOf(ctx context.Context, app string) (*store.Halt, error)
	Park(ctx context.Context, app, job string, batch int) error
	PopParked(ctx context.Context, app string) (store.BatchRef, bool, error)
	Resume(ctx context.Context, app string) ([]store.BatchRef, error)
	Job(ctx context.Context, id string) (store.Job, error)
}

// ReconcileStore is what ReconcileHandler needs from the store.
type ReconcileStore interface {
	Job(ctx context.Context, id string) (store.Job, error)
	Unknowns(ctx context.Context, job string, batch int) ([]store.UnknownNumber, error)
	UnmatchedReceipts(ctx context.Context, number string, since time.Time) ([]store.Receipt, error)
	SerialRefs(ctx context.Context, serials []string) (map[string]store.SerialRef, error)
	IndexEvidenceSerials(ctx context.Context, job string, batch int, results []store.NumberResult) (map[string]store.SerialRef, error)
	SaveReceiptPage(ctx context.Context, app string, page []store.Receipt) (string, error)
	ApplyReceiptPage(ctx context.Context, app string, page store.SavedPage) (store.ApplyStats, error)
	SettleUnknown(ctx context.Context, job string, batch int, results []store.NumberResult) error
	ResendUnknown(ctx context.Context, job string, batch int, at time.Time) (store.RetryBatch, bool, error)
}

// ReceiptStore is what Puller needs from the store.
type ReceiptStore interface {
	Apps(ctx context.Context) ([]string, error)
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	SaveReceiptPage(ctx context.Context, app string, page []store.Receipt) (string, error)
	SavedReceiptPages(ctx context.Context, app string) ([]store.SavedPage, error)
	ApplyReceiptPage(ctx context.Context, app string, page store.SavedPage) (store.ApplyStats, error)
	MarkPull(ctx context.Context, app, owner string, at time.Time) error
	ClearPull(ctx context.Context, app, owner string) error
	TakePullMark(ctx context.Context, app string) (time.Time, bool, error)
	SuspectReceiptLoss(ctx context.Context, at time.Time) error
}

// SweepStore is what Sweeper needs from the store.
type SweepStore interface {
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	ActiveJobs(ctx context.Context) ([]string, error)
	Job(ctx context.Context, id string) (store.Job, error)
	PendingBatches(ctx context.Context, job string) ([]store.Batch, error)
	UnknownBatches(ctx context.Context, job string) ([]int, error)
	Unknowns(ctx context.Context, job string, batch int) ([]store.UnknownNumber, error)
	HaltOf(ctx context.Context, app string) (*store.Halt, error)
	Halts(ctx context.Context) ([]store.Halt, error)
}

// Store is every store method the dispatcher uses; *store.Store satisfies it.
type Store interface {
	SendStore
	ProbeStore
	ReconcileStore
	ReceiptStore
	SweepStore
}

var _ Store = (*store.Store)(nil)

// Sender sends one SendSms call (one attempt, no retries).
type Sender interface {
	SendSms(ctx context.Context, r tencentsms.SendRequest) (*tencentsms.SendResult, error)
}

// StatusPuller pulls delivery receipts of an app (a destructive read).
type StatusPuller interface {
	PullSendStatus(ctx context.Context, appID string, limit int) ([]tencentsms.Receipt, error)
}

// PhoneStatusPuller queries the receipts of one number over a time window (non-destructive).
type PhoneStatusPuller interface {
	PullSendStatusByPhoneNumber(ctx context.Context, r tencentsms.PullByPhoneRequest) ([]tencentsms.Receipt, error)
}

var (
	_ Sender            = (*tencentsms.Client)(nil)
	_ StatusPuller      = (*tencentsms.Client)(nil)
	_ PhoneStatusPuller = (*tencentsms.Client)(nil)
)

// Limiter is a rate limiter shared by every worker (see package ratelimit). Wait blocks until one
// call is allowed or ctx ends.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Enqueuer enqueues the dispatcher's tasks; *tasks.Enqueuer is the one to use. A TaskID held by a
// live task is reported as tasks.Duplicate (the dispatcher reads it as "already queued"); one held
// by an archived or completed task is replaced (tasks.Replaced).
type Enqueuer interface {
	Enqueue(ctx context.Context, task *tasks.Task, opts ...asynq.Option) (tasks.Outcome, error)
}

var _ Enqueuer = (*tasks.Enqueuer)(nil)
