package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestSDKSendSmsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		profile func(*profile.ClientProfile)
	}{
		{"signed payload", func(*profile.ClientProfile) {}},
		{"unsigned payload", func(p *profile.ClientProfile) { p.UnsignedPayload = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c := sdkClientProfile(t, e.ts, DefaultSecretID, DefaultSecretKey, tc.profile)
			req := otp("+8613800000000")
			req.SessionContext = sp("job-42")
			resp, err := c.SendSms(req)
			if err != nil {
				t.Fatalf("SendSms: %v", err)
			}
			if !uuidRE.MatchString(*resp.Response.RequestId) {
				t.Errorf("RequestId %q is not a UUID", *resp.Response.RequestId)
			}
			st := resp.Response.SendStatusSet[0]
			if *st.Code != "Ok" || *st.Message != "send success" || *st.Fee != 1 || *st.IsoCode != "CN" ||
				*st.PhoneNumber != "+8613800000000" || *st.SessionContext != "job-42" {
				t.Errorf("SendStatus = %s", resp.ToJsonString())
			}
			if !regexp.MustCompile(`^2640:\d{22}$`).MatchString(*st.SerialNo) {
				t.Errorf("SerialNo %q is not Tencent-like", *st.SerialNo)
			}
			if got := e.srv.Stats().NumbersSent; got != 1 {
				t.Errorf("NumbersSent = %d, want 1", got)
			}
		})
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	t.Run("wrong key", func(t *testing.T) {
		c := sdkClient(t, e.ts, DefaultSecretID, "not-the-key")
		_, err := c.SendSms(otp("+8613800000001"))
		if got := sdkCode(t, err); got != "AuthFailure.SignatureFailure" {
			t.Errorf("code = %q, want AuthFailure.SignatureFailure", got)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		c := sdkClient(t, e.ts, "AKIDunknown", DefaultSecretKey)
		_, err := c.SendSms(otp("+8613800000001"))
		if got := sdkCode(t, err); got != "AuthFailure.SecretIdNotFound" {
			t.Errorf("code = %q, want AuthFailure.SecretIdNotFound", got)
		}
	})
	t.Run("stale timestamp", func(t *testing.T) {
		t.Parallel()
		skewed := newEnv(t, func(c *Config) {
			c.Now = func() time.Time { return time.Now().Add(6 * time.Minute) }
		})
		_, err := skewed.client.SendSms(otp("+8613800000001"))
		if got := sdkCode(t, err); got != "AuthFailure.SignatureExpire" {
			t.Errorf("code = %q, want AuthFailure.SignatureExpire", got)
		}
		if skewed.srv.Stats().NumbersSent != 0 {
			t.Error("a rejected call was recorded")
		}
	})
	if got := e.srv.Stats().NumbersSent; got != 0 {
		t.Errorf("NumbersSent = %d after rejected calls", got)
	}
}

func TestRawProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	now := time.Now()
	body := `{"Limit":10,"SmsSdkAppId":"` + DefaultAppID + `"}`
	tests := []struct {
		name    string
		headers map[string]string
		body    string
		key     string
		want    string
	}{
		{"valid", map[string]string{"X-TC-Action": "PullSmsSendStatus"}, body, DefaultSecretKey, ""},
		{"missing authorization", map[string]string{"X-TC-Action": "PullSmsSendStatus"}, body, "", "AuthFailure.InvalidAuthorization"},
		{"malformed authorization", map[string]string{"X-TC-Action": "PullSmsSendStatus", "Authorization": "TC3-HMAC-SHA256 Credential=x"}, body, "", "AuthFailure.InvalidAuthorization"},
		{"unknown action", map[string]string{"X-TC-Action": "SendSmsPlease"}, body, DefaultSecretKey, "InvalidAction"},
		{"unimplemented action", map[string]string{"X-TC-Action": "DescribeSmsSignList"}, body, DefaultSecretKey, "UnsupportedOperation"},
		{"wrong version", map[string]string{"X-TC-Action": "PullSmsSendStatus", "X-TC-Version": "2019-07-11"}, body, DefaultSecretKey, "NoSuchVersion"},
		{"bad region", map[string]string{"X-TC-Action": "PullSmsSendStatus", "X-TC-Region": "mars-1"}, body, DefaultSecretKey, "UnsupportedRegion"},
		{"bad json", map[string]string{"X-TC-Action": "PullSmsSendStatus"}, `{"Limit":`, DefaultSecretKey, "FailedOperation.JsonParseFail"},
		{"wrong type", map[string]string{"X-TC-Action": "PullSmsSendStatus"}, `{"Limit":"ten"}`, DefaultSecretKey, "InvalidParameter"},
		{"limit too big", map[string]string{"X-TC-Action": "PullSmsSendStatus"}, `{"Limit":101,"SmsSdkAppId":"` + DefaultAppID + `"}`, DefaultSecretKey, "InvalidParameterValue.LimitVerifyFail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawCall(t, e.ts, tc.headers, tc.body, DefaultSecretID, tc.key, now)
			var env struct {
				Response struct {
					Error *struct {
						Code    string
						Message string
					}
					RequestId string
				}
			}
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatalf("reply %s: %v", raw, err)
			}
			if !uuidRE.MatchString(env.Response.RequestId) {
				t.Errorf("RequestId %q is not a UUID", env.Response.RequestId)
			}
			got := ""
			if env.Response.Error != nil {
				got = env.Response.Error.Code
				if env.Response.Error.Message == "" {
					t.Error("empty error message")
				}
			}
			if got != tc.want {
				t.Errorf("code = %q, want %q (reply %s)", got, tc.want, raw)
			}
		})
	}

	t.Run("tampered body", func(t *testing.T) {
		raw := rawCallSigned(t, e.ts, map[string]string{"X-TC-Action": "PullSmsSendStatus"},
			`{"Limit":99,"SmsSdkAppId":"`+DefaultAppID+`"}`, body, DefaultSecretID, DefaultSecretKey, now)
		if !strings.Contains(string(raw), `"Code":"AuthFailure.SignatureFailure"`) {
			t.Errorf("reply %s, want AuthFailure.SignatureFailure", raw)
		}
	})
}

