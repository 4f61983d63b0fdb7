package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/sandbox"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{
		"--addr", "127.0.0.1:9100", "--secret-id", "AKIDx", "--secret-key", "k", "--app-id", "1400123456",
		"--receipt-delay", "250ms", "--latency", "5ms", "--error-rate", "0.1", "--drop-rate", "0.2", "--qps", "50",
		"--seed", "9", "--callback-url", "http://127.0.0.1:1/cb", "--daily-limit", "0", "--sign-names", "A, B",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if o.addr != "127.0.0.1:9100" || c.SecretID != "AKIDx" || c.SecretKey != "k" || c.AppID != "1400123456" ||
		c.ReceiptDelay != 250*time.Millisecond || c.Faults.Latency != 5*time.Millisecond || c.Faults.ErrorRate != 0.1 ||
		c.Faults.DropRate != 0.2 || c.Faults.QPS != 50 || c.Seed != 9 || c.CallbackURL != "http://127.0.0.1:1/cb" ||
		c.DailyLimit != 0 || strings.Join(c.SignNames, "|") != "A|B" {
		t.Errorf("options = %+v", o)
	}
	d, err := parseFlags(nil, io.Discard)
	if err != nil || d.addr != "127.0.0.1:9000" || d.cfg.SecretID != sandbox.DefaultSecretID {
		t.Errorf("defaults = %+v, %v", d, err)
	}
	for _, bad := range [][]string{{"--qps", "x"}, {"--nope"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", bad, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	const key = "very-secret-key-123"
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--secret-key", key, "--log-level", "debug"},
			&stdout, &stderr, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	}

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.Endpoint = addr
	cpf.NetworkFailureMaxRetries = 0
	client, err := sms.NewClient(common.NewCredential(sandbox.DefaultSecretID, key), "ap-guangzhou", cpf)
	if err != nil {
		t.Fatal(err)
	}
	req := sms.NewSendSmsRequest()
	req.SmsSdkAppId = common.StringPtr(sandbox.DefaultAppID)
	req.SignName = common.StringPtr(sandbox.DefaultSignName)
	req.TemplateId = common.StringPtr(sandbox.TemplateNotice)
	req.TemplateParamSet = common.StringPtrs([]string{"SO-1"})
	req.PhoneNumberSet = common.StringPtrs([]string{"+8613812345678"})
	resp, err := client.SendSms(req)
	if err != nil {
		t.Fatalf("SendSms: %v", err)
	}
	if code := *resp.Response.SendStatusSet[0].Code; code != "Ok" {
		t.Errorf("code %s", code)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	out, logs := stdout.String(), stderr.String()
	for _, want := range []string{addr, sandbox.DefaultSecretID, key, sandbox.DefaultAppID, sandbox.TemplateOTP} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(logs, key) {
		t.Errorf("logs contain the secret key:\n%s", logs)
	}
	if strings.Contains(logs, "13812345678") || !strings.Contains(logs, "+86138****5678") {
		t.Errorf("logs do not mask the number:\n%s", logs)
	}
	if !strings.Contains(logs, "sandbox stopped") {
		t.Errorf("no shutdown log:\n%s", logs)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--app-id", "abc"}, io.Discard, io.Discard, nil)
	if !errors.Is(err, sandbox.ErrInvalidConfig) {
		t.Errorf("run = %v, want ErrInvalidConfig", err)
	}
	err = run(context.Background(), []string{"--log-level", "loud"}, io.Discard, io.Discard, nil)
	if !errors.Is(err, errUsage) {
		t.Errorf("run = %v, want a usage error", err)
	}
}

func TestParseFlagsNumberFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		wantRate  float64
		wantCodes []string
		wantJit   time.Duration
		wantAfter bool
		wantFirst bool
	}{
		{"defaults", nil, 0, sandbox.DefaultNumberErrorCodes, 0, false, false},
		{"thirty-second rule", []string{"--number-error-rate", "0.01", "--number-error-codes",
			" LimitExceeded.PhoneNumberThirtySecondLimit ,", "--latency-jitter", "7ms", "--error-after-send",
			"--number-error-first-attempt"},
			0.01, []string{"LimitExceeded.PhoneNumberThirtySecondLimit"}, 7 * time.Millisecond, true, true},
		{"two codes", []string{"--number-error-codes", "A.B,C.D"}, 0, []string{"A.B", "C.D"}, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			f := o.cfg.Faults
			if f.NumberErrorRate != tt.wantRate || strings.Join(f.NumberErrorCodes, "|") != strings.Join(tt.wantCodes, "|") ||
				f.LatencyJitter != tt.wantJit || f.ErrorAfterSend != tt.wantAfter || f.NumberErrorFirstAttempt != tt.wantFirst {
				t.Errorf("faults = %+v", f)
			}
		})
	}
	if _, err := parseFlags([]string{"--number-error-rate", "x"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("bad rate: %v", err)
	}
}

func TestRunServesStats(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--log-level", "error", "--number-error-rate", "1",
			"--number-error-codes", "LimitExceeded.PhoneNumberThirtySecondLimit"}, io.Discard, io.Discard,
			func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	}
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.Endpoint = addr
	cpf.NetworkFailureMaxRetries = 0
	client, err := sms.NewClient(common.NewCredential(sandbox.DefaultSecretID, sandbox.DefaultSecretKey), "ap-guangzhou", cpf)
	if err != nil {
		t.Fatal(err)
	}
	req := sms.NewSendSmsRequest()
	req.SmsSdkAppId = common.StringPtr(sandbox.DefaultAppID)
	req.SignName = common.StringPtr(sandbox.DefaultSignName)
	req.TemplateId = common.StringPtr(sandbox.TemplateNotice)
	req.TemplateParamSet = common.StringPtrs([]string{"SO-1"})
	req.PhoneNumberSet = common.StringPtrs([]string{"+8613812345678", "+8613812345679"})
	resp, err := client.SendSms(req)
	if err != nil {
		t.Fatalf("SendSms: %v", err)
	}
	for _, st := range resp.Response.SendStatusSet {
		if *st.Code != "LimitExceeded.PhoneNumberThirtySecondLimit" {
			t.Errorf("code %s, want the injected per-number code", *st.Code)
		}
	}

	hr, err := http.Get("http://" + addr + sandbox.StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer hr.Body.Close()
	var st sandbox.Stats
	if err := json.NewDecoder(hr.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if hr.StatusCode != http.StatusOK || st.Calls["SendSms"] != 1 || st.NumbersSent != 0 ||
		st.NumberErrors["LimitExceeded.PhoneNumberThirtySecondLimit"] != 2 {
		t.Errorf("GET %s: %d %+v", sandbox.StatsPath, hr.StatusCode, st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
