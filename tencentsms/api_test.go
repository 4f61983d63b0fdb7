package tencentsms_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// capture records the decoded params of the last request of one action.
type capture[T any] struct {
	mu     sync.Mutex
	params T
	action string
}

func (c *capture[T]) set(t *testing.T, cl call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.action = cl.Action
	cl.decode(t, &c.params)
}

func (c *capture[T]) get() (string, T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.action, c.params
}

func u64(v uint64) *uint64  { return &v }
func strp(v string) *string { return &v }

var receiptSet = []any{
	map[string]any{
		"UserReceiveTime":  1714540983,
		"CountryCode":      "86",
		"SubscriberNumber": "13812345678",
		"PhoneNumber":      "+8613812345678",
		"SerialNo":         "2640:000000001",
		"ReportStatus":     "SUCCESS",
		"Description":      "DELIVRD",
		"SessionContext":   "job-42",
	},
	map[string]any{ // a FAIL receipt with no receive time
		"CountryCode":  "86",
		"PhoneNumber":  "+8613812340000",
		"SerialNo":     "2640:000000002",
		"ReportStatus": "FAIL",
		"Description":  "MK:0001",
	},
}

var wantReceipts = []tencentsms.Receipt{
	{
		UserReceiveTime:  time.Date(2024, 5, 1, 5, 23, 3, 0, time.UTC),
		CountryCode:      "86",
		SubscriberNumber: "13812345678",
		PhoneNumber:      "+8613812345678",
		SerialNo:         "2640:000000001",
		ReportStatus:     tencentsms.ReportSuccess,
		Description:      "DELIVRD",
		SessionContext:   "job-42",
	},
	{
		CountryCode:  "86",
		PhoneNumber:  "+8613812340000",
		SerialNo:     "2640:000000002",
		ReportStatus: tencentsms.ReportFail,
		Description:  "MK:0001",
	},
}

func TestPullSendStatus(t *testing.T) {
	t.Parallel()
	var got capture[sms.PullSmsSendStatusRequestParams]
	f := newFake(t, func(c call) reply {
		got.set(t, c)
		return ok(map[string]any{"PullSmsSendStatusSet": receiptSet})
	})
	c := newClient(t, f.url())
	rs, err := c.PullSendStatus(context.Background(), testAppID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rs, wantReceipts) {
		t.Errorf("receipts\n got %+v\nwant %+v", rs, wantReceipts)
	}
	action, p := got.get()
	want := sms.PullSmsSendStatusRequestParams{Limit: u64(100), SmsSdkAppId: strp(testAppID)}
	if action != "PullSmsSendStatus" || !reflect.DeepEqual(p, want) {
		t.Errorf("request %s %+v", action, p)
	}
}