func TestSend200MixedResults(t *testing.T) {
	t.Parallel()
	blocked := []string{"+8613900000003", "+8613900000077"}
	e := newEnv(t, func(c *Config) {
		c.Faults.NumberCodes = map[string]string{
			blocked[0]:    "FailedOperation.PhoneNumberInBlacklist",
			"13900000150": "LimitExceeded.PhoneNumberOneHourLimit", // any accepted form
		}
		c.Faults.NumberCodes[blocked[1]] = "FailedOperation.PhoneNumberInBlacklist"
	})
	numbers := cnNumbers(0, 200)
	invalid := map[int]string{10: "+861234", 20: "not-a-number", 30: "+8612000000000", 40: "+86139000000401"}
	for i, n := range invalid {
		numbers[i] = n
	}
	numbers[50] = "008613900000050" // 0086 form
	numbers[60] = "8613900000060"   // 86 form
	numbers[70] = "13900000070"     // bare
	set := mustSend(t, e.client, otp(numbers...))
	if len(set) != 200 {
		t.Fatalf("%d entries, want 200", len(set))
	}
	serials := map[string]bool{}
	ok := 0
	for i, st := range set {
		want := "Ok"
		switch {
		case invalid[i] != "":
			want = "InvalidParameterValue.IncorrectPhoneNumber"
		case i == 3 || i == 77:
			want = "FailedOperation.PhoneNumberInBlacklist"
		case i == 150:
			want = "LimitExceeded.PhoneNumberOneHourLimit"
		}
		if *st.Code != want {
			t.Errorf("entry %d (%s): code %q, want %q", i, numbers[i], *st.Code, want)
		}
		if want != "Ok" {
			if *st.SerialNo != "" || *st.Fee != 0 {
				t.Errorf("entry %d: failed number has SerialNo %q Fee %d", i, *st.SerialNo, *st.Fee)
			}
			continue
		}
		ok++
		if serials[*st.SerialNo] {
			t.Errorf("duplicate SerialNo %s", *st.SerialNo)
		}
		serials[*st.SerialNo] = true
		if wantNum := "+86139" + padInt(i, 8); *st.PhoneNumber != wantNum {
			t.Errorf("entry %d: PhoneNumber %q, want normalized %q", i, *st.PhoneNumber, wantNum)
		}
	}
	if ok != 193 {
		t.Errorf("%d Ok, want 193", ok)
	}
	s := e.srv.Stats()
	if s.NumbersSent != 193 || s.LargestBatch != 200 || s.ReceiptsCreated != 193 || s.FeeUsed != 193 {
		t.Errorf("stats = %+v", s)
	}
	if s.NumberErrors["InvalidParameterValue.IncorrectPhoneNumber"] != 4 || s.NumberErrors["FailedOperation.PhoneNumberInBlacklist"] != 2 {
		t.Errorf("NumberErrors = %v", s.NumberErrors)
	}
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name string
		req  func() *sms.SendSmsRequest
		want string
	}{
		{"201 numbers", func() *sms.SendSmsRequest { return otp(cnNumbers(0, 201)...) }, "LimitExceeded.PhoneNumberCountLimit"},
		{"no numbers", func() *sms.SendSmsRequest { return otp() }, "MissingParameter.EmptyPhoneNumberSet"},
		{"mixed domestic and international", func() *sms.SendSmsRequest { return otp("+8613800000000", "+14155550123") },
			"UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber"},
		{"unknown app", func() *sms.SendSmsRequest { r := otp("+8613800000000"); r.SmsSdkAppId = sp("1400999999"); return r },
			"InvalidParameterValue.SdkAppIdNotExist"},
		{"unknown template", func() *sms.SendSmsRequest { return sendReq("999", nil, "+8613800000000") },
			"FailedOperation.TemplateIncorrectOrUnapproved"},
		{"template under review", func() *sms.SendSmsRequest { return sendReq(TemplateUnderReview, []string{"x"}, "+8613800000000") },
			"FailedOperation.TemplateIncorrectOrUnapproved"},
		{"param count", func() *sms.SendSmsRequest { return sendReq(TemplateOTP, []string{"1234"}, "+8613800000000") },
			"FailedOperation.TemplateParamSetNotMatchApprovedTemplate"},
		{"otp param not digits", func() *sms.SendSmsRequest { return sendReq(TemplateOTP, []string{"12ab", "5"}, "+8613800000000") },
			"InvalidParameterValue.TemplateParameterFormatError"},
		{"url in param", func() *sms.SendSmsRequest { return sendReq(TemplateNotice, []string{"http://x.cn"}, "+8613800000000") },
			"InvalidParameterValue.ProhibitedUseUrlInTemplateParameter"},
		{"unapproved sign", func() *sms.SendSmsRequest { r := otp("+8613800000000"); r.SignName = sp("Other"); return r },
			"FailedOperation.SignatureIncorrectOrUnapproved"},
		{"international template to mainland", func() *sms.SendSmsRequest { return sendReq(TemplateIntlOTP, []string{"1", "2"}, "+8613800000000") },
			"UnsupportedOperation.GlobalTemplateToChineseMainlandPhone"},
		{"mainland template abroad", func() *sms.SendSmsRequest { return otp("+14155550123") },
			"UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone"},
		{"long session context", func() *sms.SendSmsRequest {
			r := otp("+8613800000000")
			r.SessionContext = sp(strings.Repeat("x", 512))
			return r
		},
			"InvalidParameter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.SendSms(tc.req())
			if got := sdkCode(t, err); got != tc.want {
				t.Errorf("code = %q, want %q", got, tc.want)
			}
		})
	}
	s := e.srv.Stats()
	if s.NumbersSent != 0 || s.LargestBatch != 201 {
		t.Errorf("NumbersSent = %d, LargestBatch = %d; want 0, 201", s.NumbersSent, s.LargestBatch)
	}
}

func TestInternationalSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	req := sendReq(TemplateIntlOTP, []string{"1234", "5"}, "+14155550123", "+85291234567", "+442071838750")
	req.SignName = nil
	set := mustSend(t, e.client, req)
	for i, want := range []string{"US", "HK", "GB"} {
		if *set[i].Code != "Ok" || *set[i].IsoCode != want || *set[i].Fee != 1 {
			t.Errorf("entry %d: %s %s fee %d, want Ok %s 1", i, *set[i].Code, *set[i].IsoCode, *set[i].Fee, want)
		}
	}
}

func TestThirtySecondRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const n = "+8613800000010"
	if got := codeOf(t, e.client, otp(n)); got != "Ok" {
		t.Fatalf("first send: %s", got)
	}
	e.clock.Add(29 * time.Second)
	if got := codeOf(t, e.client, otp(n)); got != "LimitExceeded.PhoneNumberThirtySecondLimit" {
		t.Errorf("second send within 30 s: %s", got)
	}
	if got := codeOf(t, e.client, sendReq(TemplateNotice, []string{"A1"}, n)); got != "Ok" {
		t.Errorf("other template within 30 s: %s", got)
	}
	e.clock.Add(time.Second)
	if got := codeOf(t, e.client, otp(n)); got != "Ok" {
		t.Errorf("send after 30 s: %s", got)
	}
	// The same number twice in one call: the second is within 30 s.
	e.clock.Add(time.Minute)
	set := mustSend(t, e.client, otp(n, n))
	if *set[0].Code != "Ok" || *set[1].Code != "LimitExceeded.PhoneNumberThirtySecondLimit" {
		t.Errorf("same number twice in a call: %s, %s", *set[0].Code, *set[1].Code)
	}
}

func TestDailyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.DailyLimit = 3
		c.FrequencyInterval = 0
		c.MaxClockSkew = 72 * time.Hour // the test moves the server clock a day on
	})
	const n = "+8613800000020"
	for i := range 3 {
		if got := codeOf(t, e.client, otp(n)); got != "Ok" {
			t.Fatalf("send %d: %s", i+1, got)
		}
	}
	if got := codeOf(t, e.client, otp(n)); got != "LimitExceeded.PhoneNumberDailyLimit" {
		t.Errorf("4th send: %s", got)
	}
	if got := codeOf(t, e.client, otp("+8613800000021")); got != "Ok" {
		t.Errorf("another number: %s", got)
	}
	e.clock.Add(24 * time.Hour)
	if got := codeOf(t, e.client, otp(n)); got != "Ok" {
		t.Errorf("next day: %s", got)
	}
	if got := e.srv.SendCount(n); got != 4 {
		t.Errorf("SendCount = %d, want 4 (rejections do not count)", got)
	}
	if got := e.srv.Stats().DuplicateSends; got != 3 {
		t.Errorf("DuplicateSends = %d, want 3", got)
	}
}

func pull(t *testing.T, c *sms.Client, limit uint64) []*sms.PullSmsSendStatus {
	t.Helper()
	req := sms.NewPullSmsSendStatusRequest()
	req.SmsSdkAppId = sp(DefaultAppID)
	req.Limit = u64(limit)
	resp, err := c.PullSmsSendStatus(req)
	if err != nil {
		t.Fatalf("PullSmsSendStatus: %v", err)
	}
	return resp.Response.PullSmsSendStatusSet
}

func pullByNumber(t *testing.T, c *sms.Client, number string, begin, end time.Time) []*sms.PullSmsSendStatus {
	t.Helper()
	req := sms.NewPullSmsSendStatusByPhoneNumberRequest()
	req.SmsSdkAppId = sp(DefaultAppID)
	req.PhoneNumber = sp(number)
	req.BeginTime = u64(uint64(begin.Unix()))
	req.EndTime = u64(uint64(end.Unix()))
	req.Limit = u64(100)
	req.Offset = u64(0)
	resp, err := c.PullSmsSendStatusByPhoneNumber(req)
	if err != nil {
		t.Fatalf("PullSmsSendStatusByPhoneNumber: %v", err)
	}
	return resp.Response.PullSmsSendStatusSet
}

func TestReceiptsPulledOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.ReceiptDelay = 10 * time.Second })
	numbers := cnNumbers(1000, 150)
	set := mustSend(t, e.client, otp(numbers...))
	sent := map[string]string{}
	for _, st := range set {
		sent[*st.SerialNo] = *st.PhoneNumber
	}
	if got := pull(t, e.client, 100); len(got) != 0 {
		t.Fatalf("%d receipts pullable before ReceiptDelay", len(got))
	}
	if s := e.srv.Stats(); s.ReceiptsPending != 150 || s.ReceiptsReady != 0 {
		t.Errorf("pending %d ready %d, want 150, 0", s.ReceiptsPending, s.ReceiptsReady)
	}
	e.clock.Add(10 * time.Second)
	first, second, third := pull(t, e.client, 100), pull(t, e.client, 100), pull(t, e.client, 100)
	if len(first) != 100 || len(second) != 50 || len(third) != 0 {
		t.Fatalf("pulled %d, %d, %d; want 100, 50, 0", len(first), len(second), len(third))
	}
	seen := map[string]bool{}
	for i, r := range append(first, second...) {
		if seen[*r.SerialNo] {
			t.Errorf("receipt %s pulled twice", *r.SerialNo)
		}
		seen[*r.SerialNo] = true
		if sent[*r.SerialNo] != *r.PhoneNumber {
			t.Errorf("receipt %s for %s, sent to %q", *r.SerialNo, *r.PhoneNumber, sent[*r.SerialNo])
		}
		if *r.PhoneNumber != numbers[i] {
			t.Errorf("receipt %d is for %s, want oldest first (%s)", i, *r.PhoneNumber, numbers[i])
		}
		if *r.CountryCode != "86" || "+86"+*r.SubscriberNumber != *r.PhoneNumber {
			t.Errorf("receipt number fields: %s %s %s", *r.CountryCode, *r.SubscriberNumber, *r.PhoneNumber)
		}
		if *r.ReportStatus == "SUCCESS" && *r.Description != "用户接收成功" {
			t.Errorf("SUCCESS description %q", *r.Description)
		}
	}
	if s := e.srv.Stats(); s.ReceiptsPending != 0 || s.ReceiptsPulled != 150 {
		t.Errorf("pending %d pulled %d, want 0, 150", s.ReceiptsPending, s.ReceiptsPulled)
	}
	// By number: not consuming, and still there after the destructive pull.
	now := e.clock.Now()
	for range 2 {
		got := pullByNumber(t, e.client, numbers[7], now.Add(-time.Hour), now.Add(time.Hour))
		if len(got) != 1 || *got[0].PhoneNumber != numbers[7] {
			t.Fatalf("by number: %d receipts", len(got))
		}
	}
	if got := pullByNumber(t, e.client, numbers[7], now.Add(time.Hour), now.Add(2*time.Hour)); len(got) != 0 {
		t.Errorf("by number outside the range: %d receipts", len(got))
	}
	if got := e.srv.ReceiptsFor(numbers[7]); len(got) != 1 || got[0].SerialNo == "" {
		t.Errorf("ReceiptsFor = %+v", got)
	}
}

