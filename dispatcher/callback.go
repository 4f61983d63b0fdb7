package dispatcher

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
	"github.com/smsdispatch/smsdispatch/internal/promreg"
	"github.com/smsdispatch/smsdispatch/store"
)

// Routes of the Tencent callbacks (Go ServeMux patterns). {token} is Config.Token: Tencent's
// console takes a URL, not a credential, so the secret is in the path.
const (
	StatusCallbackPattern = "POST /callback/status/{token}"
	ReplyCallbackPattern  = "POST /callback/reply/{token}"
)

// DefaultCallbackMaxBody is the default of CallbackConfig.MaxBodyBytes. Tencent pushes at most
// 100 receipts per status callback (about 250 bytes each) and one reply per reply callback.
const DefaultCallbackMaxBody = 256 << 10

// callbackTime is the layout of user_receive_time in a status callback, in Beijing time.
const callbackTime = time.DateTime

// ErrMalformedCallback is wrapped by every error of ParseStatusCallback and ParseReplyCallback.
var ErrMalformedCallback = errors.New("malformed callback body")

func malformedf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedCallback, fmt.Sprintf(format, args...))
}

// statusItem is one element of Tencent's status callback array.
type statusItem struct {
	UserReceiveTime string          `json:"user_receive_time"`
	NationCode      string          `json:"nationcode"`
	Mobile          string          `json:"mobile"`
	ReportStatus    string          `json:"report_status"`
	ErrMsg          string          `json:"errmsg"`
	Description     string          `json:"description"`
	SID             string          `json:"sid"`
	Ext             json.RawMessage `json:"ext"`
}

// ParseStatusCallback parses the body of Tencent's status callback: a JSON array of receipts
// {user_receive_time "2006-01-02 15:04:05" (Beijing time), nationcode, mobile, report_status
// SUCCESS|FAIL, errmsg, description, sid (the SerialNo), ext}. The receipts come back as the
// pulled ones do (number "+" nationcode mobile, Status the report status, Description the
// description; ext, when it is a JSON string, as SessionContext). A receipt without a receive
// time gets the zero time. Anything else than such an array (not JSON, null, an object, an item
// without sid or with a malformed number, status or time) is an error wrapping
// ErrMalformedCallback, and nothing of the body is returned.
func ParseStatusCallback(body []byte) ([]store.Receipt, error) {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '[' {
		return nil, malformedf("not a JSON array")
	}
	var items []statusItem
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, malformedf("%v", err)
	}
	out := make([]store.Receipt, len(items))
	for i, it := range items {
		r, err := it.receipt()
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}

func (it statusItem) receipt() (store.Receipt, error) {
	if it.SID == "" || strings.TrimSpace(it.SID) != it.SID {
		return store.Receipt{}, malformedf("sid missing or padded")
	}
	number, err := callbackNumber(it.NationCode, it.Mobile)
	if err != nil {
		return store.Receipt{}, err
	}
	status := strings.ToUpper(it.ReportStatus)
	if status != store.ReceiptSuccess && status != "FAIL" {
		return store.Receipt{}, malformedf("report_status %q is not SUCCESS or FAIL", it.ReportStatus)
	}
	var at time.Time
	if it.UserReceiveTime != "" {
		at, err = time.ParseInLocation(callbackTime, it.UserReceiveTime, beijing.Time)
		if err != nil {
			return store.Receipt{}, malformedf("user_receive_time %q is not %q", it.UserReceiveTime, callbackTime)
		}
	}
	var session string
	if ext := bytes.TrimSpace(it.Ext); len(ext) > 0 && ext[0] == '"' {
		if err := json.Unmarshal(ext, &session); err != nil {
			return store.Receipt{}, malformedf("ext: %v", err)
		}
	}
	return store.Receipt{
		SerialNo:       it.SID,
		PhoneNumber:    number,
		Status:         status,
		Description:    it.Description,
		SessionContext: session,
		ReceivedAt:     at,
	}, nil
}

