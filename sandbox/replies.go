package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// Reply is an SMS a recipient sent back, as the sandbox keeps it until PullSmsReplyStatus takes
// it.
type Reply struct {
	PhoneNumber      string // E.164
	CountryCode      string // "86"
	SubscriberNumber string // "13800000000"
	SignName         string
	Content          string
	ReplyTime        time.Time
}

// ErrBadNumber is returned by InjectReply for a number the sandbox cannot parse.
var ErrBadNumber = errors.New("sandbox: not a valid phone number")

// InjectReply queues a reply from number (any accepted form, e.g. "+8613800000000") with text,
// as if the recipient had answered a message of the first configured sign. PullSmsReplyStatus
// returns each queued reply once, oldest first (a destructive read, as Tencent's). With
// Config.ReplyCallbackURL set, the reply is also pushed there before InjectReply returns, tried
// 1 + Config.CallbackRetries times; the error of the last try is returned (the reply stays
// queued for pulls).
func (s *Server) InjectReply(number, text string) error {
	p, ok := parsePhone(number)
	if !ok {
		return ErrBadNumber
	}
	cc, sub := p.split()
	r := Reply{PhoneNumber: p.e164(), CountryCode: cc, SubscriberNumber: sub, Content: text, ReplyTime: s.now()}
	if len(s.cfg.SignNames) > 0 {
		r.SignName = s.cfg.SignNames[0]
	}
	s.mu.Lock()
	s.replies = append(s.replies, r)
	s.mu.Unlock()
	if s.cfg.ReplyCallbackURL == "" {
		return nil
	}
	return s.pushReply(r)
}

// ReplyCallbackItem is Tencent's reply callback body.
type ReplyCallbackItem struct {
	Extend     string `json:"extend"`
	Mobile     string `json:"mobile"`
	NationCode string `json:"nationcode"`
	Sign       string `json:"sign"`
	Text       string `json:"text"`
	Time       int64  `json:"time"` // unix seconds
}

// pushReply POSTs r to ReplyCallbackURL, retrying Config.CallbackRetries more times.
func (s *Server) pushReply(r Reply) error {
	body, err := json.Marshal(ReplyCallbackItem{Mobile: r.SubscriberNumber, NationCode: r.CountryCode, Sign: r.SignName,
		Text: r.Content, Time: r.ReplyTime.Unix()})
	if err != nil {
		return fmt.Errorf("sandbox: encode reply callback: %w", err)
	}
	for attempt := 0; ; attempt++ {
		err = s.post(context.Background(), s.cfg.ReplyCallbackURL, body)
		if err == nil || attempt >= s.cfg.CallbackRetries {
			break
		}
		select {
		case <-s.closing:
			return ErrClosed
		case <-time.After(s.cfg.CallbackRetryInterval):
		}
	}
	if err != nil {
		return fmt.Errorf("sandbox: reply callback: %w", err)
	}
	return nil
}

// PendingReplies returns how many injected replies no pull has taken yet.
func (s *Server) PendingReplies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.replies)
}

func (r Reply) pullStatus() *sms.PullSmsReplyStatus {
	return &sms.PullSmsReplyStatus{
		ExtendCode:       ptr(""),
		CountryCode:      ptr(r.CountryCode),
		PhoneNumber:      ptr(r.PhoneNumber),
		SignName:         ptr(r.SignName),
		ReplyContent:     ptr(r.Content),
		ReplyTime:        ptr(uint64(max(r.ReplyTime.Unix(), 0))),
		SubscriberNumber: ptr(r.SubscriberNumber),
	}
}

func (s *Server) handlePullSmsReplyStatus(body []byte, reqID string, _ time.Time) (any, *apiError) {
	var req sms.PullSmsReplyStatusRequestParams
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	limit, e := s.checkPull(req.SmsSdkAppId, req.Limit)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	n := min(int(limit), len(s.replies))
	taken := s.replies[:n:n]
	s.replies = s.replies[n:]
	if len(s.replies) == 0 {
		s.replies = nil // let the taken backing array go
	}
	s.mu.Unlock()
	out := make([]*sms.PullSmsReplyStatus, len(taken))
	for i, r := range taken {
		out[i] = r.pullStatus()
	}
	return &sms.PullSmsReplyStatusResponseParams{PullSmsReplyStatusSet: out, RequestId: ptr(reqID)}, nil
}