func TestReceiptFailShareDeterministic(t *testing.T) {
	t.Parallel()
	statuses := func(seed int64) []string {
		e := newEnv(t, func(c *Config) { c.Seed = seed; c.ReceiptFailRate = 0.3 })
		mustSend(t, e.client, otp(cnNumbers(0, 200)...))
		var out []string
		for _, r := range append(pull(t, e.client, 100), pull(t, e.client, 100)...) {
			out = append(out, *r.ReportStatus+"/"+*r.Description)
		}
		return out
	}
	a, b, c := statuses(7), statuses(7), statuses(8)
	if !slices.Equal(a, b) {
		t.Error("same seed gave different receipts")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave identical receipts")
	}
	fails := 0
	for _, s := range a {
		if strings.HasPrefix(s, "FAIL/") {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Errorf("%d of %d FAIL with rate 0.3", fails, len(a))
	}
}

// receiver is a callback endpoint that fails its first failFirst POSTs.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	posts     int
	bodies    [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.posts++
	fail := rc.posts <= rc.failFirst
	if !fail {
		rc.bodies = append(rc.bodies, b)
	}
	rc.mu.Unlock()
	if fail {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte(`{"result":0,"errmsg":"OK"}`))
}

func TestCallbackPush(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	cb := httptest.NewServer(rc)
	t.Cleanup(cb.Close)
	e := newEnv(t, func(c *Config) { c.CallbackURL = cb.URL; c.ReceiptFailRate = 0.2 })
	set := mustSend(t, e.client, otp(cnNumbers(0, 150)...))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.srv.FlushCallbacks(ctx); err != nil {
		t.Fatalf("FlushCallbacks: %v", err)
	}
	rc.mu.Lock()
	bodies := rc.bodies
	rc.mu.Unlock()
	var items []map[string]any
	for _, b := range bodies {
		var batch []map[string]any
		if err := json.Unmarshal(b, &batch); err != nil {
			t.Fatalf("callback body %s: %v", b, err)
		}
		if len(batch) > 100 {
			t.Errorf("batch of %d items", len(batch))
		}
		items = append(items, batch...)
	}
	if len(items) != 150 {
		t.Fatalf("%d items pushed, want 150", len(items))
	}
	wantKeys := []string{"description", "errmsg", "ext", "mobile", "nationcode", "report_status", "sid", "user_receive_time"}
	for i, it := range items {
		keys := make([]string, 0, len(it))
		for k := range it {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, wantKeys) {
			t.Fatalf("item keys %v, want %v", keys, wantKeys)
		}
		if _, err := time.Parse(time.DateTime, it["user_receive_time"].(string)); err != nil {
			t.Errorf("user_receive_time %v: %v", it["user_receive_time"], err)
		}
		if it["nationcode"] != "86" || "+86"+it["mobile"].(string) != *set[i].PhoneNumber || it["sid"] != *set[i].SerialNo || it["ext"] != "" {
			t.Errorf("item %d = %v, sent %s %s", i, it, *set[i].PhoneNumber, *set[i].SerialNo)
		}
		switch it["report_status"] {
		case "SUCCESS":
			if it["errmsg"] != "DELIVRD" {
				t.Errorf("SUCCESS errmsg %v", it["errmsg"])
			}
		case "FAIL":
			if it["errmsg"] == "DELIVRD" || it["errmsg"] == "" {
				t.Errorf("FAIL errmsg %v", it["errmsg"])
			}
		default:
			t.Errorf("report_status %v", it["report_status"])
		}
	}
	if s := e.srv.Stats(); s.CallbackItems != 150 || s.CallbackAttempts != int64(len(bodies)) {
		t.Errorf("stats: items %d attempts %d, posts %d", s.CallbackItems, s.CallbackAttempts, len(bodies))
	}
	// Pushing does not consume the pull queue.
	if got := e.srv.Stats().ReceiptsPending; got != 150 {
		t.Errorf("ReceiptsPending = %d after push, want 150", got)
	}
}

func TestCallbackRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		failFirst         int
		attempts          int64
		delivered, failed int64
	}{
		{"succeeds on the third try", 2, 3, 1, 0},
		{"gives up after three tries", 3, 3, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := &receiver{failFirst: tc.failFirst}
			cb := httptest.NewServer(rc)
			t.Cleanup(cb.Close)
			e := newEnv(t, func(c *Config) { c.CallbackURL = cb.URL; c.CallbackRetryInterval = time.Millisecond })
			mustSend(t, e.client, otp("+8613800000030"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.srv.FlushCallbacks(ctx); err != nil {
				t.Fatalf("FlushCallbacks: %v", err)
			}
			s := e.srv.Stats()
			if s.CallbackAttempts != tc.attempts || s.CallbackItems != tc.delivered || s.CallbackItemsFailed != tc.failed {
				t.Errorf("attempts %d items %d failed %d; want %d %d %d", s.CallbackAttempts, s.CallbackItems,
					s.CallbackItemsFailed, tc.attempts, tc.delivered, tc.failed)
			}
		})
	}
}

