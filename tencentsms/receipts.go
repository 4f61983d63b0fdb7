package tencentsms

import (
	"context"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// MaxPullLimit is the most receipts one pull call returns.
const MaxPullLimit = 100

// Report statuses of a Receipt.
const (
	ReportSuccess = "SUCCESS"
	ReportFail    = "FAIL"
)

// Receipt is a delivery report pulled from Tencent.
type Receipt struct {
	UserReceiveTime  time.Time // when the handset received it (UTC); zero if not reported
	CountryCode      string    // e.g. "86"
	SubscriberNumber string    // national format, e.g. "13812345678"
	PhoneNumber      string    // E.164, e.g. "+8613812345678"
	SerialNo         string    // SendStatus.SerialNo of the send
	ReportStatus     string    // ReportSuccess or ReportFail, if the carrier reported
	Description      string    // e.g. "DELIVRD"
	SessionContext   string    // empty unless enabled by Tencent support
}

// PullByPhoneRequest asks for the receipts of one number over a time window.
type PullByPhoneRequest struct {
	AppID       string    // SmsSdkAppId (required)
	PhoneNumber string    // E.164 (required)
	Begin, End  time.Time // window, sent as unix seconds; Tencent keeps 7 days
	Limit       int       // 1..100
}

// PullSendStatus pulls up to limit (1..100) receipts of appID.
//
// Tencent treats this as a destructive read: receipts returned are not
// returned again. Persist them before pulling more. On an error with
// errors.Is(err, ErrOutcomeUnknown) a page of receipts may have been lost.
func (c *Client) PullSendStatus(ctx context.Context, appID string, limit int) ([]Receipt, error) {
	if appID == "" {
		return nil, argErr("appID", "required")
	}
	if limit < 1 || limit > MaxPullLimit {
		return nil, argErr("limit", "%d, want 1..%d", limit, MaxPullLimit)
	}
	req := sms.NewPullSmsSendStatusRequest()
	req.SmsSdkAppId = common.StringPtr(appID)
	req.Limit = common.Uint64Ptr(uint64(limit))

	const action = "PullSmsSendStatus"
	var resp *sms.PullSmsSendStatusResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.PullSmsSendStatusWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	return receipts(resp.Response.PullSmsSendStatusSet), nil
}

func (r PullByPhoneRequest) validate() error {
	if r.AppID == "" {
		return argErr("PullByPhoneRequest.AppID", "required")
	}
	if r.PhoneNumber == "" {
		return argErr("PullByPhoneRequest.PhoneNumber", "required")
	}
	if r.Begin.IsZero() || r.Begin.Unix() <= 0 {
		return argErr("PullByPhoneRequest.Begin", "required, after 1970")
	}
	if r.End.IsZero() || r.End.Unix() <= 0 {
		return argErr("PullByPhoneRequest.End", "required, after 1970")
	}
	if r.End.Unix() < r.Begin.Unix() {
		return argErr("PullByPhoneRequest.End", "before Begin")
	}
	if r.Limit < 1 || r.Limit > MaxPullLimit {
		return argErr("PullByPhoneRequest.Limit", "%d, want 1..%d", r.Limit, MaxPullLimit)
	}
	return nil
}

// PullSendStatusByPhoneNumber returns the receipts of one number sent between
// Begin and End (whole seconds). Tencent serves only the last 7 days and
// allows 20 calls per second per account: use it to reconcile, not as the
// main receipt path.
func (c *Client) PullSendStatusByPhoneNumber(ctx context.Context, r PullByPhoneRequest) ([]Receipt, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	req := sms.NewPullSmsSendStatusByPhoneNumberRequest()
	req.SmsSdkAppId = common.StringPtr(r.AppID)
	req.PhoneNumber = common.StringPtr(r.PhoneNumber)
	req.BeginTime = common.Uint64Ptr(uint64(r.Begin.Unix()))
	req.EndTime = common.Uint64Ptr(uint64(r.End.Unix()))
	req.Offset = common.Uint64Ptr(0) // "currently fixed at 0"
	req.Limit = common.Uint64Ptr(uint64(r.Limit))

	const action = "PullSmsSendStatusByPhoneNumber"
	var resp *sms.PullSmsSendStatusByPhoneNumberResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.PullSmsSendStatusByPhoneNumberWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	return receipts(resp.Response.PullSmsSendStatusSet), nil
}

func receipts(set []*sms.PullSmsSendStatus) []Receipt {
	out := make([]Receipt, 0, len(set))
	for _, s := range set {
		if s == nil {
			continue
		}
		out = append(out, Receipt{
			UserReceiveTime:  unixTime(s.UserReceiveTime),
			CountryCode:      str(s.CountryCode),
			SubscriberNumber: str(s.SubscriberNumber),
			PhoneNumber:      str(s.PhoneNumber),
			SerialNo:         str(s.SerialNo),
			ReportStatus:     str(s.ReportStatus),
			Description:      str(s.Description),
			SessionContext:   str(s.SessionContext),
		})
	}
	return out
}
