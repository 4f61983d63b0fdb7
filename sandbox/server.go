package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// APIVersion is the only X-TC-Version the sandbox serves.
const APIVersion = "2021-01-11"

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// Regions accepted in X-TC-Region (those Tencent serves SMS from).
var Regions = []string{"ap-guangzhou", "ap-beijing", "ap-nanjing"}

// Server is a local Tencent Cloud SMS API (version 2021-01-11). It is an
// http.Handler; it is safe for concurrent use.
type Server struct {
	cfg     Config
	now     func() time.Time
	log     *zap.Logger
	maxSkew time.Duration
	serial  string // SerialNo prefix
	started time.Time
	client  *http.Client
	actions map[string]handlerFunc

	mu          sync.Mutex
	rng         *rand.Rand
	faults      Faults
	numberCodes map[uint64]string
	qps         map[string]*window
	templates   map[uint32]*tpl
	tplOrder    []uint32
	nextTplID   uint32
	numbers     map[uint64]numberState
	drawn       map[uint64]struct{} // numbers that faced NumberErrorRate (NumberErrorFirstAttempt)
	receipts    receiptLog
	sessions    map[uint32]string // receipt index -> SessionContext (ReceiptSessionContext only)
	delayMs     int64
	epochMs     int64 // origin of numberState times: an hour before start
	pullNext    int
	pushNext    int
	replies     []Reply // injected, not yet pulled (InjectReply)
	hours       map[int64]*hourStats
	feeUsed     uint64
	st          counters

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	pushKick  chan struct{}
	flushReq  chan chan struct{}
}

type handlerFunc func(s *Server, body []byte, reqID string, now time.Time) (any, *apiError)

// apiError is a whole-call error, answered in Tencent's envelope.
type apiError struct {
	Code    string
	Message string
}

func newAPIError(code, msg string) *apiError { return &apiError{Code: code, Message: msg} }

// New validates cfg and returns a Server. Its callback pusher runs until Close.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.SignNames = append([]string(nil), cfg.SignNames...)
	s := &Server{
		cfg:      cfg,
		now:      cfg.Now,
		log:      cfg.Logger,
		maxSkew:  cfg.MaxClockSkew,
		client:   &http.Client{Timeout: cfg.CallbackTimeout, Transport: newTransport()},
		qps:      make(map[string]*window),
		numbers:  make(map[uint64]numberState),
		hours:    make(map[int64]*hourStats),
		closing:  make(chan struct{}),
		pushKick: make(chan struct{}, 1),
		flushReq: make(chan chan struct{}),
		st:       newCounters(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	seed := cfg.Seed
	s.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	s.started = s.now()
	s.delayMs = cfg.ReceiptDelay.Milliseconds()
	s.epochMs = s.started.Add(-time.Hour).UnixMilli()
	s.sessions = make(map[uint32]string)
	// 10 digits: start time and a process-random part (not from the seeded
	// generator), so sandboxes started in the same second differ.
	s.serial = "2640:" + fmt.Sprintf("%06d%04d", s.started.Unix()%1e6, rand.IntN(1e4))
	s.templates = make(map[uint32]*tpl, len(cfg.Templates))
	s.nextTplID = 1000000
	for _, t := range cfg.Templates {
		s.addTemplate(t, s.started.Add(-24*time.Hour))
	}
	s.actions = map[string]handlerFunc{
		"SendSms":                        (*Server).handleSendSms,
		"PullSmsSendStatus":              (*Server).handlePullSmsSendStatus,
		"PullSmsSendStatusByPhoneNumber": (*Server).handlePullByPhoneNumber,
		"SendStatusStatistics":           (*Server).handleSendStatusStatistics,
		"CallbackStatusStatistics":       (*Server).handleCallbackStatusStatistics,
		"SmsPackagesStatistics":          (*Server).handleSmsPackagesStatistics,
		"AddSmsTemplate":                 (*Server).handleAddSmsTemplate,
		"DescribeSmsTemplateList":        (*Server).handleDescribeSmsTemplateList,
		"PullSmsReplyStatus":             (*Server).handlePullSmsReplyStatus,
	}
	s.SetFaults(cfg.Faults)
	if cfg.CallbackURL != "" {
		s.wg.Add(1)
		go s.pushLoop()
	}
	return s, nil
}

// SetFaults replaces the fault injection. It is safe to call while serving.
// Invalid rates (outside [0,1]) are clamped.
func (s *Server) SetFaults(f Faults) {
	f = copyFaults(f)
	f.ErrorRate, f.NumberErrorRate, f.DropRate = clamp01(f.ErrorRate), clamp01(f.NumberErrorRate), clamp01(f.DropRate)
	f.Latency, f.LatencyJitter, f.QPS = max(f.Latency, 0), max(f.LatencyJitter, 0), max(f.QPS, 0)
	if len(f.ErrorCodes) == 0 {
		f.ErrorCodes = append([]string(nil), DefaultErrorCodes...)
	}
	if len(f.NumberErrorCodes) == 0 {
		f.NumberErrorCodes = append([]string(nil), DefaultNumberErrorCodes...)
	}
	codes := make(map[uint64]string, len(f.NumberCodes))
	for n, code := range f.NumberCodes {
		if k := phoneKey(n); k != 0 {
			codes[k] = code
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.QPS != s.faults.QPS {
		s.qps = make(map[string]*window)
	}
	s.faults = f
	s.numberCodes = codes
}

// Faults returns the current fault injection.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyFaults(s.faults)
}

func clamp01(r float64) float64 {
	switch {
	case r < 0 || r != r:
		return 0
	case r > 1:
		return 1
	}
	return r
}

// Close stops the callback pusher, ending any push in flight. It is
// idempotent. The handler keeps answering after Close.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
	s.client.CloseIdleConnections()
	return nil
}

// newTransport returns a private transport for callback pushes, so Close
// can drop its idle connections.
func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{}
}