func TestCloseStopsPusher(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); cb.Close() })
	e := newEnv(t, func(c *Config) { c.CallbackURL = cb.URL; c.CallbackTimeout = time.Hour })
	mustSend(t, e.client, otp("+8613800000031"))
	<-entered // a push is in flight and will never be answered
	// Close returns although the push hangs.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := e.srv.FlushCallbacks(context.Background()); err != ErrClosed {
		t.Errorf("FlushCallbacks after Close = %v, want ErrClosed", err)
	}
}

func TestDroppedReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Faults.DropRate = 1 })
	const n = "+8613800000040"
	_, err := e.client.SendSms(otp(n))
	if got := sdkCode(t, err); got != "ClientError.NetworkError" {
		t.Fatalf("code = %q (%v), want ClientError.NetworkError", got, err)
	}
	s := e.srv.Stats()
	if s.Dropped != 1 || s.NumbersSent != 1 || s.ReceiptsCreated != 1 || e.srv.SendCount(n) != 1 {
		t.Errorf("stats after a lost reply: %+v, SendCount %d", s, e.srv.SendCount(n))
	}
	// The client retries blindly: a duplicate.
	e.srv.SetFaults(Faults{})
	e.clock.Add(31 * time.Second)
	if got := codeOf(t, e.client, otp(n)); got != "Ok" {
		t.Fatalf("resend: %s", got)
	}
	if s := e.srv.Stats(); s.DuplicateSends != 1 || e.srv.SendCount(n) != 2 {
		t.Errorf("DuplicateSends = %d, SendCount = %d; want 1, 2", s.DuplicateSends, e.srv.SendCount(n))
	}
	e.srv.ResetStats()
	if s := e.srv.Stats(); s.DuplicateSends != 0 || s.NumbersSent != 0 || e.srv.SendCount(n) != 0 {
		t.Errorf("after ResetStats: %+v", s)
	}
}

func TestQPSLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Faults.QPS = 3 })
	codes := func(n int) []string {
		var out []string
		for range n {
			req := sms.NewPullSmsSendStatusRequest()
			req.SmsSdkAppId = sp(DefaultAppID)
			req.Limit = u64(10)
			_, err := e.client.PullSmsSendStatus(req)
			out = append(out, sdkCode(t, err))
		}
		return out
	}
	got := codes(5) // the fake clock stands still: one second
	if want := []string{"", "", "", "RequestLimitExceeded", "RequestLimitExceeded"}; !slices.Equal(got, want) {
		t.Errorf("codes = %q, want %q", got, want)
	}
	// Other actions have their own window.
	if got := codeOf(t, e.client, otp("+8613800000050")); got != "Ok" {
		t.Errorf("SendSms under another action's limit: %s", got)
	}
	e.clock.Add(time.Second)
	if got := codes(1); got[0] != "" {
		t.Errorf("after a second: %q", got[0])
	}
}

func TestHaltAndPackageBalance(t *testing.T) {
	t.Parallel()
	t.Run("halt code", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.Faults.HaltCode = "FailedOperation.InsufficientBalanceInSmsPackage" })
		_, err := e.client.SendSms(otp("+8613800000060"))
		if got := sdkCode(t, err); got != "FailedOperation.InsufficientBalanceInSmsPackage" {
			t.Errorf("code = %q", got)
		}
		pull(t, e.client, 10) // other actions still work
		e.srv.SetFaults(Faults{})
		if got := codeOf(t, e.client, otp("+8613800000060")); got != "Ok" {
			t.Errorf("after clearing HaltCode: %s", got)
		}
	})
	t.Run("package runs out", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.PackageAmount = 3 })
		mustSend(t, e.client, otp("+8613800000061", "+8613800000062"))
		_, err := e.client.SendSms(otp("+8613800000063", "+8613800000064"))
		if got := sdkCode(t, err); got != "FailedOperation.InsufficientBalanceInSmsPackage" {
			t.Errorf("code = %q", got)
		}
		if got := codeOf(t, e.client, otp("+8613800000063")); got != "Ok" {
			t.Errorf("last segment: %s", got)
		}
		req := sms.NewSmsPackagesStatisticsRequest()
		req.SmsSdkAppId = sp(DefaultAppID)
		req.Limit = u64(10)
		req.Offset = u64(0)
		now := e.clock.Now().In(beijing.Time)
		req.BeginTime = sp(now.AddDate(0, 0, -7).Format(beijing.HourLayout))
		req.EndTime = sp(now.Format(beijing.HourLayout))
		resp, err := e.client.SmsPackagesStatistics(req)
		if err != nil {
			t.Fatal(err)
		}
		set := resp.Response.SmsPackagesStatisticsSet
		if len(set) != 1 || *set[0].PackageAmount != 3 || *set[0].CurrentUsage != 3 {
			t.Errorf("packages = %s", resp.ToJsonString())
		}
	})
}