// callbackNumber returns "+" nationcode mobile after checking both are digits and the whole fits
// E.164.
func callbackNumber(nationCode, mobile string) (string, error) {
	if !allDigits(nationCode) || len(nationCode) > 3 || nationCode[0] == '0' {
		return "", malformedf("nationcode %q is not a country code", nationCode)
	}
	if !allDigits(mobile) || len(nationCode)+len(mobile) > 15 {
		return "", malformedf("mobile of %d characters is not a subscriber number", len(mobile))
	}
	return "+" + nationCode + mobile, nil
}

func allDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// CallbackStore is what Callbacks needs from the store: the receipt path the puller uses.
type CallbackStore interface {
	SaveReceiptPage(ctx context.Context, app string, page []store.Receipt) (string, error)
	ApplyReceiptPage(ctx context.Context, app string, page store.SavedPage) (store.ApplyStats, error)
}

var _ CallbackStore = (*store.Store)(nil)

// CallbackConfig configures Callbacks. Store, Suppressor, Token and App are required.
type CallbackConfig struct {
	Store      CallbackStore
	Suppressor SuppressionAdder
	// Token is the secret path element of both callback URLs (SMS_CALLBACK_TOKEN). A request
	// with another token is answered 404, as an unknown path, and changes nothing.
	Token string
	// App is the SmsSdkAppId the pushed receipt pages are saved under. Tencent's status callback
	// names no app, and none is needed to match a receipt: ApplyReceiptPage finds its send by
	// SerialNo (or SessionContext) in indexes that span every app. App only names the inbox a
	// page waits in until it is applied (when the apply fails, that app's puller applies it on
	// its next run) and the app whose unmatched count counts receipts matching no send (those
	// carry nothing that could name their app either). Use the worker's default app, which
	// every worker pulls.
	App string
	// Keywords are the unsubscribe keywords of the reply callback. Default
	// DefaultUnsubscribeKeywords().
	Keywords []string
	// MaxBodyBytes bounds a callback body; a longer one is answered 413 and changes nothing.
	// Default DefaultCallbackMaxBody (256 KiB).
	MaxBodyBytes int64
	// Timeout bounds the Redis work of one callback, which runs to its end even when Tencent
	// hangs up (a saved page must be applied). Default DefaultPullSaveTimeout (10 s).
	Timeout     time.Duration
	Logger      *zap.Logger  // nil: no logs
	Metrics     *Metrics     // nil: unregistered metrics (receipts applied by push count here)
	PushMetrics *PushMetrics // nil: unregistered metrics
	// Now is the clock (nil: time.Now); a pushed receipt without a receive time gets now.
	Now func() time.Time
}

func (c CallbackConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("dispatcher: CallbackConfig.Store is nil")
	case c.Suppressor == nil:
		return errors.New("dispatcher: CallbackConfig.Suppressor is nil")
	case c.Token == "":
		return errors.New("dispatcher: CallbackConfig.Token is empty")
	case c.App == "":
		return errors.New("dispatcher: CallbackConfig.App is empty")
	case c.MaxBodyBytes < 0 || c.Timeout < 0:
		return errors.New("dispatcher: CallbackConfig.MaxBodyBytes and Timeout must not be negative")
	}
	return nil
}

// Callbacks serves Tencent's status callback (delivery receipts pushed instead of pulled) and
// reply callback (SMS sent back by recipients). Register adds both routes to a mux.
//
// A pushed receipt page goes the pulled pages' way: store.SaveReceiptPage, then
// store.ApplyReceiptPage, which changes each number's state once, so a receipt pushed twice, or
// pushed and pulled, counts once. The answer is {"result":0,"errmsg":"OK"} once the page is
// saved; a save that fails is answered 503 (Tencent tries twice more); a malformed body 400, an
// oversized one 413, both changing nothing.
type Callbacks struct {
	store   CallbackStore
	replies *replyHandler
	token   [sha256.Size]byte
	app     string
	maxBody int64
	timeout time.Duration
	log     *zap.Logger
	m       *Metrics
	pm      *PushMetrics
	now     func() time.Time
}