func TestPullSendStatusByPhoneNumber(t *testing.T) {
	t.Parallel()
	var got capture[sms.PullSmsSendStatusByPhoneNumberRequestParams]
	f := newFake(t, func(c call) reply {
		got.set(t, c)
		return ok(map[string]any{"PullSmsSendStatusSet": receiptSet[:1]})
	})
	c := newClient(t, f.url())
	begin := time.Date(2024, 5, 1, 13, 0, 0, 0, time.FixedZone("CST", 8*3600))
	rs, err := c.PullSendStatusByPhoneNumber(context.Background(), tencentsms.PullByPhoneRequest{
		AppID:       testAppID,
		PhoneNumber: "+8613812345678",
		Begin:       begin,
		End:         begin.Add(90 * time.Minute),
		Limit:       50,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rs, wantReceipts[:1]) {
		t.Errorf("receipts %+v", rs)
	}
	action, p := got.get()
	want := sms.PullSmsSendStatusByPhoneNumberRequestParams{
		BeginTime:   u64(1714539600), // 2024-05-01 05:00:00 UTC
		EndTime:     u64(1714545000),
		Offset:      u64(0),
		Limit:       u64(50),
		PhoneNumber: strp("+8613812345678"),
		SmsSdkAppId: strp(testAppID),
	}
	if action != "PullSmsSendStatusByPhoneNumber" || !reflect.DeepEqual(p, want) {
		t.Errorf("request %s %+v", action, p)
	}
}

func TestSendStatusStatistics(t *testing.T) {
	t.Parallel()
	var got capture[sms.SendStatusStatisticsRequestParams]
	f := newFake(t, func(c call) reply {
		got.set(t, c)
		return ok(map[string]any{"SendStatusStatistics": map[string]any{
			"FeeCount": 120, "RequestCount": 100, "RequestSuccessCount": 95,
		}})
	})
	c := newClient(t, f.url())
	// 05:30 UTC is 13:30 in Beijing; 10:59 UTC is 18:59.
	st, err := c.SendStatusStatistics(context.Background(), tencentsms.StatisticsRequest{
		AppID: testAppID,
		Begin: time.Date(2024, 5, 1, 5, 30, 0, 0, time.UTC),
		End:   time.Date(2024, 5, 1, 10, 59, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (tencentsms.SendStatistics{FeeCount: 120, RequestCount: 100, RequestSuccessCount: 95}); *st != want {
		t.Errorf("statistics %+v, want %+v", *st, want)
	}
	action, p := got.get()
	want := sms.SendStatusStatisticsRequestParams{
		BeginTime: strp("2024050113"), EndTime: strp("2024050118"),
		SmsSdkAppId: strp(testAppID), Limit: u64(0), Offset: u64(0),
	}
	if action != "SendStatusStatistics" || !reflect.DeepEqual(p, want) {
		t.Errorf("request %s %+v", action, p)
	}
}

func TestSmsPackagesStatistics(t *testing.T) {
	t.Parallel()
	var got capture[sms.SmsPackagesStatisticsRequestParams]
	f := newFake(t, func(c call) reply {
		got.set(t, c)
		return ok(map[string]any{"SmsPackagesStatisticsSet": []any{map[string]any{
			"PackageCreateTime":    1714540983,
			"PackageEffectiveTime": 1714540983,
			"PackageExpiredTime":   1746076983,
			"PackageAmount":        10000,
			"PackageType":          1,
			"PackageId":            7351,
			"CurrentUsage":         9990,
		}}})
	})
	c := newClient(t, f.url())
	// Beijing is UTC+8: 2024-04-30 16:00 UTC is 2024-05-01 00h there.
	pkgs, err := c.SmsPackagesStatistics(context.Background(), tencentsms.PackagesRequest{
		AppID:  testAppID,
		Begin:  time.Date(2024, 4, 30, 16, 0, 0, 0, time.UTC),
		End:    time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		Limit:  10,
		Offset: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []tencentsms.Package{{
		ID:            "7351",
		Type:          tencentsms.PackagePurchased,
		Amount:        10000,
		CurrentUsage:  9990,
		CreateTime:    time.Unix(1714540983, 0).UTC(),
		EffectiveTime: time.Unix(1714540983, 0).UTC(),
		ExpiredTime:   time.Unix(1746076983, 0).UTC(),
	}}
	if !reflect.DeepEqual(pkgs, want) {
		t.Errorf("packages\n got %+v\nwant %+v", pkgs, want)
	}
	if r := pkgs[0].Remaining(); r != 10 {
		t.Errorf("Remaining() = %d, want 10", r)
	}
	action, p := got.get()
	wantReq := sms.SmsPackagesStatisticsRequestParams{
		SmsSdkAppId: strp(testAppID), Limit: u64(10), Offset: u64(20),
		BeginTime: strp("2024050100"), EndTime: strp("2024060108"),
	}
	if action != "SmsPackagesStatistics" || !reflect.DeepEqual(p, wantReq) {
		t.Errorf("request %s %+v", action, p)
	}
}

func TestAddSmsTemplate(t *testing.T) {
	t.Parallel()
	var got capture[sms.AddSmsTemplateRequestParams]
	f := newFake(t, func(c call) reply {
		got.set(t, c)
		return ok(map[string]any{"AddTemplateStatus": map[string]any{"TemplateId": "1122334"}})
	})
	c := newClient(t, f.url())
	id, err := c.AddSmsTemplate(context.Background(), tencentsms.AddTemplateRequest{
		Name:          "login code",
		Content:       "Your code is {1}, valid for {2} minutes.",
		Type:          tencentsms.SmsVerificationCode,
		International: true,
		Remark:        "login OTP",
	})
	if err != nil {
		t.Fatal(err)
	}
	if id != "1122334" {
		t.Errorf("template ID %q", id)
	}
	action, p := got.get()
	want := sms.AddSmsTemplateRequestParams{
		TemplateName:    strp("login code"),
		TemplateContent: strp("Your code is {1}, valid for {2} minutes."),
		SmsType:         u64(3),
		International:   u64(1),
		Remark:          strp("login OTP"),
	}
	if action != "AddSmsTemplate" || !reflect.DeepEqual(p, want) {
		t.Errorf("request %s %+v", action, p)
	}
}

func TestAddSmsTemplateWithoutID(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(c call) reply { return ok(map[string]any{}) })
	c := newClient(t, f.url())
	_, err := c.AddSmsTemplate(context.Background(), tencentsms.AddTemplateRequest{
		Name: "n", Content: "c", Type: tencentsms.SmsNotification,
	})
	wantTransport(t, err, true, 200)
}

func TestDescribeSmsTemplateList(t *testing.T) {
	t.Parallel()
	var got capture[map[string]any]
	f := newFake(t, func(c call) reply {
		got.mu.Lock()
		got.params = nil
		got.mu.Unlock()
		got.set(t, c)
		return ok(map[string]any{"DescribeTemplateStatusSet": []any{
			map[string]any{
				"TemplateId": 1122334, "International": 0, "StatusCode": 0, "ReviewReply": "",
				"TemplateName": "login code", "CreateTime": 1714540983, "TemplateContent": "Your code is {1}.",
			},
			map[string]any{"TemplateId": 1122335, "StatusCode": -1, "ReviewReply": "contains a URL"},
			map[string]any{"TemplateId": 1122336}, // no StatusCode: not known to be usable
		}})
	})
	c := newClient(t, f.url())
	want := []tencentsms.Template{
		{ID: "1122334", Name: "login code", Content: "Your code is {1}.", Status: tencentsms.TemplateApproved,
			CreateTime: time.Unix(1714540983, 0).UTC()},
		{ID: "1122335", Status: tencentsms.TemplateRejected, ReviewReply: "contains a URL"},
		{ID: "1122336", Status: tencentsms.TemplateInReview},
	}

	tests := []struct {
		name string
		req  tencentsms.TemplateListRequest
		body map[string]any
	}{
		{"by IDs", tencentsms.TemplateListRequest{TemplateIDs: []string{"1122334", "1122335", "1122336"}},
			map[string]any{"International": 0.0, "TemplateIdSet": []any{1122334.0, 1122335.0, 1122336.0}}},
		{"by page", tencentsms.TemplateListRequest{International: true, Limit: 100, Offset: 200},
			map[string]any{"International": 1.0, "Limit": 100.0, "Offset": 200.0}},
	}
	for _, tt := range tests {
		ts, err := c.DescribeSmsTemplateList(context.Background(), tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(ts, want) {
			t.Errorf("%s: templates\n got %+v\nwant %+v", tt.name, ts, want)
		}
		action, body := got.get()
		if action != "DescribeSmsTemplateList" || !reflect.DeepEqual(body, tt.body) {
			t.Errorf("%s: request %s %v, want %v", tt.name, action, body, tt.body)
		}
	}
}
