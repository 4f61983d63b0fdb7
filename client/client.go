// Package client is the Go API applications use to send SMS jobs through smsdispatch: Send
// validates a request, normalises and batches its recipients (package recipients), writes the job
// to Redis (package store) and enqueues one small asynq task per batch for the workers; Status,
// Wait, Cancel and Resume follow and steer jobs. The `enqueue` command is a thin shell over it.
//
// A Client shares one go-redis client between its store and its asynq client; it never closes
// it. It is safe for concurrent use.
package client

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

// Defaults of Options and Request.
const (
	DefaultOTPExpire          = 10 * time.Minute
	DefaultEnqueueConcurrency = 16
	DefaultEnqueueAttempts    = 3
	DefaultRejectedSample     = 1000
	MaxJobIDLen               = 128
)

// Options configure a Client. Zero fields take the defaults.
type Options struct {
	// Defaults for requests that leave the field empty.
	AppID, SignName, SenderID, ExtendCode string
	// Country is the default region for numbers without '+' (default "CN").
	Country string
	// Store configures the store (retention, claim lease, receipt window, clock).
	Store store.Options
	// Logger receives one line per job created and enqueue problems; nil logs nothing.
	Logger *zap.Logger
	// MaxBatch is the most numbers per batch (default 200; smaller only for tests).
	MaxBatch int
	// EnqueueConcurrency is how many goroutines enqueue a job's batch tasks (default 16).
	EnqueueConcurrency int
	// EnqueueAttempts is how many times one task enqueue is tried before giving up (default 3).
	EnqueueAttempts int
	// RejectedSample is how many rejected lines Result.Rejected keeps (default 1000); every one
	// is counted, and every one goes to Request.OnReject.
	RejectedSample int
	// MaxRecipients bounds the valid unique numbers of one job (default 10,000,000).
	MaxRecipients int
}

// Client sends and steers SMS jobs.
type Client struct {
	opts  Options
	store *store.Store
	enq   *tasks.Enqueuer
	log   *zap.Logger
	now   func() time.Time
}

// New returns a Client over rdb (a *redis.Client or *redis.ClusterClient), which it shares between
// the store and asynq and never closes. It fails for an unknown Options.Country.
func New(rdb redis.UniversalClient, opts Options) (*Client, error) {
	if rdb == nil {
		return nil, errors.New("client: nil redis client")
	}
	opts.Country = strings.ToUpper(strings.TrimSpace(opts.Country))
	if opts.Country == "" {
		opts.Country = recipients.DefaultRegion
	}
	if !recipients.ValidRegion(opts.Country) {
		return nil, fmt.Errorf("client: Options.Country %q is not a known region code", opts.Country)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = recipients.DefaultMaxBatch
	}
	if opts.MaxBatch > store.MaxBatchSize {
		return nil, fmt.Errorf("client: Options.MaxBatch %d is over %d", opts.MaxBatch, store.MaxBatchSize)
	}
	if opts.EnqueueConcurrency <= 0 {
		opts.EnqueueConcurrency = DefaultEnqueueConcurrency
	}
	if opts.EnqueueAttempts <= 0 {
		opts.EnqueueAttempts = DefaultEnqueueAttempts
	}
	if opts.RejectedSample <= 0 {
		opts.RejectedSample = DefaultRejectedSample
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := opts.Store.Now
	if now == nil {
		now = time.Now
	}
	return &Client{
		opts:  opts,
		store: store.New(rdb, opts.Store),
		enq:   tasks.NewEnqueuer(rdb),
		log:   log.Named("client"),
		now:   now,
	}, nil
}

// Store returns the client's store (for callers that need more than Status).
func (c *Client) Store() *store.Store { return c.store }

// Recipient is one recipient: a number in any common notation and, optionally, its own template
// params, which replace Request.Params for that number.
type Recipient = recipients.Recipient

// LineError is a rejected recipient: its line (or 1-based position in Request.Recipients), the
// input, and the reason.
type LineError = recipients.LineError

// Request is one send job.
type Request struct {
	// JobID is optional. When set, sending the same id again returns the existing job and sends
	// nothing new. 1..128 characters from A-Z a-z 0-9 - _ . ~
	JobID string
	// TemplateID is the Tencent template id (digits). Required.
	TemplateID string
	// Params are the template params of recipients that carry none of their own.
	Params []string
	// SignName, AppID, SenderID, ExtendCode default to the Options' values. AppID (the
	// SmsSdkAppId, digits) is required one way or the other.
	SignName, AppID, SenderID, ExtendCode string
	// Priority is "otp", "normal" (default) or "bulk".
	Priority string
	// SendAt schedules the job; zero or past means now.
	SendAt time.Time
	// Expire is how long after the request numbers not yet sent are given up (failed with code
	// "Expired"). Zero means the default: 10 minutes for otp, never otherwise. Negative is an error.
	Expire time.Duration
	// DeferDailyLimit asks the workers to defer, rather than fail, numbers that hit Tencent's
	// daily per-number limit.
	DeferDailyLimit bool
	// Country is the region of numbers without '+' (default Options.Country).
	Country string
	// Recipients and/or Reader give the recipients. Reader holds CSV lines: NUMBER or
	// NUMBER,PARAM1,PARAM2,... ; blank lines and # comments are skipped.
	Recipients []Recipient
	Reader     io.Reader
	// OnReject, when set, is called for every rejected line or recipient, in order.
	OnReject func(LineError)
}

// Result is the outcome of Send.
type Result struct {
	JobID    string
	Created  bool // false: a job with this id already existed; nothing new was sent
	Accepted int  // valid unique recipients (the existing job's total when Created is false)
	// Duplicates counts valid numbers dropped because the job already had them.
	Duplicates int
	// Rejected holds the first Options.RejectedSample rejected lines; RejectedCount counts all.
	Rejected      []LineError
	RejectedCount int
	Batches       int // batch tasks of the job
}

// ErrInvalidRequest is matched (errors.Is) by every *FieldError.
var ErrInvalidRequest = errors.New("client: invalid request")

// FieldError is a request validation error naming the offending field of Request.
type FieldError struct {
	Field  string // Request field name: "TemplateID", "Priority", "Expire", "SendAt", "JobID", ...
	Reason string
}

func (e *FieldError) Error() string { return "client: invalid request: " + e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalidRequest.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidRequest }

// ErrNotEnqueued is wrapped by Send's and Resume's error when the job (or resumed batches) is
// stored but some batch tasks could not be enqueued. Nothing is lost: the worker's sweeper
// enqueues the pending batches of active jobs.
var ErrNotEnqueued = errors.New("stored, but not every batch task could be enqueued; the worker's sweeper will enqueue the rest")

// jobIDEncoding is lower-case base32 without padding: ids never start with '-' (which a command
// line would take for a flag) and read well aloud.
var jobIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewJobID returns a random job id: 24 characters from a-z and 2-7 (120 random bits).
func NewJobID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return jobIDEncoding.EncodeToString(b[:])
}

