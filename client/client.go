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
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	// MaxSendAhead is how far ahead Request.SendAt may be: a year. A job scheduled further out is
	// more likely a typo (2500 for 2025) than a plan, and its records would have to outlive it.
	MaxSendAhead = 365 * 24 * time.Hour
	// MaxExpire is the longest Request.Expire: MaxSendAhead plus 30 days, so a job scheduled at
	// the far end of MaxSendAhead can still be given an expiry after its send time.
	MaxExpire = MaxSendAhead + 30*24*time.Hour
)

// Options configure a Client. Zero (and negative) fields take their defaults.
type Options struct {
	// Defaults for requests that leave the field empty.
	AppID, SignName, SenderID, ExtendCode string
	// Country is the default region for numbers without '+' (a region code, any case). Default
	// recipients.DefaultRegion ("CN").
	Country string
	// Store configures the store (retention, claim lease, receipt window, clock); its zero
	// fields take the store's defaults.
	Store store.Options
	// Logger receives one line per job created and enqueue problems; nil logs nothing.
	Logger *zap.Logger
	// MaxBatch is the most numbers per batch, at most store.MaxBatchSize (smaller only for
	// tests). Default recipients.DefaultMaxBatch (200).
	MaxBatch int
	// EnqueueConcurrency is how many goroutines enqueue a job's batch tasks. Default
	// DefaultEnqueueConcurrency (16).
	EnqueueConcurrency int
	// EnqueueAttempts is how many times one task enqueue is tried before giving up. Default
	// DefaultEnqueueAttempts (3).
	EnqueueAttempts int
	// RejectedSample is how many rejected lines Result.Rejected keeps; every one is counted,
	// and every one goes to Request.OnReject. Default DefaultRejectedSample (1000).
	RejectedSample int
	// MaxRecipients bounds the valid unique numbers of one job. Default
	// recipients.DefaultMaxRecipients (10,000,000).
	MaxRecipients int
	// Templates, when set, checks each new job's template before Send stores it (see
	// TemplateChecker); a job it refuses fails with a *TemplateError. nil checks nothing.
	Templates TemplateChecker
}

// withDefaults returns o with Country normalised (trimmed, upper case) and every empty, zero or
// negative field set to its default.
func (o Options) withDefaults() Options {
	o.Country = strings.ToUpper(strings.TrimSpace(o.Country))
	if o.Country == "" {
		o.Country = recipients.DefaultRegion
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = recipients.DefaultMaxBatch
	}
	if o.EnqueueConcurrency <= 0 {
		o.EnqueueConcurrency = DefaultEnqueueConcurrency
	}
	if o.EnqueueAttempts <= 0 {
		o.EnqueueAttempts = DefaultEnqueueAttempts
	}
	if o.RejectedSample <= 0 {
		o.RejectedSample = DefaultRejectedSample
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = recipients.DefaultMaxRecipients
	}
	return o
}

// validate reports the first bad field of o, which must have its defaults (withDefaults): an
// unknown Country or a MaxBatch over store.MaxBatchSize.
func (o Options) validate() error {
	if !recipients.ValidRegion(o.Country) {
		return fmt.Errorf("client: Options.Country %q is not a known region code", o.Country)
	}
	if o.MaxBatch > store.MaxBatchSize {
		return fmt.Errorf("client: Options.MaxBatch %d is over %d", o.MaxBatch, store.MaxBatchSize)
	}
	return nil
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
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
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
	// JobID is optional: an idempotency key. When set, sending the same id again with the same
	// request returns the existing job and sends nothing new; with a different request (another
	// template, params, sign, app, sender, extend code, priority, send time, expiry, daily-limit
	// choice, send window or set of recipients) Send fails with an *IdempotencyError naming the
	// differences. 1..128 characters from A-Z a-z 0-9 - _ . ~
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
	// SendAt schedules the job; zero or past means now. At most MaxSendAhead ahead.
	SendAt time.Time
	// Expire is how long after the request numbers not yet sent are given up (failed with code
	// "Expired"). Zero means the default: 10 minutes for otp, never otherwise. Negative or over
	// MaxExpire is an error.
	Expire time.Duration
	// DeferDailyLimit asks the workers to defer, rather than fail, numbers that hit Tencent's
	// daily per-number limit.
	DeferDailyLimit bool
	// Window limits sending to a time of day, "HH:MM-HH:MM" on a 24-hour clock in TimeZone
	// (08:00-22:00; 22:00-06:00 wraps midnight): outside it batches wait, spending no retries.
	// Empty means none, except for marketing templates (TemplateType), which get the regulated
	// 08:00-22:00 Beijing time. otp jobs ignore windows.
	Window string
	// TimeZone is the IANA zone of Window; default store.BeijingTZ ("Asia/Shanghai", Beijing
	// time). Setting it without Window is an error.
	TimeZone string
	// TemplateType is the template's type, "otp", "notification" or "marketing" ("" when not
	// known); a marketing job without Window gets store.MarketingWindow.
	TemplateType string
	// Country is the region of numbers without '+' (default Options.Country).
	Country string
	// Recipients and/or Reader give the recipients. Reader holds CSV lines: NUMBER or
	// NUMBER,PARAM1,PARAM2,... ; blank lines and # comments are skipped.
	Recipients []Recipient
	Reader     io.Reader
	// Encoding is the encoding of Reader: "" or "utf-8" (default), or "gb18030" (also "gbk": a
	// CSV saved by Excel on a Chinese Windows); see recipients.CanonicalEncoding. A byte order
	// mark decides over it. When any line of Reader (or any entry of Recipients) is not valid
	// text in its encoding, Send sends nothing and fails with a *FieldError for "Encoding": the
	// input is in another encoding, and its other lines cannot be trusted either.
	Encoding string
	// OnReject, when set, is called for every rejected line or recipient, in order.
	OnReject func(LineError)
	// CallbackURL, when set, is an absolute http or https URL (at most MaxCallbackURL bytes) that
	// receives a completion webhook when the job settles (see the worker's webhook delivery).
	CallbackURL string
}