func TestInjectedErrors(t *testing.T) {
	t.Parallel()
	t.Run("before send", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) {
			c.Faults.ErrorRate = 1
			c.Faults.ErrorCodes = []string{"InternalError.Timeout"}
		})
		_, err := e.client.SendSms(otp("+8613800000070"))
		if got := sdkCode(t, err); got != "InternalError.Timeout" {
			t.Errorf("code = %q", got)
		}
		if e.srv.Stats().NumbersSent != 0 {
			t.Error("send recorded")
		}
	})
	t.Run("after send", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) {
			c.Faults = Faults{ErrorRate: 1, ErrorCodes: []string{"InternalError.Timeout"}, ErrorAfterSend: true}
		})
		_, err := e.client.SendSms(otp("+8613800000071"))
		if got := sdkCode(t, err); got != "InternalError.Timeout" {
			t.Errorf("code = %q", got)
		}
		if s := e.srv.Stats(); s.NumbersSent != 1 || s.Errors["InternalError.Timeout"] != 1 {
			t.Errorf("stats = %+v", s)
		}
	})
	t.Run("per-number rate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) {
			c.Faults.NumberErrorRate = 1
			c.Faults.NumberErrorCodes = []string{"LimitExceeded.DeliveryFrequencyLimit"}
		})
		if got := codeOf(t, e.client, otp("+8613800000072")); got != "LimitExceeded.DeliveryFrequencyLimit" {
			t.Errorf("code = %q", got)
		}
	})
}

func TestLatencyHonoursClientContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Faults.Latency = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := otp("+8613800000080")
	_, err := e.client.SendSmsWithContext(ctx, req)
	if err == nil {
		t.Fatal("SendSms returned before an hour of latency")
	}
	// Cleanup closes the httptest server, which waits for the handler: it
	// must have returned on the client's context.
}