// ValidJobID reports why id cannot be a job id, or nil.
func ValidJobID(id string) error {
	if id == "" {
		return errors.New("empty")
	}
	if len(id) > MaxJobIDLen {
		return fmt.Errorf("longer than %d characters", MaxJobIDLen)
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			return fmt.Errorf("%q: only A-Z a-z 0-9 - _ . ~ are allowed", id)
		}
	}
	return nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// job validates req and returns the job it describes (ID generated when empty) and its region.
func (c *Client) job(req Request, now time.Time) (store.Job, string, error) {
	bad := func(field, format string, args ...any) (store.Job, string, error) {
		return store.Job{}, "", &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	job := store.Job{
		ID:              req.JobID,
		AppID:           orDefault(req.AppID, c.opts.AppID),
		SignName:        orDefault(req.SignName, c.opts.SignName),
		TemplateID:      strings.TrimSpace(req.TemplateID),
		SenderID:        orDefault(req.SenderID, c.opts.SenderID),
		ExtendCode:      orDefault(req.ExtendCode, c.opts.ExtendCode),
		Priority:        orDefault(req.Priority, tasks.PriorityNormal),
		CreatedAt:       now,
		DeferDailyLimit: req.DeferDailyLimit,
	}
	if job.ID == "" {
		job.ID = NewJobID()
	} else if err := ValidJobID(job.ID); err != nil {
		return bad("JobID", "%v", err)
	}
	switch {
	case job.TemplateID == "":
		return bad("TemplateID", "required")
	case !digitsOnly(job.TemplateID) || len(job.TemplateID) > 20:
		return bad("TemplateID", "%q is not a Tencent template id (digits)", req.TemplateID)
	}
	switch {
	case job.AppID == "":
		return bad("AppID", "required (the SmsSdkAppId; set Request.AppID or Options.AppID)")
	case !digitsOnly(job.AppID) || len(job.AppID) > 20:
		return bad("AppID", "%q is not a numeric SmsSdkAppId", job.AppID)
	}
	if job.ExtendCode != "" && !digitsOnly(job.ExtendCode) {
		return bad("ExtendCode", "%q is not digits", job.ExtendCode)
	}
	if _, err := tasks.QueueFor(job.Priority); err != nil {
		return bad("Priority", "%q is not otp, normal or bulk", req.Priority)
	}
	expire := req.Expire
	switch {
	case expire < 0:
		return bad("Expire", "%v is not > 0", expire)
	case expire == 0 && job.Priority == tasks.PriorityOTP:
		expire = DefaultOTPExpire
	}
	if expire > 0 {
		job.ExpiresAt = now.Add(expire)
	}
	if req.SendAt.After(now) {
		job.SendAt = req.SendAt
		if !job.ExpiresAt.IsZero() && !job.SendAt.Before(job.ExpiresAt) {
			return bad("SendAt", "%s is not before the job expires (%s, Expire %v from now)",
				job.SendAt.Format(time.RFC3339), job.ExpiresAt.Format(time.RFC3339), expire)
		}
	}
	region := strings.ToUpper(strings.TrimSpace(orDefault(req.Country, c.opts.Country)))
	if !recipients.ValidRegion(region) {
		return bad("Country", "%q is not a known region code (e.g. CN, US)", req.Country)
	}
	if len(req.Recipients) == 0 && req.Reader == nil {
		return bad("Recipients", "no recipients (set Recipients or Reader)")
	}
	return job, region, nil
}

func orDefault(a, b string) string {
	if a = strings.TrimSpace(a); a != "" {
		return a
	}
	return strings.TrimSpace(b)
}

// Send validates req, builds its batches, stores the job and enqueues one task per batch.
//
// When req.JobID names a job that already exists, Send returns it with Created=false and sends
// nothing new (req's recipients are not read). When no recipient is valid, Send returns a
// *FieldError for "Recipients" together with a Result listing the rejections. When the job was
// stored but not every task could be enqueued, the error wraps ErrNotEnqueued and the Result is
// complete: the job will still be sent in full.
func (c *Client) Send(ctx context.Context, req Request) (Result, error) {
	job, region, err := c.job(req, c.now())
	if err != nil {
		return Result{}, err
	}
	if req.JobID != "" {
		if res, ok, err := c.existing(ctx, job.ID); err != nil || ok {
			return res, err
		}
	}

	res := Result{JobID: job.ID}
	b, err := recipients.NewBuilder(recipients.Options{
		Region: region, Params: req.Params, MaxBatch: c.opts.MaxBatch, MaxRecipients: c.opts.MaxRecipients,
	})
	if err != nil {
		return Result{}, fmt.Errorf("client: %w", err)
	}
	onErr := func(le LineError) {
		res.RejectedCount++
		if len(res.Rejected) < c.opts.RejectedSample {
			res.Rejected = append(res.Rejected, le)
		}
		if req.OnReject != nil {
			req.OnReject(le)
		}
	}
	if len(req.Recipients) > 0 {
		if err := b.AddRecipients(ctx, req.Recipients, onErr); err != nil {
			return res, recipientsErr(err)
		}
	}
	if req.Reader != nil {
		if err := b.AddCSV(ctx, req.Reader, onErr); err != nil {
			return res, recipientsErr(err)
		}
	}
	stats := b.Stats()
	res.Duplicates = stats.Duplicates
	if stats.Accepted == 0 {
		return res, &FieldError{Field: "Recipients", Reason: fmt.Sprintf("no valid recipients (%d rejected, %d duplicates)", stats.Rejected, stats.Duplicates)}
	}
	set := b.Finish()
	nbatches := set.NumBatches()
	created, err := c.createJob(ctx, job, set, stats.Rejected)
	switch {
	case errors.Is(err, store.ErrCreateConflict):
		// Another producer is creating the same job id right now; it enqueues the batches.
		return Result{JobID: job.ID, Created: false, Accepted: stats.Accepted, Batches: nbatches}, nil
	case err != nil:
		return res, fmt.Errorf("client: create job %s: %w", job.ID, err)
	case !created:
		existing, _, err := c.existing(ctx, job.ID)
		existing.JobID = job.ID
		return existing, err
	}
	res.Created, res.Accepted, res.Batches = true, stats.Accepted, nbatches
	c.log.Info("job created", zap.String("job", job.ID), zap.String("priority", job.Priority),
		zap.Int("accepted", stats.Accepted), zap.Int("rejected", stats.Rejected),
		zap.Int("duplicates", stats.Duplicates), zap.Int("batches", nbatches))

	refs := func(i int) (store.Job, int) { return job, i }
	if failed, err := c.enqueueAll(ctx, res.Batches, refs); err != nil {
		return res, fmt.Errorf("client: job %s %w (%d of %d batches not enqueued): %w", job.ID, ErrNotEnqueued, failed, res.Batches, err)
	}
	return res, nil
}

// createJob writes the job and the batches of set to the store, streaming them packed: one
// pipeline chunk of batches at a time, no E.164 strings built.
func (c *Client) createJob(ctx context.Context, job store.Job, set *recipients.Set, rejected int) (bool, error) {
	var buf []uint64 // the store keeps nothing between calls: one buffer serves every batch
	return c.store.CreateJobStream(ctx, job, set.ParamSets(), set.NumBatches(), func(i int) (store.NewBatch, error) {
		b := set.PackedBatch(i, buf)
		buf = b.Packed
		return store.NewBatch(b), nil
	}, rejected)
}

// existing returns the Result of an existing job, ok=false when there is none.
func (c *Client) existing(ctx context.Context, id string) (Result, bool, error) {
	st, err := c.store.Status(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Result{}, false, nil
	case err != nil:
		return Result{}, false, fmt.Errorf("client: look up job %s: %w", id, err)
	}
	return Result{JobID: id, Created: false, Accepted: int(st.Total), RejectedCount: int(st.Rejected), Batches: int(st.Batches)}, true, nil
}

func recipientsErr(err error) error {
	if errors.Is(err, recipients.ErrTooMany) {
		return &FieldError{Field: "Recipients", Reason: err.Error()}
	}
	return fmt.Errorf("client: read recipients: %w", err)
}

// Status returns a job's counters and state; the error wraps store.ErrNotFound for an unknown
// (or expired) job.
func (c *Client) Status(ctx context.Context, jobID string) (store.Status, error) {
	st, err := c.store.Status(ctx, jobID)
	if err != nil {
		return store.Status{}, fmt.Errorf("client: status of %s: %w", jobID, err)
	}
	return st, nil
}

// Cancel stops a job's batches that are not sent yet (in-flight ones finish) and returns the
// resulting status.
func (c *Client) Cancel(ctx context.Context, jobID string) (store.Status, error) {
	st, err := c.store.Cancel(ctx, jobID)
	if err != nil {
		return store.Status{}, fmt.Errorf("client: cancel %s: %w", jobID, err)
	}
	c.log.Info("job cancelled", zap.String("job", jobID), zap.Int64("cancelled", st.Cancelled))
	return st, nil
}

// Settled reports whether a job's state is final (done, partial, failed or cancelled: see
// store.JobState), so it needs nothing more.
func Settled(st store.Status) bool {
	return st.State.Final()
}

// Wait polls the job's status every interval (default 1 s), calling fn (when not nil) with each,
// until the job settles (see Settled) or ctx ends; it returns the last status.
func (c *Client) Wait(ctx context.Context, jobID string, every time.Duration, fn func(store.Status)) (store.Status, error) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := c.Status(ctx, jobID)
		if err != nil {
			return st, err
		}
		if fn != nil {
			fn(st)
		}
		if Settled(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-t.C:
		}
	}
}