// Serve serves the sandbox on ln until ctx is done, then shuts the HTTP
// server down gracefully (waiting up to 5 s for calls in flight). It does not
// Close the Server.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("sandbox: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("sandbox: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sandbox: serve: %w", err)
	}
	return nil
}

// knownActions are the other actions of sms/v20210111: the sandbox answers
// them with UnsupportedOperation rather than InvalidAction.
var knownActions = map[string]bool{
	"AddSmsSign": true, "DeleteSmsSign": true, "DeleteSmsTemplate": true, "DescribePhoneNumberInfo": true,
	"DescribeSmsSignList": true, "ModifySmsSign": true, "ModifySmsTemplate": true, "PullSmsReplyStatus": true,
	"PullSmsReplyStatusByPhoneNumber": true, "ReportConversion": true,
}

// ServeHTTP answers one API call, or a GET of StatsPath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == StatsPath {
		s.serveStats(w, r)
		return
	}
	reqID := uuid.NewString()
	action := r.Header.Get("X-TC-Action")
	now := s.now()
	s.mu.Lock()
	s.st.calls[action]++
	s.mu.Unlock()

	fail := func(e *apiError) {
		s.mu.Lock()
		s.st.errors[e.Code]++
		s.mu.Unlock()
		s.log.Debug("sandbox call failed", zap.String("action", action), zap.String("code", e.Code),
			zap.String("request_id", reqID))
		writeJSON(w, errorEnvelope(e, reqID))
	}

	if r.Method != http.MethodPost {
		fail(newAPIError("UnsupportedProtocol", "The sandbox only serves POST requests with a JSON body."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(newAPIError("RequestSizeLimitExceeded", "The request body is larger than 1 MB."))
			return
		}
		fail(newAPIError("InternalError", "Reading the request body failed."))
		return
	}
	if e := s.authenticate(r, body, now); e != nil {
		fail(e)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(newAPIError("InvalidParameter", "Content-Type must be application/json."))
		return
	}
	switch v := r.Header.Get("X-TC-Version"); v {
	case APIVersion:
	case "":
		fail(newAPIError("MissingParameter", "The request is missing the required header `X-TC-Version`."))
		return
	default:
		fail(newAPIError("NoSuchVersion", "The sandbox only serves API version "+APIVersion+"."))
		return
	}
	h, ok := s.actions[action]
	switch {
	case action == "":
		fail(newAPIError("MissingParameter", "The request is missing the required header `X-TC-Action`."))
		return
	case !ok && knownActions[action]:
		fail(newAPIError("UnsupportedOperation", "The sandbox does not implement action `"+action+"`."))
		return
	case !ok:
		fail(newAPIError("InvalidAction", "The action `"+action+"` does not exist."))
		return
	}
	if e := checkRegion(r.Header.Get("X-TC-Region")); e != nil {
		fail(e)
		return
	}

	// Fault injection. All random draws happen here, in a fixed order.
	s.mu.Lock()
	f := s.faults
	limited := !s.allowQPS(action, now, f.QPS)
	var latency time.Duration
	var injected string
	var drop bool
	if !limited {
		latency = f.Latency
		if f.LatencyJitter > 0 {
			latency += time.Duration(s.rng.Int64N(int64(f.LatencyJitter)))
		}
		if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
			injected = f.ErrorCodes[s.rng.IntN(len(f.ErrorCodes))]
		}
		if action == "SendSms" && f.DropRate > 0 && s.rng.Float64() < f.DropRate {
			drop = true
		}
	}
	s.mu.Unlock()
	if limited {
		fail(newAPIError("RequestLimitExceeded", "Your request frequency has exceeded the limit of "+strconv.Itoa(f.QPS)+" per second for this action."))
		return
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client is gone; nobody reads an answer
		case <-s.closing:
			t.Stop()
		}
	}
	injectAfter := injected != "" && action == "SendSms" && f.ErrorAfterSend
	if injected != "" && !injectAfter {
		fail(newAPIError(injected, injectedMessage(injected)))
		return
	}

	resp, apiErr := h(s, body, reqID, now)

	if drop {
		s.mu.Lock()
		s.st.dropped++
		s.mu.Unlock()
		s.log.Debug("sandbox reply dropped", zap.String("action", action), zap.String("request_id", reqID))
		dropConnection(w)
		return
	}
	if injectAfter {
		fail(newAPIError(injected, injectedMessage(injected)))
		return
	}
	if apiErr != nil {
		fail(apiErr)
		return
	}
	writeJSON(w, envelope{Response: resp})
}

