package tencentsms

import (
	"context"
	"strconv"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// SmsType is the kind of a template.
type SmsType int

// Template kinds, as Tencent numbers them.
const (
	SmsMarketing        SmsType = 1
	SmsNotification     SmsType = 2
	SmsVerificationCode SmsType = 3
)

// TemplateStatus is the review state of a template. Only TemplateApproved
// templates can be used to send.
type TemplateStatus int

// Template review states, as Tencent numbers them.
const (
	TemplateRejected        TemplateStatus = -1
	TemplateApproved        TemplateStatus = 0
	TemplateInReview        TemplateStatus = 1
	TemplateApprovedPending TemplateStatus = 2 // approved, not yet in effect
)

// AddTemplateRequest submits a new template for review.
type AddTemplateRequest struct {
	Name          string  // required
	Content       string  // required, e.g. "Your code is {1}, valid for {2} minutes."
	Type          SmsType // required
	International bool    // international/HK/Macao/Taiwan template
	Remark        string  // reason or use case, shown to the reviewer
}

// Template is a template as DescribeSmsTemplateList reports it.
type Template struct {
	ID            string
	Name          string
	Content       string
	International int // 0 domestic, 1 international, 3 both
	Status        TemplateStatus
	ReviewReply   string // reviewer's reply, usually why it was rejected
	CreateTime    time.Time
}

// Template International values.
const (
	TemplateDomestic      = 0
	TemplateInternational = 1
	TemplateBoth          = 3
)

// Domestic reports whether t may be sent to mainland China (+86) numbers.
func (t Template) Domestic() bool { return t.International != TemplateInternational }

// Abroad reports whether t may be sent to numbers outside mainland China.
func (t Template) Abroad() bool { return t.International != TemplateDomestic }

// Params returns how many template params a send with t must carry: the highest {n}
// placeholder of its content (0 without placeholders).
func (t Template) Params() int { return TemplateParams(t.Content) }

// TemplateParams returns the highest {n} placeholder index of a template content: the number of
// params Tencent expects. "{1} and {2}" is 2; text without placeholders is 0.
func TemplateParams(content string) int {
	highest := 0
	for i := 0; i < len(content); i++ {
		if content[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(content) && j-i <= 3 && content[j] >= '0' && content[j] <= '9' {
			j++
		}
		if j == i+1 || j >= len(content) || content[j] != '}' {
			continue
		}
		n, err := strconv.Atoi(content[i+1 : j])
		if err == nil && n > highest {
			highest = n
		}
		i = j
	}
	return highest
}

// TemplateListRequest selects templates either by ID (TemplateIDs, at most
// 100; Limit and Offset must be 0) or by page (Limit 1..100, Offset >= 0).
type TemplateListRequest struct {
	International bool
	TemplateIDs   []string
	Limit         int
	Offset        int
}

// MaxTemplateIDs is the most template IDs one DescribeSmsTemplateList takes.
const MaxTemplateIDs = 100

func (r AddTemplateRequest) validate() error {
	if r.Name == "" {
		return argErr("AddTemplateRequest.Name", "required")
	}
	if r.Content == "" {
		return argErr("AddTemplateRequest.Content", "required")
	}
	if r.Type < SmsMarketing || r.Type > SmsVerificationCode {
		return argErr("AddTemplateRequest.Type", "%d, want 1 (marketing), 2 (notification) or 3 (verification code)", r.Type)
	}
	return nil
}

func boolNum(b bool) *uint64 {
	if b {
		return common.Uint64Ptr(1)
	}
	return common.Uint64Ptr(0)
}

// AddSmsTemplate submits a template for review and returns its ID.
func (c *Client) AddSmsTemplate(ctx context.Context, r AddTemplateRequest) (string, error) {
	if err := r.validate(); err != nil {
		return "", err
	}
	req := sms.NewAddSmsTemplateRequest()
	req.TemplateName = common.StringPtr(r.Name)
	req.TemplateContent = common.StringPtr(r.Content)
	req.SmsType = common.Uint64Ptr(uint64(r.Type))
	req.International = boolNum(r.International)
	if r.Remark != "" {
		req.Remark = common.StringPtr(r.Remark)
	}

	const action = "AddSmsTemplate"
	var resp *sms.AddSmsTemplateResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.AddSmsTemplateWithContext(ctx, req)
		return err
	})
	if err != nil {
		return "", err
	}
	if resp == nil || resp.Response == nil || resp.Response.AddTemplateStatus == nil || str(resp.Response.AddTemplateStatus.TemplateId) == "" {
		return "", malformed(action, snap)
	}
	return *resp.Response.AddTemplateStatus.TemplateId, nil
}

func (r TemplateListRequest) validate() ([]*uint64, error) {
	if len(r.TemplateIDs) > 0 {
		if len(r.TemplateIDs) > MaxTemplateIDs {
			return nil, argErr("TemplateListRequest.TemplateIDs", "%d IDs, want at most %d", len(r.TemplateIDs), MaxTemplateIDs)
		}
		if r.Limit != 0 || r.Offset != 0 {
			return nil, argErr("TemplateListRequest.Limit", "Limit and Offset must be 0 when TemplateIDs is set")
		}
		ids := make([]*uint64, len(r.TemplateIDs))
		for i, s := range r.TemplateIDs {
			id, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, argErr("TemplateListRequest.TemplateIDs["+strconv.Itoa(i)+"]", "%q is not a numeric template ID", s)
			}
			ids[i] = common.Uint64Ptr(id)
		}
		return ids, nil
	}
	if r.Limit < 1 || r.Limit > MaxTemplateIDs {
		return nil, argErr("TemplateListRequest.Limit", "%d, want 1..%d (or set TemplateIDs)", r.Limit, MaxTemplateIDs)
	}
	if r.Offset < 0 {
		return nil, argErr("TemplateListRequest.Offset", "%d is negative", r.Offset)
	}
	return nil, nil
}

// DescribeSmsTemplateList returns templates and their review state.
func (c *Client) DescribeSmsTemplateList(ctx context.Context, r TemplateListRequest) ([]Template, error) {
	ids, err := r.validate()
	if err != nil {
		return nil, err
	}
	req := sms.NewDescribeSmsTemplateListRequest()
	req.International = boolNum(r.International)
	if ids != nil {
		req.TemplateIdSet = ids
	} else {
		req.Limit = common.Uint64Ptr(uint64(r.Limit))
		req.Offset = common.Uint64Ptr(uint64(r.Offset))
	}

	const action = "DescribeSmsTemplateList"
	var resp *sms.DescribeSmsTemplateListResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.DescribeSmsTemplateListWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	out := make([]Template, 0, len(resp.Response.DescribeTemplateStatusSet))
	for _, t := range resp.Response.DescribeTemplateStatusSet {
		if t == nil {
			continue
		}
		tpl := Template{
			Name:          str(t.TemplateName),
			Content:       str(t.TemplateContent),
			International: num(t.International),
			Status:        TemplateInReview, // if absent: not known to be usable
			ReviewReply:   str(t.ReviewReply),
			CreateTime:    unixTime(t.CreateTime),
		}
		if t.StatusCode != nil {
			tpl.Status = TemplateStatus(*t.StatusCode)
		}
		if t.TemplateId != nil {
			tpl.ID = strconv.FormatUint(*t.TemplateId, 10)
		}
		out = append(out, tpl)
	}
	return out, nil
}