// MaxCallbackURL is the longest Request.CallbackURL accepted, in bytes.
const MaxCallbackURL = 2048

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
	Field  string // Request field name: "TemplateID", "Priority", "Expire", "SendAt", "JobID", "Encoding", "Window", ...
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

// spec is a validated request: the job it describes and what building its recipients needs.
type spec struct {
	job      store.Job
	region   string
	encoding string
	expire   time.Duration // after defaults; 0 = never
}

// job validates req and returns the job it describes (ID generated when empty).
func (c *Client) job(req Request, now time.Time) (spec, error) {
	bad := func(field, format string, args ...any) (spec, error) {
		return spec{}, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
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
	if !utf8.ValidString(job.SignName) {
		return bad("SignName", "%q is not valid UTF-8", job.SignName)
	}
	for i, p := range req.Params {
		if !utf8.ValidString(p) {
			return bad("Params", "param %d %q is not valid UTF-8", i+1, p)
		}
	}
	if _, err := tasks.QueueFor(job.Priority); err != nil {
		return bad("Priority", "%q is not otp, normal or bulk", req.Priority)
	}
	expire := req.Expire
	switch {
	case expire < 0:
		return bad("Expire", "%v is not > 0", expire)
	case expire > MaxExpire:
		return bad("Expire", "%v is longer than %v (MaxExpire: MaxSendAhead plus 30 days)", expire, MaxExpire)
	case expire == 0 && job.Priority == tasks.PriorityOTP:
		expire = DefaultOTPExpire
	}
	if expire > 0 {
		job.ExpiresAt = now.Add(expire)
	}
	if req.SendAt.After(now.Add(MaxSendAhead)) {
		return bad("SendAt", "%s is more than a year ahead (MaxSendAhead %v: at most %s)",
			req.SendAt.Format(time.RFC3339), MaxSendAhead, now.Add(MaxSendAhead).Format(time.RFC3339))
	}
	if req.SendAt.After(now) {
		job.SendAt = req.SendAt
		if !job.ExpiresAt.IsZero() && !job.SendAt.Before(job.ExpiresAt) {
			return bad("SendAt", "%s is not before the job expires (%s, Expire %v from now)",
				job.SendAt.Format(time.RFC3339), job.ExpiresAt.Format(time.RFC3339), expire)
		}
	}
	if err := applyWindow(&job, req); err != nil {
		return spec{}, err
	}
	region := strings.ToUpper(strings.TrimSpace(orDefault(req.Country, c.opts.Country)))
	if !recipients.ValidRegion(region) {
		return bad("Country", "%q is not a known region code (e.g. CN, US)", req.Country)
	}
	encoding, err := recipients.CanonicalEncoding(req.Encoding)
	if err != nil {
		return bad("Encoding", "%q is not utf-8 or gb18030", req.Encoding)
	}
	if req.CallbackURL != "" {
		if err := validCallbackURL(req.CallbackURL); err != nil {
			return bad("CallbackURL", "%v", err)
		}
	}
	if len(req.Recipients) == 0 && req.Reader == nil {
		return bad("Recipients", "no recipients (set Recipients or Reader)")
	}
	return spec{job: job, region: region, encoding: encoding, expire: expire}, nil
}

// validCallbackURL reports why u is not a usable webhook URL: absolute http or https with a
// host, no user info (a secret in a URL is logged by proxies), at most MaxCallbackURL bytes.
func validCallbackURL(u string) error {
	if len(u) > MaxCallbackURL {
		return fmt.Errorf("%d bytes, longer than %d", len(u), MaxCallbackURL)
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", u)
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Errorf("%q is not an http or https URL", u)
	case p.Host == "":
		return fmt.Errorf("%q has no host", u)
	case p.User != nil:
		return fmt.Errorf("user info in the URL is not accepted (put credentials in the path or sign with WEBHOOK_SECRET)")
	}
	return nil
}

// applyWindow validates req's Window, TimeZone and TemplateType and sets them on job (the
// marketing default comes later: see marketingDefault).
func applyWindow(job *store.Job, req Request) error {
	job.TemplateType = strings.ToLower(strings.TrimSpace(req.TemplateType))
	switch job.TemplateType {
	case "", store.TemplateOTP, store.TemplateNotification, store.TemplateMarketing:
	default:
		return &FieldError{Field: "TemplateType", Reason: fmt.Sprintf("%q is not otp, notification or marketing", req.TemplateType)}
	}
	span, tz := strings.TrimSpace(req.Window), strings.TrimSpace(req.TimeZone)
	switch {
	case span == "" && tz != "":
		return &FieldError{Field: "TimeZone", Reason: fmt.Sprintf("%q given without a Window", req.TimeZone)}
	case span != "":
		if tz == "" {
			tz = store.BeijingTZ
		}
		if err := store.CheckTimeZone(tz); err != nil {
			return &FieldError{Field: "TimeZone", Reason: fmt.Sprintf("%q is not an IANA time zone name such as %s", req.TimeZone, store.BeijingTZ)}
		}
		w, err := store.ParseWindow(span, tz)
		if err != nil {
			return &FieldError{Field: "Window", Reason: fmt.Sprintf("%q is not HH:MM-HH:MM on a 24-hour clock with different ends, such as 08:00-22:00", req.Window)}
		}
		job.Window = w
	}
	return nil
}

// marketingDefault gives a marketing job that has no window the regulated store.MarketingWindow
// (08:00-22:00 Beijing time). otp jobs get none: they ignore windows. Send applies it once the
// job's TemplateType is final, before the job is fingerprinted and stored.
func marketingDefault(job *store.Job) {
	if job.Window.IsZero() && job.TemplateType == store.TemplateMarketing && job.Priority != tasks.PriorityOTP {
		job.Window = store.MarketingWindow
	}
}

// count renders n things: "1 such line", "3 such lines".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func orDefault(a, b string) string {
	if a = strings.TrimSpace(a); a != "" {
		return a
	}
	return strings.TrimSpace(b)
}