// Resume ends the halt of app at once and re-enqueues every batch parked by it; it returns how
// many batches were restarted. An empty appID resumes every halted app.
func (c *Client) Resume(ctx context.Context, appID string) (int, error) {
	apps := []string{appID}
	if appID == "" {
		halts, err := c.store.Halts(ctx)
		if err != nil {
			return 0, fmt.Errorf("client: list halts: %w", err)
		}
		apps = apps[:0]
		for _, h := range halts {
			apps = append(apps, h.App)
		}
	}
	var refs []store.BatchRef
	for _, app := range apps {
		r, err := c.store.Resume(ctx, app)
		if err != nil {
			return 0, fmt.Errorf("client: resume %s: %w", app, err)
		}
		c.log.Info("app resumed", zap.String("app", app), zap.Int("parked_batches", len(r)))
		refs = append(refs, r...)
	}
	jobs := map[string]store.Job{}
	var todo []store.BatchRef
	for _, r := range refs {
		if _, ok := jobs[r.Job]; !ok {
			job, err := c.store.Job(ctx, r.Job)
			if errors.Is(err, store.ErrNotFound) {
				continue // expired meanwhile: nothing to send
			}
			if err != nil {
				return 0, fmt.Errorf("client: resume: job %s: %w", r.Job, err)
			}
			jobs[r.Job] = job
		}
		todo = append(todo, r)
	}
	failed, err := c.enqueueAll(ctx, len(todo), func(i int) (store.Job, int) { return jobs[todo[i].Job], todo[i].Batch })
	if err != nil {
		return len(todo) - failed, fmt.Errorf("client: resume: %w (%d of %d batches not enqueued): %w", ErrNotEnqueued, failed, len(todo), err)
	}
	return len(todo), nil
}
