package tencentsms

import (
	"context"
	"strconv"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// Limits of SendSms checked locally.
const (
	MaxPhoneNumbers       = 200 // numbers per SendSms call
	MaxSessionContextSize = 511 // bytes; Tencent wants it "less than 512 bytes"
)

// CodeOK is SendStatus.Code for a number Tencent accepted.
const CodeOK = "Ok"

// SendRequest is one SendSms call: one template with one parameter set, sent
// to up to 200 numbers that are all domestic or all international.
type SendRequest struct {
	AppID          string   // SmsSdkAppId, e.g. "1400006666" (required)
	SignName       string   // approved signature text; required for domestic SMS
	TemplateID     string   // approved template ID (required)
	TemplateParams []string // one value per template variable, may be empty
	PhoneNumbers   []string // E.164, e.g. "+8613812345678"; 1..200, no duplicates
	SessionContext string   // echoed back per number; < 512 bytes
	ExtendCode     string   // optional, needs activation by Tencent
	SenderID       string   // optional, international only
}

// SendStatus is Tencent's answer for one number of a SendSms call.
type SendStatus struct {
	SerialNo       string // send ID; receipts carry it as sid/SerialNo
	PhoneNumber    string // E.164 as Tencent normalised it
	Fee            int    // billed segments
	Code           string // "Ok" or an error code, same list as Error.Code
	Message        string
	IsoCode        string // e.g. "CN"; "DEF" when unknown
	SessionContext string
}

// OK reports whether Tencent accepted the message for this number.
func (s SendStatus) OK() bool { return s.Code == CodeOK }

// SendResult is Tencent's answer to a SendSms call that did not fail as a
// whole. Per-number failures are in Statuses, in Tencent's order; Match aligns
// them with the request's numbers. A requested number that has no entry in
// Statuses has an unknown outcome.
type SendResult struct {
	RequestID string
	Statuses  []SendStatus
}

func (r SendRequest) validate() error {
	if r.AppID == "" {
		return argErr("SendRequest.AppID", "required")
	}
	if r.TemplateID == "" {
		return argErr("SendRequest.TemplateID", "required")
	}
	n := len(r.PhoneNumbers)
	if n == 0 || n > MaxPhoneNumbers {
		return argErr("SendRequest.PhoneNumbers", "%d numbers, want 1..%d", n, MaxPhoneNumbers)
	}
	seen := make(map[string]int, n)
	for i, p := range r.PhoneNumbers {
		field := "SendRequest.PhoneNumbers[" + strconv.Itoa(i) + "]"
		if p == "" {
			return argErr(field, "empty")
		}
		if j, dup := seen[p]; dup {
			// Tencent would send twice, and the two results could not be told apart.
			return argErr(field, "%s duplicates PhoneNumbers[%d]", MaskPhone(p), j)
		}
		seen[p] = i
	}
	if len(r.SessionContext) > MaxSessionContextSize {
		return argErr("SendRequest.SessionContext", "%d bytes, want at most %d", len(r.SessionContext), MaxSessionContextSize)
	}
	return nil
}

// SendSms sends one template message to up to 200 numbers, in one attempt.
//
// A nil error means Tencent answered: check each SendStatus. An error is an
// *ArgumentError, an *Error (the whole request was refused) or a
// *TransportError; with errors.Is(err, ErrOutcomeUnknown) the messages may
// have been sent.
func (c *Client) SendSms(ctx context.Context, r SendRequest) (*SendResult, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	req := sms.NewSendSmsRequest()
	req.SmsSdkAppId = common.StringPtr(r.AppID)
	req.TemplateId = common.StringPtr(r.TemplateID)
	req.PhoneNumberSet = common.StringPtrs(r.PhoneNumbers)
	if r.SignName != "" {
		req.SignName = common.StringPtr(r.SignName)
	}
	if len(r.TemplateParams) > 0 {
		req.TemplateParamSet = common.StringPtrs(r.TemplateParams)
	}
	if r.SessionContext != "" {
		req.SessionContext = common.StringPtr(r.SessionContext)
	}
	if r.ExtendCode != "" {
		req.ExtendCode = common.StringPtr(r.ExtendCode)
	}
	if r.SenderID != "" {
		req.SenderId = common.StringPtr(r.SenderID)
	}

	const action = "SendSms"
	var resp *sms.SendSmsResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.SendSmsWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	out := &SendResult{
		RequestID: str(resp.Response.RequestId),
		Statuses:  make([]SendStatus, 0, len(resp.Response.SendStatusSet)),
	}
	for _, s := range resp.Response.SendStatusSet {
		if s == nil {
			continue
		}
		out.Statuses = append(out.Statuses, SendStatus{
			SerialNo:       str(s.SerialNo),
			PhoneNumber:    str(s.PhoneNumber),
			Fee:            num(s.Fee),
			Code:           str(s.Code),
			Message:        str(s.Message),
			IsoCode:        str(s.IsoCode),
			SessionContext: str(s.SessionContext),
		})
	}
	return out, nil
}