func checkRegion(region string) *apiError {
	if region == "" {
		return newAPIError("MissingParameter", "The request is missing the required header `X-TC-Region`.")
	}
	for _, r := range Regions {
		if r == region {
			return nil
		}
	}
	return newAPIError("UnsupportedRegion", "The region `"+region+"` is not supported; use ap-guangzhou, ap-beijing or ap-nanjing.")
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 or a wrapped writer: abort the response instead.
	panic(http.ErrAbortHandler)
}

// window is a sliding one-second window of accepted call times.
type window struct {
	times []int64 // ring of the last N accepted call times (ns)
	next  int
}

// allowQPS reports whether one more call of action fits under limit; it
// records the call when it does. Callers hold s.mu.
func (s *Server) allowQPS(action string, now time.Time, limit int) bool {
	if limit <= 0 {
		return true
	}
	w := s.qps[action]
	if w == nil {
		w = &window{times: make([]int64, limit)}
		for i := range w.times {
			w.times[i] = -1 << 62
		}
		s.qps[action] = w
	}
	t := now.UnixNano()
	if t-w.times[w.next] < int64(time.Second) {
		return false
	}
	w.times[w.next] = t
	w.next = (w.next + 1) % len(w.times)
	return true
}

type envelope struct {
	Response any `json:"Response"`
}

type errorBody struct {
	Error     errorDetail `json:"Error"`
	RequestID string      `json:"RequestId"`
}

type errorDetail struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func errorEnvelope(e *apiError, reqID string) envelope {
	return envelope{Response: errorBody{Error: errorDetail{Code: e.Code, Message: e.Message}, RequestID: reqID}}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"Response":{"Error":{"Code":"InternalError","Message":"encoding failed"},"RequestId":""}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func injectedMessage(code string) string {
	switch code {
	case "InternalError.Timeout":
		return "请求下发短信超时 (injected by the sandbox)."
	case "InternalError.SendAndRecvFail":
		return "接口超时或短信收发包超时 (injected by the sandbox)."
	case "RequestLimitExceeded":
		return "请求的次数超过了频率限制 (injected by the sandbox)."
	}
	return "Injected by the sandbox."
}

// decode parses a JSON request body into v, mapping failures to Tencent codes.
func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return newAPIError("InvalidParameter", "The parameter `"+typeErr.Field+"` has the wrong type.")
		}
		return newAPIError("FailedOperation.JsonParseFail", "The request body is not valid JSON.")
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Server) checkApp(appID *string) *apiError {
	switch {
	case appID == nil || *appID == "":
		return newAPIError("MissingParameter", "The parameter `SmsSdkAppId` is missing.")
	case *appID != s.cfg.AppID:
		return newAPIError("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId `"+*appID+"` does not exist.")
	}
	return nil
}