// NewCallbacks checks cfg, applies its defaults and returns the callback handlers.
func NewCallbacks(cfg CallbackConfig) (*Callbacks, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := nopIfNil(cfg.Logger).Named("callback")
	pm := orNewPush(cfg.PushMetrics)
	replies, err := newReplyHandler(cfg.Suppressor, cfg.Keywords, log, pm)
	if err != nil {
		return nil, fmt.Errorf("dispatcher: CallbackConfig.Keywords: %w", err)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultCallbackMaxBody
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultPullSaveTimeout
	}
	return &Callbacks{
		store:   cfg.Store,
		replies: replies,
		token:   sha256.Sum256([]byte(cfg.Token)),
		app:     cfg.App,
		maxBody: cfg.MaxBodyBytes,
		timeout: cfg.Timeout,
		log:     log,
		m:       orNew(cfg.Metrics),
		pm:      pm,
		now:     nowOrDefault(cfg.Now),
	}, nil
}

// Register adds StatusCallbackPattern and ReplyCallbackPattern to mux.
func (c *Callbacks) Register(mux *http.ServeMux) {
	mux.HandleFunc(StatusCallbackPattern, c.serveStatus)
	mux.HandleFunc(ReplyCallbackPattern, c.serveReply)
}

// Callback results, the "result" label of smsdispatch_callbacks_total.
const (
	cbOK        = "ok"
	cbNotFound  = "not_found" // wrong token
	cbMalformed = "malformed"
	cbTooLarge  = "too_large"
	cbError     = "error" // Redis failed: Tencent tries again
)

// read checks the token and reads the body; on failure it has answered and counted the request.
func (c *Callbacks) read(rw http.ResponseWriter, r *http.Request, kind string) ([]byte, bool) {
	got := sha256.Sum256([]byte(r.PathValue("token")))
	if subtle.ConstantTimeCompare(got[:], c.token[:]) != 1 {
		c.pm.Callbacks.WithLabelValues(kind, cbNotFound).Inc()
		http.NotFound(rw, r)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, c.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.pm.Callbacks.WithLabelValues(kind, cbTooLarge).Inc()
			c.log.Warn("callback body too large: refused", zap.String("callback", kind), zap.Int64("limit", c.maxBody))
			answer(rw, http.StatusRequestEntityTooLarge, "body too large")
			return nil, false
		}
		c.pm.Callbacks.WithLabelValues(kind, cbMalformed).Inc()
		answer(rw, http.StatusBadRequest, "body not read")
		return nil, false
	}
	return body, true
}

// answer writes Tencent's acknowledgement form: result 0 and "OK" on success, else result 1 and
// why.
func answer(rw http.ResponseWriter, status int, errmsg string) {
	result := 0
	if status != http.StatusOK {
		result = 1
	}
	b, _ := json.Marshal(struct {
		Result int    `json:"result"`
		ErrMsg string `json:"errmsg"`
	}{result, errmsg})
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(append(b, '\n'))
}

// refuse answers a malformed callback 400 and counts it.
func (c *Callbacks) refuse(rw http.ResponseWriter, kind string, size int, err error) {
	c.pm.Callbacks.WithLabelValues(kind, cbMalformed).Inc()
	c.log.Warn("malformed callback: refused", zap.String("callback", kind), zap.Int("bytes", size), zap.Error(err))
	answer(rw, http.StatusBadRequest, err.Error())
}

