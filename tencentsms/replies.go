package tencentsms

import (
	"context"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// MaxReplyPullLimit is the most replies one PullSmsReplyStatus call returns.
const MaxReplyPullLimit = 100

// Reply is one SMS a recipient sent back (PullSmsReplyStatus), e.g. an unsubscribe request.
type Reply struct {
	PhoneNumber      string    // E.164, e.g. "+8613812345678"
	CountryCode      string    // e.g. "86"
	SubscriberNumber string    // national format, e.g. "13812345678"
	SignName         string    // the sign of the message replied to
	Content          string    // the text of the reply
	ExtendCode       string    // the extension code (empty unless enabled by Tencent support)
	ReplyTime        time.Time // when the reply was sent (UTC); zero if not reported
}

// Number returns the reply's number in E.164: PhoneNumber, or "+" CountryCode SubscriberNumber
// when Tencent left PhoneNumber empty; "" when neither is there.
func (r Reply) Number() string {
	switch {
	case r.PhoneNumber != "" && strings.HasPrefix(r.PhoneNumber, "+"):
		return r.PhoneNumber
	case r.PhoneNumber != "":
		return "+" + r.PhoneNumber
	case r.CountryCode != "" && r.SubscriberNumber != "":
		return "+" + r.CountryCode + r.SubscriberNumber
	}
	return ""
}

// PullSmsReplyStatus pulls up to limit (1..MaxReplyPullLimit) replies to appID's messages.
//
// Like PullSendStatus it is a destructive read (replies returned are not returned again): act on
// or persist them before pulling more. Tencent allows 100 calls per second per account, and the
// action must be enabled for the account. On an error with errors.Is(err, ErrOutcomeUnknown)
// replies may have been lost.
func (c *Client) PullSmsReplyStatus(ctx context.Context, appID string, limit int) ([]Reply, error) {
	if appID == "" {
		return nil, argErr("appID", "required")
	}
	if limit < 1 || limit > MaxReplyPullLimit {
		return nil, argErr("limit", "%d, want 1..%d", limit, MaxReplyPullLimit)
	}
	req := sms.NewPullSmsReplyStatusRequest()
	req.SmsSdkAppId = common.StringPtr(appID)
	req.Limit = common.Uint64Ptr(uint64(limit))

	const action = "PullSmsReplyStatus"
	var resp *sms.PullSmsReplyStatusResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.PullSmsReplyStatusWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	out := make([]Reply, 0, len(resp.Response.PullSmsReplyStatusSet))
	for _, s := range resp.Response.PullSmsReplyStatusSet {
		if s == nil {
			continue
		}
		out = append(out, Reply{
			PhoneNumber:      str(s.PhoneNumber),
			CountryCode:      str(s.CountryCode),
			SubscriberNumber: str(s.SubscriberNumber),
			SignName:         str(s.SignName),
			Content:          str(s.ReplyContent),
			ExtendCode:       str(s.ExtendCode),
			ReplyTime:        unixTime(s.ReplyTime),
		})
	}
	return out, nil
}
