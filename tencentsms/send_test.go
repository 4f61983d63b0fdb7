package tencentsms_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// perNumber is the fake's verdict for the i-th number of a batch.
func perNumber(i int, number, session string) map[string]any {
	st := map[string]any{
		"PhoneNumber":    number,
		"SessionContext": session,
		"IsoCode":        "CN",
		"Fee":            0,
		"SerialNo":       "",
	}
	switch i % 4 {
	case 0:
		st["Code"], st["Message"] = "LimitExceeded.PhoneNumberDailyLimit", "daily limit reached"
	case 1:
		st["Code"], st["Message"] = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect number"
		st["IsoCode"] = "DEF"
	default:
		st["Code"], st["Message"] = "Ok", "send success"
		st["Fee"] = 1 + i%2
		st["SerialNo"] = fmt.Sprintf("2640:%010d", i)
	}
	return st
}

func TestSendSms200NumbersMixedResults(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got sms.SendSmsRequestParams
	)
	f := newFake(t, func(c call) reply {
		if c.Action != "SendSms" {
			t.Errorf("action %q", c.Action)
		}
		var p sms.SendSmsRequestParams
		c.decode(t, &p)
		mu.Lock()
		got = p
		mu.Unlock()
		set := make([]any, len(p.PhoneNumberSet))
		for i, n := range p.PhoneNumberSet {
			set[i] = perNumber(i, *n, *p.SessionContext)
		}
		return ok(map[string]any{"SendStatusSet": set, "RequestId": "req-send-200"})
	})
	c := newClient(t, f.url())

	numbers := phoneNumbers(200)
	req := sendReq(numbers...)
	req.SessionContext = "job-42/batch-7"
	req.ExtendCode = "12"
	req.SenderID = "Qsms"
	res, err := c.SendSms(context.Background(), req)
	if err != nil {
		t.Fatalf("SendSms: %v", err)
	}

	mu.Lock()
	p := got
	mu.Unlock()
	checks := []struct {
		field string
		got   *string
		want  string
	}{
		{"SmsSdkAppId", p.SmsSdkAppId, testAppID},
		{"SignName", p.SignName, "Tencent"},
		{"TemplateId", p.TemplateId, "449739"},
		{"SessionContext", p.SessionContext, "job-42/batch-7"},
		{"ExtendCode", p.ExtendCode, "12"},
		{"SenderId", p.SenderId, "Qsms"},
	}
	for _, ch := range checks {
		if ch.got == nil || *ch.got != ch.want {
			t.Errorf("request %s = %v, want %q", ch.field, ch.got, ch.want)
		}
	}
	if len(p.PhoneNumberSet) != 200 || *p.PhoneNumberSet[199] != numbers[199] {
		t.Errorf("request PhoneNumberSet has %d numbers", len(p.PhoneNumberSet))
	}
	if len(p.TemplateParamSet) != 2 || *p.TemplateParamSet[0] != "1234" || *p.TemplateParamSet[1] != "5" {
		t.Errorf("request TemplateParamSet = %v", p.TemplateParamSet)
	}

	if res.RequestID != "req-send-200" {
		t.Errorf("RequestID = %q", res.RequestID)
	}
	if len(res.Statuses) != 200 {
		t.Fatalf("%d statuses, want 200", len(res.Statuses))
	}
	var okCount int
	for i, s := range res.Statuses {
		w := perNumber(i, numbers[i], "job-42/batch-7")
		want := tencentsms.SendStatus{
			SerialNo:       w["SerialNo"].(string),
			PhoneNumber:    numbers[i],
			Fee:            w["Fee"].(int),
			Code:           w["Code"].(string),
			Message:        w["Message"].(string),
			IsoCode:        w["IsoCode"].(string),
			SessionContext: "job-42/batch-7",
		}
		if s != want {
			t.Errorf("status %d = %+v, want %+v", i, s, want)
		}
		if s.OK() {
			okCount++
		}
	}
	if okCount != 100 {
		t.Errorf("%d OK statuses, want 100", okCount)
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestSendSmsOmitsUnsetOptionalFields(t *testing.T) {
	t.Parallel()
	var raw map[string]any
	var mu sync.Mutex
	f := newFake(t, func(c call) reply {
		mu.Lock()
		c.decode(t, &raw)
		mu.Unlock()
		return ok(map[string]any{"SendStatusSet": []any{perNumber(2, "+8613800000000", "")}})
	})
	c := newClient(t, f.url())
	req := tencentsms.SendRequest{AppID: testAppID, TemplateID: "1", PhoneNumbers: []string{"+8613800000000"}}
	if _, err := c.SendSms(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]any{
		"SmsSdkAppId":    testAppID,
		"TemplateId":     "1",
		"PhoneNumberSet": []any{"+8613800000000"},
	}
	if !reflect.DeepEqual(raw, want) {
		t.Errorf("request body = %v, want %v", raw, want)
	}
}

func TestSendSmsConcurrentCalls(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(c call) reply {
		var p sms.SendSmsRequestParams
		c.decode(t, &p)
		return ok(map[string]any{"SendStatusSet": []any{perNumber(2, *p.PhoneNumberSet[0], "")}})
	})
	c := newClient(t, f.url(), func(cfg *tencentsms.Config) { cfg.MaxConns = 4 })
	const calls = 16
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			number := fmt.Sprintf("+86139%08d", i)
			res, err := c.SendSms(context.Background(), sendReq(number))
			if err != nil {
				t.Errorf("call %d: %v", i, err)
				return
			}
			if len(res.Statuses) != 1 || res.Statuses[0].PhoneNumber != number || !res.Statuses[0].OK() {
				t.Errorf("call %d: statuses %+v", i, res.Statuses)
			}
		})
	}
	wg.Wait()
	if n := f.requests.Load(); n != calls {
		t.Errorf("server saw %d requests, want %d", n, calls)
	}
}

func TestEndpointForms(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(c call) reply {
		return ok(map[string]any{"PullSmsSendStatusSet": []any{}})
	})
	for _, ep := range []string{f.url(), f.url() + "/"} {
		c := newClient(t, ep)
		if _, err := c.PullSendStatus(context.Background(), testAppID, 10); err != nil {
			t.Errorf("endpoint %q: %v", ep, err)
		}
	}
	if n := f.requests.Load(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}
