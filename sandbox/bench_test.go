package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// signedSend builds a signed SendSms request for the handler.
func signedSend(b testing.TB, numbers []string, now time.Time) *http.Request {
	b.Helper()
	body, _ := json.Marshal(map[string]any{
		"PhoneNumberSet": numbers, "SmsSdkAppId": DefaultAppID, "SignName": DefaultSignName,
		"TemplateId": TemplateOTP, "TemplateParamSet": []string{"123456", "5"},
	})
	req := httptest.NewRequest(http.MethodPost, "http://sandbox.local/", strings.NewReader(string(body)))
	ts := strconv.FormatInt(now.Unix(), 10)
	date := now.UTC().Format(time.DateOnly)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", APIVersion)
	req.Header.Set("X-TC-Region", "ap-guangzhou")
	req.Header.Set("X-TC-Timestamp", ts)
	sig := tc3Signature(DefaultSecretKey, http.MethodPost, ts, date, "sms", []string{"content-type", "host"},
		func(n string) string {
			if n == "host" {
				return req.Host
			}
			return req.Header.Get(n)
		}, sha256Hex(body))
	req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+DefaultSecretID+"/"+date+"/sms/tc3_request, SignedHeaders=content-type;host, Signature="+sig)
	return req
}

// BenchmarkSendSms200 measures one 200-number SendSms through the handler,
// signature check included. It reports heap bytes per accepted number.
func BenchmarkSendSms200(b *testing.B) {
	cfg := DefaultConfig()
	cfg.DailyLimit, cfg.FrequencyInterval = 0, 0
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	numbers := make([]string, 200)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range numbers {
			numbers[j] = "+86139" + padInt(i*200+j, 8)
		}
		b.StopTimer()
		req := signedSend(b, numbers, time.Now())
		b.StartTimer()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if !strings.Contains(rec.Body.String(), `"Code":"Ok"`) {
			b.Fatalf("reply %s", rec.Body.String())
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if sent := srv.Stats().NumbersSent; sent > 0 {
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(sent), "heapB/number")
	}
}
