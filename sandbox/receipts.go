package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

// receipt is the compact record of one accepted send. Receipts live in one
// slice in creation order; its index makes the SerialNo, and prev chains
// the receipts of one number (newest first).
type receipt struct {
	number  uint64
	sentMs  int64  // ready at sentMs + Config.ReceiptDelay
	prev    uint32 // index+1 of the previous receipt of the same number
	ccLen   uint8
	outcome uint8 // 0 delivered, else failReasons[outcome-1]
}

// receiptLog is an append-only list of receipts in fixed-size chunks, so
// growing it never copies (or transiently doubles) a million records.
type receiptLog struct {
	chunks [][]receipt
	n      int
}

const receiptChunk = 1 << 16

func (l *receiptLog) append(r receipt) uint32 {
	if l.n%receiptChunk == 0 {
		l.chunks = append(l.chunks, make([]receipt, 0, receiptChunk))
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = append(*c, r)
	l.n++
	return uint32(l.n - 1)
}

func (l *receiptLog) at(i int) receipt { return l.chunks[i/receiptChunk][i%receiptChunk] }

func (l *receiptLog) len() int { return l.n }

type failKind uint8

const (
	failInternal failKind = iota
	failInvalidNumber
	failShutdown
	failBlacklist
)

type failReason struct {
	errmsg, desc string
	kind         failKind
}

// Receipt texts. Delivered receipts say DELIVRD / 用户接收成功.
const (
	delivered     = "DELIVRD"
	deliveredDesc = "用户接收成功"
)

var failReasons = []failReason{
	{"UNDELIV", "用户手机关机或停机", failShutdown},
	{"MK:0001", "空号", failInvalidNumber},
	{"MI:0013", "用户已退订或被运营商拉黑", failBlacklist},
	{"EXPIRED", "短信过期未送达", failInternal},
}

// hourStats are the per-hour (China time) counters behind the statistics actions.
type hourStats struct {
	requests, success, fee                       uint64
	cbSuccess, cbFail                            uint64
	internal, invalidNumber, shutdown, blacklist uint64
}

func hourKey(t time.Time) int64 { return (t.Unix() + 8*3600) / 3600 }

// hour returns the stats bucket of now. Callers hold s.mu.
func (s *Server) hour(now time.Time) *hourStats {
	k := hourKey(now)
	h := s.hours[k]
	if h == nil {
		h = &hourStats{}
		s.hours[k] = h
	}
	return h
}

// addReceipt records a receipt for an accepted send. Callers hold s.mu.
func (s *Server) addReceipt(p phone, prev uint32, nowMs int64, session string, h *hourStats) uint32 {
	r := receipt{
		number: p.digits,
		sentMs: nowMs,
		prev:   prev,
		ccLen:  p.ccLen,
	}
	if s.cfg.ReceiptFailRate > 0 && s.rng.Float64() < s.cfg.ReceiptFailRate {
		r.outcome = uint8(1 + s.rng.IntN(len(failReasons)))
	}
	if r.outcome == 0 {
		h.cbSuccess++
	} else {
		h.cbFail++
		switch failReasons[r.outcome-1].kind {
		case failInternal:
			h.internal++
		case failInvalidNumber:
			h.invalidNumber++
		case failShutdown:
			h.shutdown++
		case failBlacklist:
			h.blacklist++
		}
	}
	idx := s.receipts.append(r)
	if s.cfg.ReceiptSessionContext && session != "" {
		s.sessions[idx] = session
	}
	s.st.receiptsCreated++
	return idx
}

// readyEnd returns the index of the first receipt not ready at nowMs.
// Receipts are created with a fixed delay, so readiness is in index order.
// Callers hold s.mu.
func (s *Server) readyEnd(nowMs int64) int {
	first := s.pullNext
	return first + sort.Search(s.receipts.len()-first, func(i int) bool {
		return s.receipts.at(first+i).sentMs+s.delayMs > nowMs
	})
}

// serialNo renders a receipt index as a Tencent-like SerialNo,
// e.g. "2640:1767225600000000000042".
func (s *Server) serialNo(idx uint32) string {
	return s.serial + fmt.Sprintf("%012d", idx)
}

// Receipt is a delivery receipt as the sandbox keeps it.
type Receipt struct {
	SerialNo         string
	PhoneNumber      string // E.164
	CountryCode      string // "86"
	SubscriberNumber string // "13800000000"
	ReportStatus     string // "SUCCESS" or "FAIL"
	ErrMsg           string // "DELIVRD" or a carrier code such as "UNDELIV"
	Description      string
	SentAt           time.Time
	ReceivedAt       time.Time // when the receipt is (or becomes) pullable
	SessionContext   string    // only with Config.ReceiptSessionContext
}

func (s *Server) export(idx uint32, r receipt) Receipt {
	p := phone{digits: r.number, ccLen: r.ccLen}
	cc, sub := p.split()
	out := Receipt{
		SerialNo:         s.serialNo(idx),
		PhoneNumber:      p.e164(),
		CountryCode:      cc,
		SubscriberNumber: sub,
		ReportStatus:     "SUCCESS",
		ErrMsg:           delivered,
		Description:      deliveredDesc,
		SentAt:           time.UnixMilli(r.sentMs),
		ReceivedAt:       time.UnixMilli(r.sentMs + s.delayMs),
		SessionContext:   s.sessions[idx],
	}
	if r.outcome != 0 {
		fr := failReasons[r.outcome-1]
		out.ReportStatus, out.ErrMsg, out.Description = "FAIL", fr.errmsg, fr.desc
	}
	return out
}

func (r Receipt) pullStatus() *sms.PullSmsSendStatus {
	return &sms.PullSmsSendStatus{
		UserReceiveTime:  ptr(uint64(r.ReceivedAt.Unix())),
		CountryCode:      ptr(r.CountryCode),
		SubscriberNumber: ptr(r.SubscriberNumber),
		PhoneNumber:      ptr(r.PhoneNumber),
		SerialNo:         ptr(r.SerialNo),
		ReportStatus:     ptr(r.ReportStatus),
		Description:      ptr(r.Description),
		SessionContext:   ptr(r.SessionContext),
	}
}

// ReceiptsFor returns every receipt of number (ready or not, pulled or not),
// oldest first, without consuming anything.
func (s *Server) ReceiptsFor(number string) []Receipt {
	k := phoneKey(number)
	if k == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Receipt
	for i := s.numbers[k].lastReceipt; i != 0; {
		r := s.receipts.at(int(i - 1))
		out = append(out, s.export(i-1, r))
		i = r.prev
	}
	slices.Reverse(out)
	return out
}

func limitParam(p *uint64, maxLimit uint64) (uint64, *apiError) {
	if p == nil || *p == 0 || *p > maxLimit {
		return 0, newAPIError("InvalidParameterValue.LimitVerifyFail",
			"Limit must be between 1 and "+strconv.FormatUint(maxLimit, 10)+".")
	}
	return *p, nil
}

// checkPull checks the app and the Limit (1..100) of a decoded pull request.
func (s *Server) checkPull(appID *string, limit *uint64) (uint64, *apiError) {
	if e := s.checkApp(appID); e != nil {
		return 0, e
	}
	return limitParam(limit, 100)
}

func (s *Server) handlePullSmsSendStatus(body []byte, reqID string, now time.Time) (any, *apiError) {
	var req sms.PullSmsSendStatusRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	limit, e := s.checkPull(req.SmsSdkAppId, req.Limit)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	end := min(s.readyEnd(now.UnixMilli()), s.pullNext+int(limit))
	first := s.pullNext
	taken := make([]Receipt, 0, end-first)
	for i := first; i < end; i++ {
		taken = append(taken, s.export(uint32(i), s.receipts.at(i)))
	}
	s.pullNext = end
	s.st.receiptsPulled += int64(end - first)
	s.mu.Unlock()

	out := make([]*sms.PullSmsSendStatus, len(taken))
	for i, r := range taken {
		out[i] = r.pullStatus()
	}
	return &sms.PullSmsSendStatusResponseParams{PullSmsSendStatusSet: out, RequestId: ptr(reqID)}, nil
}

func (s *Server) handlePullByPhoneNumber(body []byte, reqID string, now time.Time) (any, *apiError) {
	var req sms.PullSmsSendStatusByPhoneNumberRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	limit, e := s.checkPull(req.SmsSdkAppId, req.Limit)
	if e != nil {
		return nil, e
	}
	switch {
	case req.BeginTime == nil:
		return nil, newAPIError("MissingParameter", "The parameter `BeginTime` is missing.")
	case req.EndTime == nil:
		return nil, newAPIError("MissingParameter", "The parameter `EndTime` is missing.")
	case *req.EndTime < *req.BeginTime:
		return nil, newAPIError("InvalidParameterValue.EndTimeVerifyFail", "EndTime must not be before BeginTime.")
	}
	k := phoneKey(str(req.PhoneNumber))
	if k == 0 {
		return nil, newAPIError("InvalidParameterValue.IncorrectPhoneNumber", "The parameter `PhoneNumber` is not a valid number.")
	}
	// Only the last 7 days can be pulled.
	begin := max(int64(*req.BeginTime), now.Add(-7*24*time.Hour).Unix())
	end := int64(min(*req.EndTime, 1<<62))
	var offset uint64
	if req.Offset != nil {
		offset = *req.Offset
	}
	nowMs := now.UnixMilli()

	s.mu.Lock()
	var found []Receipt
	for i := s.numbers[k].lastReceipt; i != 0; i = s.receipts.at(int(i - 1)).prev {
		r := s.receipts.at(int(i - 1))
		sent := r.sentMs / 1000
		if r.sentMs+s.delayMs > nowMs || sent > end {
			continue
		}
		if sent < begin {
			break
		}
		found = append(found, s.export(i-1, r))
	}
	s.mu.Unlock()
	slices.Reverse(found)
	if offset >= uint64(len(found)) {
		found = nil
	} else {
		found = found[offset:]
		found = found[:min(uint64(len(found)), limit)]
	}
	out := make([]*sms.PullSmsSendStatus, len(found))
	for i, r := range found {
		out[i] = r.pullStatus()
	}
	return &sms.PullSmsSendStatusByPhoneNumberResponseParams{PullSmsSendStatusSet: out, RequestId: ptr(reqID)}, nil
}

// CallbackItem is one element of Tencent's status-callback array.
type CallbackItem struct {
	UserReceiveTime string          `json:"user_receive_time"` // "2006-01-02 15:04:05", China time
	NationCode      string          `json:"nationcode"`
	Mobile          string          `json:"mobile"`
	ReportStatus    string          `json:"report_status"` // SUCCESS or FAIL
	ErrMsg          string          `json:"errmsg"`
	Description     string          `json:"description"`
	SID             string          `json:"sid"` // the SerialNo
	Ext             json.RawMessage `json:"ext"` // "" unless Config.ReceiptSessionContext
}

// CallbackReply is what a callback receiver answers to acknowledge a push.
type CallbackReply struct {
	Result int    `json:"result"`
	ErrMsg string `json:"errmsg"`
}

// MaxCallbackItems is the most receipts pushed in one callback POST.
const MaxCallbackItems = 100

func (r Receipt) callbackItem() CallbackItem {
	ext := json.RawMessage(`""`)
	if r.SessionContext != "" {
		if b := []byte(r.SessionContext); json.Valid(b) && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			ext = b
		} else if q, err := json.Marshal(r.SessionContext); err == nil {
			ext = q
		}
	}
	return CallbackItem{
		UserReceiveTime: r.ReceivedAt.In(beijing.Time).Format(time.DateTime),
		NationCode:      r.CountryCode,
		Mobile:          r.SubscriberNumber,
		ReportStatus:    r.ReportStatus,
		ErrMsg:          r.ErrMsg,
		Description:     r.Description,
		SID:             r.SerialNo,
		Ext:             ext,
	}
}