func TestTemplatesAndStatistics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	add := sms.NewAddSmsTemplateRequest()
	add.TemplateName = sp("Pickup")
	add.TemplateContent = sp("您的包裹已到{1}，取件码{2}，请在{3}前取件。")
	add.SmsType = u64(SmsTypeNotification)
	add.International = u64(0)
	add.Remark = sp("test")
	resp, err := e.client.AddSmsTemplate(add)
	if err != nil {
		t.Fatalf("AddSmsTemplate: %v", err)
	}
	id := *resp.Response.AddTemplateStatus.TemplateId
	if got := codeOf(t, e.client, sendReq(id, []string{"驿站", "1234", "18:00"}, "+8613800000090")); got != "Ok" {
		t.Errorf("send with the new template: %s", got)
	}

	list := sms.NewDescribeSmsTemplateListRequest()
	list.International = u64(0)
	list.Limit = u64(100)
	list.Offset = u64(0)
	lresp, err := e.client.DescribeSmsTemplateList(list)
	if err != nil {
		t.Fatalf("DescribeSmsTemplateList: %v", err)
	}
	found := false
	for _, st := range lresp.Response.DescribeTemplateStatusSet {
		if *st.International != 0 {
			t.Errorf("international template %d in a domestic list", *st.TemplateId)
		}
		if fmtID := padInt(int(*st.TemplateId), 0); fmtID == id {
			found = true
			if *st.StatusCode != 0 || *st.TemplateContent != *add.TemplateContent {
				t.Errorf("new template listed as %s", lresp.ToJsonString())
			}
		}
		if padInt(int(*st.TemplateId), 0) == TemplateUnderReview && *st.StatusCode != 1 {
			t.Errorf("template under review has StatusCode %d", *st.StatusCode)
		}
	}
	if !found {
		t.Errorf("new template %s not listed", id)
	}

	// A long message: 【Sandbox】 + 80 characters = 89 -> 2 segments.
	long := strings.Repeat("长", 70)
	if set := mustSend(t, e.client, sendReq(TemplateGreeting, []string{long}, "+8613800000091")); *set[0].Fee != 2 {
		t.Errorf("Fee = %d, want 2", *set[0].Fee)
	}

	now := e.clock.Now().In(beijing.Time)
	stats := sms.NewSendStatusStatisticsRequest()
	stats.SmsSdkAppId = sp(DefaultAppID)
	stats.BeginTime = sp(now.Add(-time.Hour).Format(beijing.HourLayout))
	stats.EndTime = sp(now.Format(beijing.HourLayout))
	stats.Limit, stats.Offset = u64(0), u64(0)
	sresp, err := e.client.SendStatusStatistics(stats)
	if err != nil {
		t.Fatalf("SendStatusStatistics: %v", err)
	}
	ss := sresp.Response.SendStatusStatistics
	if *ss.RequestCount != 2 || *ss.RequestSuccessCount != 2 || *ss.FeeCount != 3 {
		t.Errorf("statistics = %s", sresp.ToJsonString())
	}
	cbs := sms.NewCallbackStatusStatisticsRequest()
	cbs.SmsSdkAppId, cbs.BeginTime, cbs.EndTime = stats.SmsSdkAppId, stats.BeginTime, stats.EndTime
	cbs.Limit, cbs.Offset = u64(0), u64(0)
	cresp, err := e.client.CallbackStatusStatistics(cbs)
	if err != nil {
		t.Fatalf("CallbackStatusStatistics: %v", err)
	}
	if cs := cresp.Response.CallbackStatusStatistics; *cs.CallbackCount != 2 || *cs.RequestSuccessCount != 2 {
		t.Errorf("callback statistics = %s", cresp.ToJsonString())
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.Faults.NumberErrorRate = 0.1 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				resp, err := e.client.SendSms(otp(cnNumbers(w*1000+i*50, 50)...))
				if err != nil {
					t.Errorf("SendSms: %v", err)
					return
				}
				mu.Lock()
				for _, st := range resp.Response.SendStatusSet {
					if *st.Code == "Ok" {
						ok++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if s := e.srv.Stats(); s.NumbersSent != int64(ok) || s.ReceiptsCreated != int64(ok) || s.Calls["SendSms"] != 40 {
		t.Errorf("stats %+v, ok %d", s, ok)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(*Config){
		"no key":            func(c *Config) { c.SecretKey = "" },
		"app id":            func(c *Config) { c.AppID = "abc" },
		"template id":       func(c *Config) { c.Templates = append(c.Templates, Template{ID: "x1"}) },
		"duplicate id":      func(c *Config) { c.Templates = append(c.Templates, c.Templates[0]) },
		"placeholder gap":   func(c *Config) { c.Templates = []Template{{ID: "7", Content: "{1}{3}"}} },
		"fail rate":         func(c *Config) { c.ReceiptFailRate = 2 },
		"negative interval": func(c *Config) { c.FrequencyInterval = -1 },
		"fault rate":        func(c *Config) { c.Faults.DropRate = -0.5 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted a bad config", name)
		}
	}
}

func TestMarketingHours(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.MarketingHours = true
		c.MaxClockSkew = 48 * time.Hour // the test moves the server clock
	})
	now := e.clock.Now().In(beijing.Time)
	night := time.Date(now.Year(), now.Month(), now.Day(), 23, 0, 0, 0, beijing.Time)
	e.clock.Add(night.Sub(now))
	_, err := e.client.SendSms(sendReq(TemplateMarketing, nil, "+8613800000100"))
	if got := sdkCode(t, err); got != "FailedOperation.MarketingSendTimeConstraint" {
		t.Errorf("marketing at 23:00: %q", got)
	}
	if got := codeOf(t, e.client, otp("+8613800000100")); got != "Ok" {
		t.Errorf("OTP at 23:00: %s", got)
	}
	e.clock.Add(10 * time.Hour) // 09:00
	if got := codeOf(t, e.client, sendReq(TemplateMarketing, nil, "+8613800000101")); got != "Ok" {
		t.Errorf("marketing at 09:00: %s", got)
	}
}

func TestReceiptSessionContext(t *testing.T) {
	t.Parallel()
	rc := &receiver{}
	cb := httptest.NewServer(rc)
	t.Cleanup(cb.Close)
	e := newEnv(t, func(c *Config) { c.CallbackURL = cb.URL; c.ReceiptSessionContext = true; c.ReceiptFailRate = 0 })
	req := otp("+8613800000110")
	req.SessionContext = sp(`{"job":"j1"}`)
	mustSend(t, e.client, req)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.srv.FlushCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	body := string(rc.bodies[0])
	rc.mu.Unlock()
	if !strings.Contains(body, `"ext":{"job":"j1"}`) {
		t.Errorf("callback body %s lacks the ext object", body)
	}
	got := pull(t, e.client, 10)
	if len(got) != 1 || *got[0].SessionContext != `{"job":"j1"}` || *got[0].ReportStatus != "SUCCESS" {
		t.Errorf("pulled %+v", got)
	}
}
