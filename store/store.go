package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned when a job (or one of its batches) does not exist: never created, not
// fully created yet, or expired Options.Retention after it settled.
var ErrNotFound = errors.New("store: job not found")

// ErrInvalid is wrapped by every error about bad input (an empty or malformed job id, a number
// that is not E.164, a batch of 0 or more than 200 numbers, ...). The message names what is wrong.
var ErrInvalid = errors.New("store: invalid input")

// ErrNotHalted is returned by Park when the app is no longer halted (Resume ran in between): the
// batch was not parked, so the caller must run it (returning the error to asynq retries the task).
var ErrNotHalted = errors.New("store: app is not halted")

// ErrCreateConflict is returned by CreateJob when another producer took over the creation of the
// same job id while this one was writing it. Retrying CreateJob returns created=false once the
// other producer has finished.
var ErrCreateConflict = errors.New("store: job is being created by another producer")

// MaxBatchSize is the largest number of recipients in one batch (Tencent's SendSms limit).
const MaxBatchSize = 200

// maxIDLen bounds job ids, app ids and lease names (they are embedded in keys).
const maxIDLen = 128

// Default option values. store owns them; worker aliases them (worker.DefaultRetention and so on).
const (
	// DefaultRetention is the default of Options.Retention.
	DefaultRetention = 72 * time.Hour
	// DefaultClaimLease is the default of Options.ClaimLease.
	DefaultClaimLease = 60 * time.Second
	// DefaultReceiptWindow is the default of Options.ReceiptWindow.
	DefaultReceiptWindow = time.Hour
)

// Options configures a Store. Zero (and negative) durations take their Default constant.
type Options struct {
	// Retention is how long a job's keys are kept once it has settled (none expires before), and
	// the TTL of serial index entries and receipt records. Default DefaultRetention (72 h).
	Retention time.Duration
	// ClaimLease is how long an in-flight claim is honoured; a claim older than this without a
	// commit means the attempt died, and its numbers become unknown. Default DefaultClaimLease
	// (60 s).
	ClaimLease time.Duration
	// ReceiptWindow is how long after the last send numbers without a receipt still keep the job
	// open; after it they count as sent with an unknown delivery, so the job can be done.
	// Default DefaultReceiptWindow (1 h).
	ReceiptWindow time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// withDefaults returns o with every zero or negative duration set to its Default constant and a
// nil Now set to time.Now. Options has nothing to validate: every value is usable.
func (o Options) withDefaults() Options {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.ClaimLease <= 0 {
		o.ClaimLease = DefaultClaimLease
	}
	if o.ReceiptWindow <= 0 {
		o.ReceiptWindow = DefaultReceiptWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store reads and writes smsdispatch's records in Redis. It is safe for concurrent use.
type Store struct {
	rdb  redis.UniversalClient
	opts Options
}

// New returns a Store over rdb (a *redis.Client or *redis.ClusterClient). It does not take
// ownership of rdb: the caller closes it.
func New(rdb redis.UniversalClient, opts Options) *Store {
	return &Store{rdb: rdb, opts: opts.withDefaults()}
}

func (s *Store) now() time.Time { return s.opts.Now() }

// retentionArg is the TTL argument (ms) scripts extend written keys that expire to (saturating).
func (s *Store) retentionArg() string { return ttlMs(s.opts.Retention) }

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// checkID validates an id that becomes part of a key (job id, app id, lease name). what names it
// in the error.
func checkID(what, id string) error {
	if id == "" {
		return invalidf("empty %s", what)
	}
	if len(id) > maxIDLen {
		return invalidf("%s %.32q... is longer than %d bytes", what, id, maxIDLen)
	}
	if !utf8.ValidString(id) {
		return invalidf("%s %q is not valid UTF-8", what, id)
	}
	for _, r := range id {
		switch {
		case r == '{' || r == '}':
			return invalidf("%s %q contains %q, which would break the Redis hash tag", what, id, r)
		case r == '|':
			return invalidf("%s %q contains '|', the separator of serial and session references", what, id)
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return invalidf("%s %q contains whitespace or a control character", what, id)
		}
	}
	return nil
}

func checkJobBatch(job string, batch int) error {
	if err := checkID("job id", job); err != nil {
		return err
	}
	if batch < 0 {
		return invalidf("job %s: negative batch index %d", job, batch)
	}
	return nil
}

// msOf encodes a time as unix milliseconds, the zero time as 0.
func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// timeOf decodes msOf.
func timeOf(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func parseMs(s string) time.Time {
	v, _ := strconv.ParseInt(s, 10, 64)
	return timeOf(v)
}

func parseInt(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// reply helpers for script results.
func replySlice(v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("store: unexpected script reply %T", v)
	}
	return a, nil
}

func replyInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		return parseInt(x)
	}
	return 0
}

func replyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// splitRef parses "<job>|<batch>|<n>" (serial index values and SessionContext).
func splitRef(v string) (job string, batch, n int, ok bool) {
	parts := strings.Split(v, "|")
	if len(parts) != 3 || checkID("job id", parts[0]) != nil {
		return "", 0, 0, false
	}
	b, err1 := strconv.Atoi(parts[1])
	x, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || b < 0 || x < 0 {
		return "", 0, 0, false
	}
	return parts[0], b, x, true
}

// SessionContext returns the SessionContext the dispatcher sends to Tencent for an attempt:
// "<job>|<batch>|<attempt>". ApplyReceiptPage matches receipts carrying it.
func SessionContext(job string, batch, attempt int) string {
	return job + "|" + strconv.Itoa(batch) + "|" + strconv.Itoa(attempt)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// newToken returns a random 128-bit hex token (creation nonces, receipt page ids).
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