// takePush returns the next batch of ready, unpushed receipts, and when
// none is ready, the time (ms) the next one will be (0 if none).
func (s *Server) takePush() ([]CallbackItem, int64) {
	nowMs := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []CallbackItem
	for s.pushNext < s.receipts.len() && len(items) < MaxCallbackItems {
		r := s.receipts.at(s.pushNext)
		if r.sentMs+s.delayMs > nowMs {
			break
		}
		items = append(items, s.export(uint32(s.pushNext), r).callbackItem())
		s.pushNext++
	}
	if len(items) == 0 && s.pushNext < s.receipts.len() {
		return nil, s.receipts.at(s.pushNext).sentMs + s.delayMs
	}
	return items, 0
}

// pushLoop pushes receipts to the callback URL until Close.
func (s *Server) pushLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	var waiters []chan struct{}
	for {
		items, next := s.takePush()
		if len(items) > 0 {
			s.deliver(ctx, items)
			continue
		}
		for _, w := range waiters {
			close(w)
		}
		waiters = nil
		wait := time.Second
		if next > 0 {
			wait = min(max(time.Duration(next-s.now().UnixMilli())*time.Millisecond, time.Millisecond), time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-s.closing:
			t.Stop()
			return
		case <-s.pushKick:
		case w := <-s.flushReq:
			waiters = append(waiters, w)
		case <-t.C:
		}
		t.Stop()
	}
}