// Send validates req, builds its batches, stores the job and enqueues one task per batch.
//
// When req.JobID names a job that already exists, Send reads req's recipients and compares the
// request with the one that created the job (see Request.JobID): the same request returns the
// job with Created=false and sends nothing new; a different one returns an *IdempotencyError
// (errors.Is ErrIdempotencyMismatch) naming the differences. A job created before requests were
// fingerprinted is returned as it is, without reading req's recipients.
//
// When no recipient is valid, Send returns a *FieldError for "Recipients" together with a Result
// listing the rejections; when some input is not valid text in its encoding, a *FieldError for
// "Encoding" (nothing is sent). When the job was stored but not every task could be enqueued, the
// error wraps ErrNotEnqueued and the Result is complete: the job will still be sent in full.
func (c *Client) Send(ctx context.Context, req Request) (Result, error) {
	sp, err := c.job(req, c.now())
	if err != nil {
		return Result{}, err
	}
	job := sp.job
	var prior *existingJob // the job req.JobID names, when it exists
	if req.JobID != "" {
		ej, ok, err := c.existing(ctx, job.ID)
		switch {
		case err != nil:
			return Result{}, err
		case ok && ej.fp == nil:
			return ej.res, nil // created before fingerprints: as before, nothing compared
		case ok:
			prior = &ej
		}
	}

	var tpl *Template // the job's template, when checked
	if c.opts.Templates != nil && prior == nil {
		t, err := c.lookupTemplate(ctx, job.AppID, job.TemplateID)
		if err != nil {
			return Result{}, err
		}
		tpl = &t
		if job.TemplateType == "" {
			job.TemplateType = t.Type // "" when the checker does not know it
		}
	}

	res := Result{JobID: job.ID}
	b, err := recipients.NewBuilder(recipients.Options{
		Region: sp.region, Params: req.Params, MaxBatch: c.opts.MaxBatch, MaxRecipients: c.opts.MaxRecipients,
		Encoding: sp.encoding,
	})
	if err != nil {
		return Result{}, fmt.Errorf("client: %w", err)
	}
	var badText struct {
		n, first int
		reason   string
	}
	onErr := func(le LineError) {
		res.RejectedCount++
		if len(res.Rejected) < c.opts.RejectedSample {
			res.Rejected = append(res.Rejected, le)
		}
		if errors.Is(le.Err, recipients.ErrEncoding) {
			if badText.n == 0 {
				badText.first, badText.reason = le.Line, le.Reason
			}
			badText.n++
		}
		if req.OnReject != nil {
			req.OnReject(le)
		}
	}
	if len(req.Recipients) > 0 {
		if err := b.AddRecipients(ctx, req.Recipients, onErr); err != nil {
			return res, recipientsErr(err)
		}
		if badText.n > 0 {
			return res, &FieldError{Field: "Encoding", Reason: fmt.Sprintf(
				"recipient %d is %s (%s); nothing sent", badText.first, badText.reason, count(badText.n, "such recipient"))}
		}
	}
	if req.Reader != nil {
		if err := b.AddCSV(ctx, req.Reader, onErr); err != nil {
			return res, recipientsErr(err)
		}
		if badText.n > 0 {
			return res, &FieldError{Field: "Encoding", Reason: fmt.Sprintf(
				"line %d is %s (%s): the input is in another encoding; nothing sent",
				badText.first, badText.reason, count(badText.n, "such line"))}
		}
	}
	stats := b.Stats()
	res.Duplicates = stats.Duplicates
	set := b.Finish()
	marketingDefault(&job)
	fp := newFingerprint(job, req, sp.expire, set.Digest())
	if prior != nil {
		return prior.match(fp)
	}
	if stats.Accepted == 0 {
		return res, &FieldError{Field: "Recipients", Reason: fmt.Sprintf("no valid recipients (%d rejected, %d duplicates)", stats.Rejected, stats.Duplicates)}
	}
	if tpl != nil {
		if err := checkRecipients(*tpl, set); err != nil {
			return res, err
		}
	}
	job.Fingerprint = fp.encode()
	nbatches := set.NumBatches()
	created, err := c.createJob(ctx, job, set, stats.Rejected)
	switch {
	case errors.Is(err, store.ErrCreateConflict):
		// Another producer is creating the same job id right now; it enqueues the batches. Its
		// request cannot be compared until it has finished.
		return Result{JobID: job.ID, Created: false, Accepted: stats.Accepted, Batches: nbatches}, nil
	case err != nil:
		return res, fmt.Errorf("client: create job %s: %w", job.ID, err)
	case !created:
		// Created meanwhile by another producer: compare with its request.
		ej, ok, err := c.existing(ctx, job.ID)
		switch {
		case err != nil:
			return Result{JobID: job.ID}, err
		case !ok:
			return Result{JobID: job.ID}, fmt.Errorf("client: create job %s: %w (it existed a moment ago)", job.ID, store.ErrNotFound)
		case ej.fp == nil:
			return ej.res, nil
		}
		return ej.match(fp)
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

// existingJob is a job found under a requested id: its Result for Send and its request
// fingerprint (nil for a job created before fingerprints).
type existingJob struct {
	res Result
	fp  fingerprint
}

// match returns the existing job when fp is its request's fingerprint, else an
// *IdempotencyError naming the differences.
func (ej existingJob) match(fp fingerprint) (Result, error) {
	if d := ej.fp.diff(fp); len(d) > 0 {
		return Result{JobID: ej.res.JobID}, &IdempotencyError{JobID: ej.res.JobID, Differences: d}
	}
	return ej.res, nil
}

// existing returns an existing job, ok=false when there is none.
func (c *Client) existing(ctx context.Context, id string) (existingJob, bool, error) {
	job, err := c.store.Job(ctx, id)
	if err == nil {
		var st store.Status
		if st, err = c.store.Status(ctx, id); err == nil {
			fp, _ := decodeFingerprint(job.Fingerprint)
			return existingJob{fp: fp, res: Result{JobID: id, Created: false, Accepted: int(st.Total),
				RejectedCount: int(st.Rejected), Batches: int(st.Batches)}}, true, nil
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return existingJob{}, false, nil
	}
	return existingJob{}, false, fmt.Errorf("client: look up job %s: %w", id, err)
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
