package dispatcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// SuppressionAdder adds numbers to the suppression list: they are never sent again. *store.Store
// is the one to use (it is also the send path's Suppressor).
type SuppressionAdder interface {
	// Suppress adds numbers (E.164) with reason; adding a number already there is not an error.
	Suppress(ctx context.Context, numbers []string, reason string) error
}

// ReplyPuller pulls the replies of an app (a destructive read).
type ReplyPuller interface {
	PullSmsReplyStatus(ctx context.Context, appID string, limit int) ([]tencentsms.Reply, error)
}

var _ ReplyPuller = (*tencentsms.Client)(nil)

// DefaultUnsubscribeKeywords returns the replies that unsubscribe: TD, T and N (the opt-out
// hint domestic marketing templates must carry) and STOP, UNSUBSCRIBE and QUIT (Global SMS).
func DefaultUnsubscribeKeywords() []string {
	return []string{"TD", "T", "N", "STOP", "UNSUBSCRIBE", "QUIT"}
}

// Keywords matches replies against unsubscribe keywords: the whole reply, trimmed of white
// space, equal to one of them ignoring case.
type Keywords struct{ set map[string]bool }

// NewKeywords returns the matcher of words. A word must not be empty or hold white space.
func NewKeywords(words []string) (Keywords, error) {
	k := Keywords{set: make(map[string]bool, len(words))}
	for _, w := range words {
		if w == "" || strings.IndexFunc(w, isSpace) >= 0 {
			return Keywords{}, fmt.Errorf("keyword %q is empty or holds white space", w)
		}
		k.set[strings.ToUpper(w)] = true
	}
	return k, nil
}

func isSpace(r rune) bool { return strings.TrimSpace(string(r)) == "" }

// Match reports whether text is an unsubscribe keyword.
func (k Keywords) Match(text string) bool {
	return k.set[strings.ToUpper(strings.TrimSpace(text))]
}

// Reply is one SMS a recipient sent back, pulled or pushed.
type Reply struct {
	Number string // E.164
	Text   string
	Sign   string    // the sign of the message replied to
	Extend string    // the extension code, if enabled
	At     time.Time // zero if not reported
}

func fromTencentReply(r tencentsms.Reply) Reply {
	return Reply{Number: r.Number(), Text: r.Content, Sign: r.SignName, Extend: r.ExtendCode, At: r.ReplyTime}
}

// replyItem is Tencent's reply callback body: one object per reply.
type replyItem struct {
	Extend     string          `json:"extend"`
	Mobile     string          `json:"mobile"`
	NationCode string          `json:"nationcode"`
	Sign       string          `json:"sign"`
	Text       string          `json:"text"`
	Time       json.RawMessage `json:"time"`
}

// ParseReplyCallback parses the body of Tencent's reply callback: one JSON object {extend,
// mobile, nationcode, sign, text, time (unix seconds, a number or a string of digits)}, or an
// array of them. Anything else (not JSON, null, an item with a malformed number or time) is an
// error wrapping ErrMalformedCallback, and nothing of the body is returned.
func ParseReplyCallback(body []byte) ([]Reply, error) {
	b := bytes.TrimSpace(body)
	var items []replyItem
	switch {
	case len(b) > 0 && b[0] == '{':
		var it replyItem
		if err := json.Unmarshal(b, &it); err != nil {
			return nil, malformedf("%v", err)
		}
		items = []replyItem{it}
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, malformedf("%v", err)
		}
	default:
		return nil, malformedf("not a JSON object")
	}
	out := make([]Reply, len(items))
	for i, it := range items {
		number, err := callbackNumber(it.NationCode, it.Mobile)
		if err != nil {
			return nil, fmt.Errorf("reply %d: %w", i, err)
		}
		at, err := unixField(it.Time)
		if err != nil {
			return nil, fmt.Errorf("reply %d: %w", i, err)
		}
		out[i] = Reply{Number: number, Text: it.Text, Sign: it.Sign, Extend: it.Extend, At: at}
	}
	return out, nil
}

