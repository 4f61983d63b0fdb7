package tencentsms

import (
	"context"
	"strconv"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

// Beijing is China Standard Time (UTC+8, no daylight saving), the zone of
// Tencent's hour parameters. A fixed zone needs no tzdata.
var Beijing = beijing.Time

// HourLayout is Tencent's yyyymmddhh parameter format (in Beijing time).
const HourLayout = beijing.HourLayout

// formatHour formats t as Tencent's yyyymmddhh in Beijing time.
func formatHour(t time.Time) string { return t.In(Beijing).Format(HourLayout) }

// StatisticsRequest selects the hours [Begin, End] of an app, both truncated
// to the hour in Beijing time.
type StatisticsRequest struct {
	AppID      string // SmsSdkAppId (required)
	Begin, End time.Time
}

// SendStatistics counts the sends of an app over a window.
type SendStatistics struct {
	FeeCount            int // billed segments
	RequestCount        int // numbers submitted
	RequestSuccessCount int // numbers accepted
}

func (r StatisticsRequest) validate(name string) error {
	if r.AppID == "" {
		return argErr(name+".AppID", "required")
	}
	if r.Begin.IsZero() {
		return argErr(name+".Begin", "required")
	}
	if r.End.IsZero() {
		return argErr(name+".End", "required")
	}
	if formatHour(r.End) < formatHour(r.Begin) {
		return argErr(name+".End", "before Begin")
	}
	return nil
}

// SendStatusStatistics returns the send counts of an app over whole hours.
func (c *Client) SendStatusStatistics(ctx context.Context, r StatisticsRequest) (*SendStatistics, error) {
	if err := r.validate("StatisticsRequest"); err != nil {
		return nil, err
	}
	req := sms.NewSendStatusStatisticsRequest()
	req.SmsSdkAppId = common.StringPtr(r.AppID)
	req.BeginTime = common.StringPtr(formatHour(r.Begin))
	req.EndTime = common.StringPtr(formatHour(r.End))
	req.Limit = common.Uint64Ptr(0) // "currently fixed at 0"
	req.Offset = common.Uint64Ptr(0)

	const action = "SendStatusStatistics"
	var resp *sms.SendStatusStatisticsResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.SendStatusStatisticsWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	out := &SendStatistics{}
	if s := resp.Response.SendStatusStatistics; s != nil {
		out.FeeCount = num(s.FeeCount)
		out.RequestCount = num(s.RequestCount)
		out.RequestSuccessCount = num(s.RequestSuccessCount)
	}
	return out, nil
}

// CallbackStatistics counts the delivery receipts of an app's sends over a window.
type CallbackStatistics struct {
	CallbackCount        int // receipts received
	RequestSuccessCount  int // numbers accepted
	CallbackSuccessCount int // delivered
	CallbackFailCount    int // not delivered
	InternalErrorCount   int // failed: carrier internal error
	InvalidNumberCount   int // failed: invalid or empty number
	ShutdownErrorCount   int // failed: number shut down or out of service
	BlackListCount       int // failed: number blacklisted
	FrequencyLimitCount  int // failed: carrier frequency limit
}

// MaxCallbackStatisticsDays is the longest window CallbackStatusStatistics accepts.
const MaxCallbackStatisticsDays = 32

// CallbackStatusStatistics returns the receipt counts of an app over whole hours (at most
// MaxCallbackStatisticsDays).
func (c *Client) CallbackStatusStatistics(ctx context.Context, r StatisticsRequest) (*CallbackStatistics, error) {
	if err := r.validate("StatisticsRequest"); err != nil {
		return nil, err
	}
	if r.End.Sub(r.Begin) > MaxCallbackStatisticsDays*24*time.Hour {
		return nil, argErr("StatisticsRequest.End", "more than %d days after Begin", MaxCallbackStatisticsDays)
	}
	req := sms.NewCallbackStatusStatisticsRequest()
	req.SmsSdkAppId = common.StringPtr(r.AppID)
	req.BeginTime = common.StringPtr(formatHour(r.Begin))
	req.EndTime = common.StringPtr(formatHour(r.End))
	req.Limit = common.Uint64Ptr(0) // "currently fixed at 0"
	req.Offset = common.Uint64Ptr(0)

	const action = "CallbackStatusStatistics"
	var resp *sms.CallbackStatusStatisticsResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.CallbackStatusStatisticsWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	out := &CallbackStatistics{}
	if s := resp.Response.CallbackStatusStatistics; s != nil {
		*out = CallbackStatistics{
			CallbackCount:        num(s.CallbackCount),
			RequestSuccessCount:  num(s.RequestSuccessCount),
			CallbackSuccessCount: num(s.CallbackSuccessCount),
			CallbackFailCount:    num(s.CallbackFailCount),
			InternalErrorCount:   num(s.InternalErrorCount),
			InvalidNumberCount:   num(s.InvalidNumberCount),
			ShutdownErrorCount:   num(s.ShutdownErrorCount),
			BlackListCount:       num(s.BlackListCount),
			FrequencyLimitCount:  num(s.FrequencyLimitCount),
		}
	}
	return out, nil
}

// MaxPackagesLimit is the most packages one SmsPackagesStatistics call returns.
const MaxPackagesLimit = 500

// PackagesRequest selects the SMS packages of an app created between Begin
// and End (hours in Beijing time; End must be after Begin), a page at a time.
type PackagesRequest struct {
	AppID      string // SmsSdkAppId (required)
	Begin, End time.Time
	Limit      int // 1..500
	Offset     int // >= 0
}

// Package types.
const (
	PackageGift      = 0
	PackagePurchased = 1
)

// Package is one prepaid SMS package and its use.
type Package struct {
	ID            string
	Type          int // PackageGift or PackagePurchased
	Amount        int // messages in the package
	CurrentUsage  int // messages used
	CreateTime    time.Time
	EffectiveTime time.Time
	ExpiredTime   time.Time
}

// Remaining is Amount - CurrentUsage, never negative.
func (p Package) Remaining() int { return max(p.Amount-p.CurrentUsage, 0) }

// SmsPackagesStatistics lists SMS packages with their usage, to watch the
// balance before it runs out (FailedOperation.InsufficientBalanceInSmsPackage).
func (c *Client) SmsPackagesStatistics(ctx context.Context, r PackagesRequest) ([]Package, error) {
	if err := (StatisticsRequest{AppID: r.AppID, Begin: r.Begin, End: r.End}).validate("PackagesRequest"); err != nil {
		return nil, err
	}
	if formatHour(r.End) == formatHour(r.Begin) {
		return nil, argErr("PackagesRequest.End", "must be a later hour than Begin")
	}
	if r.Limit < 1 || r.Limit > MaxPackagesLimit {
		return nil, argErr("PackagesRequest.Limit", "%d, want 1..%d", r.Limit, MaxPackagesLimit)
	}
	if r.Offset < 0 {
		return nil, argErr("PackagesRequest.Offset", "%d is negative", r.Offset)
	}
	req := sms.NewSmsPackagesStatisticsRequest()
	req.SmsSdkAppId = common.StringPtr(r.AppID)
	req.BeginTime = common.StringPtr(formatHour(r.Begin))
	req.EndTime = common.StringPtr(formatHour(r.End))
	req.Limit = common.Uint64Ptr(uint64(r.Limit))
	req.Offset = common.Uint64Ptr(uint64(r.Offset))

	const action = "SmsPackagesStatistics"
	var resp *sms.SmsPackagesStatisticsResponse
	snap, err := c.call(ctx, action, func(ctx context.Context) error {
		var err error
		resp, err = c.sdk.SmsPackagesStatisticsWithContext(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp == nil || resp.Response == nil {
		return nil, malformed(action, snap)
	}
	out := make([]Package, 0, len(resp.Response.SmsPackagesStatisticsSet))
	for _, p := range resp.Response.SmsPackagesStatisticsSet {
		if p == nil {
			continue
		}
		pkg := Package{
			Type:          num(p.PackageType),
			Amount:        num(p.PackageAmount),
			CurrentUsage:  num(p.CurrentUsage),
			CreateTime:    unixTime(p.PackageCreateTime),
			EffectiveTime: unixTime(p.PackageEffectiveTime),
			ExpiredTime:   unixTime(p.PackageExpiredTime),
		}
		if p.PackageId != nil {
			pkg.ID = strconv.FormatUint(*p.PackageId, 10)
		}
		out = append(out, pkg)
	}
	return out, nil
}