// deliver POSTs one batch, retrying Config.CallbackRetries more times.
func (s *Server) deliver(ctx context.Context, items []CallbackItem) {
	body, err := json.Marshal(items)
	if err != nil {
		s.log.Error("sandbox callback encode failed", zap.Error(err))
		return
	}
	n := int64(len(items))
	var lastErr error
	for attempt := 0; attempt <= s.cfg.CallbackRetries; attempt++ {
		if attempt > 0 && s.cfg.CallbackRetryInterval > 0 {
			t := time.NewTimer(s.cfg.CallbackRetryInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		lastErr = s.post(ctx, s.cfg.CallbackURL, body)
		s.mu.Lock()
		s.st.cbAttempts++
		if lastErr == nil {
			s.st.cbItems += n
		}
		s.mu.Unlock()
		if lastErr == nil {
			return
		}
		s.log.Debug("sandbox callback attempt failed", zap.Int("attempt", attempt+1), zap.Error(lastErr))
	}
	s.mu.Lock()
	s.st.cbFailed += n
	s.mu.Unlock()
	s.log.Warn("sandbox callback given up", zap.Int64("items", n), zap.Int("attempts", s.cfg.CallbackRetries+1),
		zap.Error(lastErr))
}

var errCallbackRejected = errors.New("callback not acknowledged with result 0")

func (s *Server) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build callback request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post callback: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read callback reply: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: HTTP %d", errCallbackRejected, resp.StatusCode)
	}
	var reply struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &reply); err != nil {
		return fmt.Errorf("%w: reply is not JSON: %w", errCallbackRejected, err)
	}
	if r := string(bytes.TrimSpace(reply.Result)); r != "0" && r != `"0"` {
		return fmt.Errorf("%w: result %s", errCallbackRejected, r)
	}
	return nil
}

// FlushCallbacks waits until every receipt that is ready now has been
// pushed (or given up on) by the callback pusher. It returns at once when
// no CallbackURL is set, and ctx.Err() or ErrClosed when those end first.
func (s *Server) FlushCallbacks(ctx context.Context) error {
	if s.cfg.CallbackURL == "" {
		return nil
	}
	done := make(chan struct{})
	select {
	case s.flushReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrClosed
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return ErrClosed
	}
}

// ErrClosed is returned by FlushCallbacks after Close.
var ErrClosed = errors.New("sandbox: server closed")