// unixField parses a callback's unix-seconds time: absent, null, 0 or "" is the zero time.
func unixField(raw json.RawMessage) (time.Time, error) {
	s := string(bytes.TrimSpace(raw))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" || s == "null" || s == "0" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 || !allDigits(s) {
		return time.Time{}, malformedf("time %.20q is not unix seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// replyHandler suppresses the numbers of unsubscribe replies and logs the others.
type replyHandler struct {
	supp     SuppressionAdder
	keywords Keywords
	log      *zap.Logger
	m        *PushMetrics
}

// newReplyHandler returns the handler of replies matched against words (nil: the defaults).
func newReplyHandler(supp SuppressionAdder, words []string, log *zap.Logger, m *PushMetrics) (*replyHandler, error) {
	if words == nil {
		words = DefaultUnsubscribeKeywords()
	}
	k, err := NewKeywords(words)
	if err != nil {
		return nil, err
	}
	return &replyHandler{supp: supp, keywords: k, log: log, m: m}, nil
}

// maxLoggedReply bounds the characters of a reply's text in the log.
const maxLoggedReply = 70

// handle suppresses the number of every unsubscribe reply, with the reply (trimmed) as the
// reason, and counts and logs the others. An error means some unsubscribe was not recorded:
// handle the same replies again (Suppress is idempotent). Metrics count a reply once, when it
// is handled.
func (h *replyHandler) handle(ctx context.Context, replies []Reply) error {
	byReason := map[string][]string{}
	var reasons []string
	var other, invalid int
	for _, r := range replies {
		if _, err := store.ParseE164(r.Number); err != nil {
			invalid++
			h.log.Warn("reply without a usable number: ignored", zap.String("number", store.MaskNumber(r.Number)))
			continue
		}
		if !h.keywords.Match(r.Text) {
			other++
			h.log.Info("reply received", zap.String("number", store.MaskNumber(r.Number)),
				zap.String("text", truncate(r.Text, maxLoggedReply)), zap.String("sign", r.Sign), zap.Time("at", r.At))
			continue
		}
		reason := strings.TrimSpace(r.Text)
		if _, ok := byReason[reason]; !ok {
			reasons = append(reasons, reason)
		}
		if !slices.Contains(byReason[reason], r.Number) {
			byReason[reason] = append(byReason[reason], r.Number)
		}
	}
	unsubscribed := 0
	for _, reason := range reasons {
		numbers := byReason[reason]
		if err := h.supp.Suppress(ctx, numbers, reason); err != nil {
			return fmt.Errorf("dispatcher: suppress %d numbers that replied %q: %w", len(numbers), reason, err)
		}
		unsubscribed += len(numbers)
		for _, n := range numbers {
			h.log.Info("number unsubscribed by reply: suppressed", zap.String("number", store.MaskNumber(n)), zap.String("reply", reason))
		}
	}
	h.m.Replies.WithLabelValues("unsubscribe").Add(float64(unsubscribed))
	h.m.Replies.WithLabelValues("other").Add(float64(other))
	h.m.Replies.WithLabelValues("invalid").Add(float64(invalid))
	return nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// ReplyStore is what ReplyLoop needs from the store.
type ReplyStore interface {
	Apps(ctx context.Context) ([]string, error)
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// Defaults of ReplyLoopConfig.
const (
	// DefaultReplyPullInterval is the default of ReplyLoopConfig.Interval.
	DefaultReplyPullInterval = DefaultPullInterval
	// DefaultReplyDisabledRecheck is the default of ReplyLoopConfig.DisabledRecheck.
	DefaultReplyDisabledRecheck = time.Hour
	// replyLease is the fleet-wide lease of the reply pull: one worker pulls every app's replies.
	replyLease = "replies"
)

// ReplyLoopConfig configures a ReplyLoop. Store, Puller, Limiter and Suppressor are required.
type ReplyLoopConfig struct {
	Store      ReplyStore
	Puller     ReplyPuller
	Suppressor SuppressionAdder
	// Limiter is the fleet-wide budget of PullSmsReplyStatus (Tencent: 100 calls/s per account),
	// a ratelimit.Limiter of its own key.
	Limiter Limiter
	// Apps are pulled on every run besides those Store.Apps returns (the worker's default app).
	Apps []string
	// Keywords are the unsubscribe keywords. Default DefaultUnsubscribeKeywords().
	Keywords    []string
	Logger      *zap.Logger  // nil: no logs
	PushMetrics *PushMetrics // nil: unregistered metrics
	// Interval is the wait between runs. Default DefaultReplyPullInterval (10 s).
	Interval time.Duration
	// LeaseTTL is how long the lease lasts without renewal. Default 3 × Interval, at least 30 s.
	LeaseTTL time.Duration
	// MaxPages bounds the pages of 100 pulled per app and run. Default DefaultMaxPages.
	MaxPages int
	// DisabledRecheck is how long an app whose pull Tencent refuses (the action is not enabled
	// for the account, or the app does not exist) is left alone. Default
	// DefaultReplyDisabledRecheck (1 h).
	DisabledRecheck time.Duration
	// Owner identifies this loop in the lease. Default: a random token.
	Owner string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (c ReplyLoopConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: ReplyLoopConfig.Store is nil")
	case c.Puller == nil:
		return errors.New("dispatcher: ReplyLoopConfig.Puller is nil")
	case c.Suppressor == nil:
		return errors.New("dispatcher: ReplyLoopConfig.Suppressor is nil")
	case c.Limiter == nil:
		return errors.New("dispatcher: ReplyLoopConfig.Limiter is nil")
	case c.Interval < 0 || c.LeaseTTL < 0 || c.MaxPages < 0 || c.DisabledRecheck < 0:
		return errors.New("dispatcher: ReplyLoopConfig durations and MaxPages must not be negative")
	}
	return nil
}

// ReplyLoop pulls replies (PullSmsReplyStatus) of every app in use, on one worker of the fleet
// at a time (lease "replies"), and suppresses the numbers that reply an unsubscribe keyword.
//
// The pull is a destructive read with no place in Redis to wait in, so pulled replies that
// cannot be handled (the suppression list does not answer) are kept in memory and handled
// first on the next run, before anything more is pulled; they are lost only if the process
// stops before that (logged).
type ReplyLoop struct {
	store    ReplyStore
	puller   ReplyPuller
	limiter  Limiter
	h        *replyHandler
	apps     []string
	log      *zap.Logger
	interval time.Duration
	leaseTTL time.Duration
	maxPages int
	recheck  time.Duration
	owner    string
	now      func() time.Time

	mu       sync.Mutex
	held     []Reply              // pulled, not handled yet
	disabled map[string]time.Time // app -> when Tencent refused its pull
}

// NewReplyLoop checks cfg, applies its defaults and returns the loop.
func NewReplyLoop(cfg ReplyLoopConfig) (*ReplyLoop, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := nopIfNil(cfg.Logger).Named("replies")
	h, err := newReplyHandler(cfg.Suppressor, cfg.Keywords, log, orNewPush(cfg.PushMetrics))
	if err != nil {
		return nil, fmt.Errorf("dispatcher: ReplyLoopConfig.Keywords: %w", err)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultReplyPullInterval
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = max(3*cfg.Interval, minPullLeaseTTL)
	}
	if cfg.MaxPages == 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	if cfg.DisabledRecheck == 0 {
		cfg.DisabledRecheck = DefaultReplyDisabledRecheck
	}
	if cfg.Owner == "" {
		cfg.Owner = newToken()
	}
	return &ReplyLoop{
		store:    cfg.Store,
		puller:   cfg.Puller,
		limiter:  cfg.Limiter,
		h:        h,
		apps:     slices.Clone(cfg.Apps),
		log:      log,
		interval: cfg.Interval,
		leaseTTL: cfg.LeaseTTL,
		maxPages: cfg.MaxPages,
		recheck:  cfg.DisabledRecheck,
		owner:    cfg.Owner,
		now:      nowOrDefault(cfg.Now),
		disabled: map[string]time.Time{},
	}, nil
}

// Run pulls every Interval while it holds the lease, until ctx ends; then it gives the lease up
// and returns nil.
func (l *ReplyLoop) Run(ctx context.Context) error {
	defer func() {
		if n := len(l.heldReplies()); n > 0 {
			l.log.Error("pulled replies lost at shutdown: they could not be handled", zap.Int("replies", n))
		}
	}()
	return leasedLoop(ctx, l.store, l.log, replyLease, l.owner, l.leaseTTL, l.interval, "reply pull", l.PullOnce)
}

func (l *ReplyLoop) heldReplies() []Reply {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// PullOnce handles the replies kept from an earlier run, then pulls every app's replies until a
// short page, handling each page before the next pull.
func (l *ReplyLoop) PullOnce(ctx context.Context) error {
	if err := l.handle(ctx, l.heldReplies()); err != nil {
		return err
	}
	apps, err := l.store.Apps(ctx)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("dispatcher: reply pull: apps: %w", err))
	}
	for _, app := range l.apps {
		if !slices.Contains(apps, app) {
			apps = append(apps, app)
		}
	}
	for _, app := range apps {
		if ctx.Err() != nil {
			break
		}
		if l.isDisabled(app) {
			continue
		}
		if err := l.pullApp(ctx, app); err != nil {
			errs = append(errs, err)
			if len(l.heldReplies()) > 0 {
				break // nothing more is pulled until the held replies are handled
			}
		}
	}
	return errors.Join(errs...)
}

func (l *ReplyLoop) isDisabled(app string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.disabled[app]
	if !ok {
		return false
	}
	if l.now().Sub(at) >= l.recheck {
		delete(l.disabled, app)
		return false
	}
	return true
}

func (l *ReplyLoop) pullApp(ctx context.Context, app string) error {
	for range l.maxPages {
		if err := l.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dispatcher: reply pull %s: rate limiter: %w", app, err)
		}
		// A destructive read: not cut short by ctx once started (the client's timeout bounds it).
		pulled, err := l.puller.PullSmsReplyStatus(context.WithoutCancel(ctx), app, tencentsms.MaxReplyPullLimit)
		if err != nil {
			var apiErr *tencentsms.Error
			if errors.As(err, &apiErr) {
				l.mu.Lock()
				l.disabled[app] = l.now()
				l.mu.Unlock()
				l.log.Warn("reply pull refused: the app's replies are not pulled for a while (enable PullSmsReplyStatus or use the reply callback)",
					zap.String("app", app), zap.String("code", apiErr.Code), zap.Duration("recheck_after", l.recheck))
				return nil
			}
			if errors.Is(err, tencentsms.ErrOutcomeUnknown) {
				l.log.Error("replies may be lost: the pull's answer was not read", zap.String("app", app), zap.Error(err))
			}
			return fmt.Errorf("dispatcher: reply pull %s: %w", app, err)
		}
		replies := make([]Reply, len(pulled))
		for i, r := range pulled {
			replies[i] = fromTencentReply(r)
		}
		if err := l.handle(ctx, replies); err != nil {
			return err
		}
		if len(pulled) < tencentsms.MaxReplyPullLimit {
			return nil
		}
	}
	return nil
}

// handle handles replies (under a bound that outlives ctx: they were pulled) and keeps them in
// memory when that fails.
func (l *ReplyLoop) handle(ctx context.Context, replies []Reply) error {
	if len(replies) == 0 {
		return nil
	}
	hctx, cancel := detached(ctx, DefaultPullSaveTimeout)
	defer cancel()
	err := l.h.handle(hctx, replies)
	l.mu.Lock()
	if err != nil {
		l.held = replies
	} else {
		l.held = nil
	}
	l.mu.Unlock()
	if err != nil {
		l.log.Error("pulled replies not handled: kept in memory, no more pulls until they are", zap.Int("replies", len(replies)), zap.Error(err))
		return fmt.Errorf("dispatcher: reply pull: %w", err)
	}
	return nil
}
