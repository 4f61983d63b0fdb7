package sandbox

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

type env struct {
	srv    *Server
	ts     *httptest.Server
	client *sms.Client
	clock  *redistest.Clock
}

// newEnv starts a sandbox with DefaultConfig changed by mutate, a fake
// clock and receipts ready at once, behind httptest, plus an SDK client.
// The clock starts at the real time so the SDK's real X-TC-Timestamp
// stays within the allowed skew.
func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	clock := redistest.NewClock(time.Now())
	cfg := DefaultConfig()
	cfg.Now = clock.Now
	cfg.ReceiptDelay = 0
	cfg.MarketingHours = false
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close()
	})
	return &env{srv: srv, ts: ts, client: sdkClient(t, ts, cfg.SecretID, cfg.SecretKey), clock: clock}
}

func sdkClient(t *testing.T, ts *httptest.Server, id, key string) *sms.Client {
	t.Helper()
	return sdkClientProfile(t, ts, id, key, func(*profile.ClientProfile) {})
}

func sdkClientProfile(t *testing.T, ts *httptest.Server, id, key string, mutate func(*profile.ClientProfile)) *sms.Client {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(ts.URL, "http://")
	cpf.NetworkFailureMaxRetries = 0
	cpf.DisableRegionBreaker = true
	mutate(cpf)
	c, err := sms.NewClient(common.NewCredential(id, key), "ap-guangzhou", cpf)
	if err != nil {
		t.Fatalf("sms.NewClient: %v", err)
	}
	return c
}

func sp(s string) *string { return &s }

func u64(v uint64) *uint64 { return &v }

func sendReq(tpl string, params []string, numbers ...string) *sms.SendSmsRequest {
	req := sms.NewSendSmsRequest()
	req.SmsSdkAppId = sp(DefaultAppID)
	req.SignName = sp(DefaultSignName)
	req.TemplateId = sp(tpl)
	req.TemplateParamSet = common.StringPtrs(params)
	req.PhoneNumberSet = common.StringPtrs(numbers)
	return req
}

func otp(numbers ...string) *sms.SendSmsRequest {
	return sendReq(TemplateOTP, []string{"123456", "5"}, numbers...)
}

// cnNumbers returns n distinct mainland numbers +86139000000xx.
func cnNumbers(start, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "+86139" + padInt(start+i, 8)
	}
	return out
}

func padInt(v, width int) string {
	s := strconv.Itoa(v)
	return strings.Repeat("0", max(width-len(s), 0)) + s
}

// sdkCode returns the Tencent error code of err, or "" for nil.
func sdkCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *tcerr.TencentCloudSDKError
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a TencentCloudSDKError", err, err)
	}
	return e.GetCode()
}

func mustSend(t *testing.T, c *sms.Client, req *sms.SendSmsRequest) []*sms.SendStatus {
	t.Helper()
	resp, err := c.SendSms(req)
	if err != nil {
		t.Fatalf("SendSms: %v", err)
	}
	return resp.Response.SendStatusSet
}

func codeOf(t *testing.T, c *sms.Client, req *sms.SendSmsRequest) string {
	t.Helper()
	set := mustSend(t, c, req)
	if len(set) != 1 {
		t.Fatalf("SendStatusSet has %d entries, want 1", len(set))
	}
	return *set[0].Code
}

// rawCall sends a hand-built request signed with key (when key != "")
// and returns the raw reply body.
func rawCall(t *testing.T, ts *httptest.Server, headers map[string]string, body string, id, key string, ts0 time.Time) []byte {
	t.Helper()
	return rawCallSigned(t, ts, headers, body, body, id, key, ts0)
}

// rawCallSigned sends body with a signature computed over signedBody.
func rawCallSigned(t *testing.T, ts *httptest.Server, headers map[string]string, body, signedBody string, id, key string, ts0 time.Time) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Version", APIVersion)
	req.Header.Set("X-TC-Region", "ap-guangzhou")
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts0.Unix(), 10))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if key != "" {
		host := strings.TrimPrefix(ts.URL, "http://")
		date := ts0.UTC().Format(time.DateOnly)
		sig := tc3Signature(key, http.MethodPost, req.Header.Get("X-TC-Timestamp"), date, "sms",
			[]string{"content-type", "host"}, func(n string) string {
				if n == "host" {
					return host
				}
				return req.Header.Get(n)
			}, sha256Hex([]byte(signedBody)))
		req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+id+"/"+date+"/sms/tc3_request, SignedHeaders=content-type;host, Signature="+sig)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("raw call: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
