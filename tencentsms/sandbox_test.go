package tencentsms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// TestAgainstSandbox runs the client against the local Tencent API: signing passes, a 200-number
// call comes back with mixed per-number results, and a wrong key is rejected with Tencent's code.
func TestAgainstSandbox(t *testing.T) {
	t.Parallel()
	cfg := sandbox.DefaultConfig()
	cfg.ReceiptDelay = 0
	bad := "+8613900000007"
	cfg.Faults.NumberCodes = map[string]string{bad: "FailedOperation.PhoneNumberInBlacklist"}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)

	client, err := tencentsms.New(tencentsms.Config{SecretID: cfg.SecretID, SecretKey: cfg.SecretKey, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })

	numbers := make([]string, 200)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+86139%08d", i)
	}
	numbers[199] = "+86123" // not a valid mainland number
	res, err := client.SendSms(context.Background(), tencentsms.SendRequest{
		AppID: cfg.AppID, SignName: cfg.SignNames[0], TemplateID: sandbox.TemplateNotice,
		TemplateParams: []string{"A-1"}, PhoneNumbers: numbers, SessionContext: "job|0|1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Statuses) != 200 || res.RequestID == "" {
		t.Fatalf("got %d statuses, request id %q", len(res.Statuses), res.RequestID)
	}
	codes := map[string]int{}
	for _, st := range res.Statuses {
		codes[st.Code]++
		if st.SessionContext != "job|0|1" {
			t.Fatalf("session context %q not echoed", st.SessionContext)
		}
		if st.OK() && st.SerialNo == "" {
			t.Fatalf("accepted number without serial: %+v", st)
		}
	}
	if codes[tencentsms.CodeOK] != 198 || codes["FailedOperation.PhoneNumberInBlacklist"] != 1 ||
		codes["InvalidParameterValue.IncorrectPhoneNumber"] != 1 {
		t.Fatalf("codes = %v", codes)
	}
	receipts, err := client.PullSendStatus(context.Background(), cfg.AppID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != 100 {
		t.Fatalf("pulled %d receipts, want a full page of 100", len(receipts))
	}

	wrong, err := tencentsms.New(tencentsms.Config{SecretID: cfg.SecretID, SecretKey: "wrong", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wrong.Close() })
	_, err = wrong.PullSendStatus(context.Background(), cfg.AppID, 10)
	var apiErr *tencentsms.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "AuthFailure.SignatureFailure" || apiErr.RequestID == "" {
		t.Fatalf("wrong key: err = %v", err)
	}
}