func (c *Callbacks) serveStatus(rw http.ResponseWriter, r *http.Request) {
	const kind = "status"
	body, ok := c.read(rw, r, kind)
	if !ok {
		return
	}
	page, err := ParseStatusCallback(body)
	if err != nil {
		c.refuse(rw, kind, len(body), err)
		return
	}
	if len(page) > 0 {
		now := c.now()
		for i := range page {
			if page[i].ReceivedAt.IsZero() {
				page[i].ReceivedAt = now
			}
		}
		// The work goes on if Tencent hangs up: a saved page is applied here or by the puller.
		ctx, cancel := detached(r.Context(), c.timeout)
		defer cancel()
		id, err := c.store.SaveReceiptPage(ctx, c.app, page)
		if err != nil {
			c.pm.Callbacks.WithLabelValues(kind, cbError).Inc()
			c.log.Error("pushed receipts not saved: Tencent is asked to push them again", zap.Int("receipts", len(page)), zap.Error(err))
			answer(rw, http.StatusServiceUnavailable, "not saved")
			return
		}
		st, err := c.store.ApplyReceiptPage(ctx, c.app, store.SavedPage{ID: id, Receipts: page})
		if err != nil {
			// Saved: the app's puller applies the page on its next run.
			c.log.Warn("pushed receipts saved, not applied yet: the puller applies them", zap.String("page", id), zap.Error(err))
		} else {
			c.m.Receipts.WithLabelValues("applied").Add(float64(st.Applied))
			c.m.Receipts.WithLabelValues("duplicate").Add(float64(st.Duplicate))
			c.m.Receipts.WithLabelValues("unmatched").Add(float64(st.Unmatched))
		}
	}
	c.pm.Callbacks.WithLabelValues(kind, cbOK).Inc()
	answer(rw, http.StatusOK, "OK")
}

func (c *Callbacks) serveReply(rw http.ResponseWriter, r *http.Request) {
	const kind = "reply"
	body, ok := c.read(rw, r, kind)
	if !ok {
		return
	}
	replies, err := ParseReplyCallback(body)
	if err != nil {
		c.refuse(rw, kind, len(body), err)
		return
	}
	ctx, cancel := detached(r.Context(), c.timeout)
	defer cancel()
	if err := c.replies.handle(ctx, replies); err != nil {
		c.pm.Callbacks.WithLabelValues(kind, cbError).Inc()
		c.log.Error("reply not handled: Tencent is asked to push it again", zap.Error(err))
		answer(rw, http.StatusServiceUnavailable, "not handled")
		return
	}
	c.pm.Callbacks.WithLabelValues(kind, cbOK).Inc()
	answer(rw, http.StatusOK, "OK")
}

// PushMetrics are the metrics of the callbacks and replies. Build them once per registry with
// NewPushMetrics; nil in a Config means unregistered metrics.
type PushMetrics struct {
	// Callbacks counts callback requests by kind (status, reply) and result (ok, not_found,
	// malformed, too_large, error).
	Callbacks *prometheus.CounterVec
	// Replies counts replies received (pulled or pushed) by kind: unsubscribe (the number was
	// suppressed), other (kept in the log only), invalid (no usable number).
	Replies *prometheus.CounterVec
}

// NewPushMetrics creates the metrics and registers them on reg (nil: not registered), reusing
// those an earlier call registered.
func NewPushMetrics(reg prometheus.Registerer) (*PushMetrics, error) {
	m := &PushMetrics{
		Callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_callbacks_total",
			Help: "Tencent callback requests by kind (status, reply) and result (ok, not_found, malformed, too_large, error).",
		}, []string{"kind", "result"}),
		Replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsdispatch_replies_total",
			Help: "Replies from recipients by kind: unsubscribe (number suppressed), other, invalid.",
		}, []string{"kind"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Callbacks, err = promreg.Register(reg, m.Callbacks); err != nil {
		return nil, err
	}
	if m.Replies, err = promreg.Register(reg, m.Replies); err != nil {
		return nil, err
	}
	m.initLabels()
	return m, nil
}

func orNewPush(m *PushMetrics) *PushMetrics {
	if m != nil {
		return m
	}
	m, _ = NewPushMetrics(nil)
	return m
}
