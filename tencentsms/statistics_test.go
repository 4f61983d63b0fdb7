package tencentsms_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

func TestCallbackStatusStatistics(t *testing.T) {
	t.Parallel()
	var got capture[sms.CallbackStatusStatisticsRequestParams]
	f := newFake(t, func(c call) reply {
		got.set(t, c)
		return ok(map[string]any{"CallbackStatusStatistics": map[string]any{
			"CallbackCount": 90, "RequestSuccessCount": 95, "CallbackFailCount": 4, "CallbackSuccessCount": 86,
			"InternalErrorCount": 1, "InvalidNumberCount": 1, "ShutdownErrorCount": 1, "BlackListCount": 1,
			"FrequencyLimitCount": 0,
		}})
	})
	c := newClient(t, f.url())
	st, err := c.CallbackStatusStatistics(context.Background(), tencentsms.StatisticsRequest{
		AppID: testAppID,
		Begin: time.Date(2024, 5, 1, 5, 30, 0, 0, time.UTC),
		End:   time.Date(2024, 5, 1, 10, 59, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := tencentsms.CallbackStatistics{CallbackCount: 90, RequestSuccessCount: 95, CallbackFailCount: 4,
		CallbackSuccessCount: 86, InternalErrorCount: 1, InvalidNumberCount: 1, ShutdownErrorCount: 1, BlackListCount: 1}
	if *st != want {
		t.Errorf("statistics %+v, want %+v", *st, want)
	}
	action, p := got.get()
	wantReq := sms.CallbackStatusStatisticsRequestParams{
		BeginTime: strp("2024050113"), EndTime: strp("2024050118"),
		SmsSdkAppId: strp(testAppID), Limit: u64(0), Offset: u64(0),
	}
	if action != "CallbackStatusStatistics" || !reflect.DeepEqual(p, wantReq) {
		t.Errorf("request %s %+v", action, p)
	}
}

func TestCallbackStatusStatisticsArguments(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(call) reply {
		t.Error("a rejected request reached the server")
		return ok(map[string]any{})
	})
	c := newClient(t, f.url())
	begin := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []tencentsms.StatisticsRequest{
		{Begin: begin, End: begin},
		{AppID: testAppID, End: begin},
		{AppID: testAppID, Begin: begin, End: begin.Add(-time.Hour)},
		{AppID: testAppID, Begin: begin, End: begin.AddDate(0, 0, 33)},
	} {
		if _, err := c.CallbackStatusStatistics(context.Background(), r); !errors.Is(err, tencentsms.ErrInvalidArgument) {
			t.Errorf("%+v: error %v, want ErrInvalidArgument", r, err)
		}
	}
}

func TestTemplateParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		content string
		want    int
	}{
		{"", 0},
		{"Hello", 0},
		{"Your code is {1}, valid for {2} minutes.", 2},
		{"{2} then {1}", 2},
		{"{1}{1}", 1},
		{"{12}", 12},
		{"{} {a} {1", 0},
		{"验证码{1}，{3}分钟内有效", 3},
		{"{ 1}", 0},
	}
	for _, tt := range tests {
		if got := tencentsms.TemplateParams(tt.content); got != tt.want {
			t.Errorf("TemplateParams(%q) = %d, want %d", tt.content, got, tt.want)
		}
		if got := (tencentsms.Template{Content: tt.content}).Params(); got != tt.want {
			t.Errorf("Template.Params(%q) = %d, want %d", tt.content, got, tt.want)
		}
	}
}

func TestTemplateRegions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		intl             int
		domestic, abroad bool
	}{
		{tencentsms.TemplateDomestic, true, false},
		{tencentsms.TemplateInternational, false, true},
		{tencentsms.TemplateBoth, true, true},
	} {
		tpl := tencentsms.Template{International: tt.intl}
		if tpl.Domestic() != tt.domestic || tpl.Abroad() != tt.abroad {
			t.Errorf("International %d: Domestic %v Abroad %v, want %v %v", tt.intl, tpl.Domestic(), tpl.Abroad(), tt.domestic, tt.abroad)
		}
	}
}

// TestStatisticsAgainstSandbox sends through the sandbox and reads both statistics back, and a
// refused statistics action comes back as a *tencentsms.Error with its code.
func TestStatisticsAgainstSandbox(t *testing.T) {
	t.Parallel()
	cfg := sandbox.DefaultConfig()
	cfg.ReceiptDelay = 0
	// An account without the permission for CallbackStatusStatistics: Tencent answers
	// UnauthorizedOperation.RequestPermissionDeny.
	c := sandboxClient(t, cfg, func(sb http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-TC-Action") == "CallbackStatusStatistics" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"Response":{"Error":{"Code":"UnauthorizedOperation.RequestPermissionDeny","Message":"no permission"},"RequestId":"r-1"}}`))
				return
			}
			sb.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	if _, err := c.SendSms(ctx, tencentsms.SendRequest{
		AppID: cfg.AppID, SignName: cfg.SignNames[0], TemplateID: sandbox.TemplateNotice,
		TemplateParams: []string{"A-1"}, PhoneNumbers: []string{"+8613900000001", "+8613900000002"},
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r := tencentsms.StatisticsRequest{AppID: cfg.AppID, Begin: now.Add(-time.Hour), End: now.Add(time.Hour)}
	st, err := c.SendStatusStatistics(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestCount != 2 || st.RequestSuccessCount != 2 || st.FeeCount != 2 {
		t.Errorf("send statistics %+v, want 2 requests, 2 accepted, fee 2", *st)
	}
	_, err = c.CallbackStatusStatistics(ctx, r)
	var te *tencentsms.Error
	if !errors.As(err, &te) || te.Code != "UnauthorizedOperation.RequestPermissionDeny" || te.Action != "CallbackStatusStatistics" {
		t.Fatalf("refused action: error %v, want *tencentsms.Error RequestPermissionDeny", err)
	}
}

// TestCallbackStatisticsAgainstSandbox reads the receipt counts of delivered sends.
func TestCallbackStatisticsAgainstSandbox(t *testing.T) {
	t.Parallel()
	cfg := sandbox.DefaultConfig()
	cfg.ReceiptDelay = 0
	cfg.ReceiptFailRate = 0
	c := sandboxClient(t, cfg, nil)
	ctx := context.Background()
	if _, err := c.SendSms(ctx, tencentsms.SendRequest{
		AppID: cfg.AppID, SignName: cfg.SignNames[0], TemplateID: sandbox.TemplateNotice,
		TemplateParams: []string{"A-1"}, PhoneNumbers: []string{"+8613900000001", "+8613900000002", "+8613900000003"},
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st, err := c.CallbackStatusStatistics(ctx, tencentsms.StatisticsRequest{AppID: cfg.AppID, Begin: now.Add(-time.Hour), End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if st.RequestSuccessCount != 3 {
		t.Errorf("callback statistics %+v, want 3 accepted", *st)
	}
	if st.CallbackCount != st.CallbackSuccessCount+st.CallbackFailCount {
		t.Errorf("callback statistics %+v: count is not success + fail", *st)
	}
}

// sandboxClient returns a client of a sandbox with cfg, its handler wrapped by wrap (nil: none).
func sandboxClient(t *testing.T, cfg sandbox.Config, wrap func(http.Handler) http.Handler) *tencentsms.Client {
	t.Helper()
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	var h http.Handler = sb
	if wrap != nil {
		h = wrap(sb)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := tencentsms.New(tencentsms.Config{SecretID: cfg.SecretID, SecretKey: cfg.SecretKey, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
