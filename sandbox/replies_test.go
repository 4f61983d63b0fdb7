package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// TestPullSmsReplyStatus: injected replies come back once each, oldest first, at most Limit per
// call, with the number split as Tencent does; a bad Limit or app is refused.
func TestPullSmsReplyStatus(t *testing.T) {
	e := newEnv(t, nil)
	for _, r := range []struct{ number, text string }{
		{"+8613800000001", "TD"}, {"+8613800000002", "thanks"}, {"+14155550100", "STOP"},
	} {
		if err := e.srv.InjectReply(r.number, r.text); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.InjectReply("12", "x"); err == nil {
		t.Fatal("InjectReply accepted a bad number")
	}
	pull := func(limit uint64, app string) ([]*sms.PullSmsReplyStatus, error) {
		req := sms.NewPullSmsReplyStatusRequest()
		req.Limit = &limit
		req.SmsSdkAppId = &app
		resp, err := e.client.PullSmsReplyStatus(req)
		if err != nil {
			return nil, err
		}
		return resp.Response.PullSmsReplyStatusSet, nil
	}
	app := DefaultConfig().AppID
	got, err := pull(2, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || *got[0].PhoneNumber != "+8613800000001" || *got[0].ReplyContent != "TD" ||
		*got[0].CountryCode != "86" || *got[0].SubscriberNumber != "13800000001" || *got[0].SignName != DefaultSignName ||
		*got[0].ReplyTime != uint64(e.clock.Now().Unix()) || *got[1].ReplyContent != "thanks" {
		t.Fatalf("first pull: %+v", got)
	}
	if e.srv.PendingReplies() != 1 {
		t.Fatalf("pending = %d, want 1", e.srv.PendingReplies())
	}
	got, err = pull(100, app)
	if err != nil || len(got) != 1 || *got[0].PhoneNumber != "+14155550100" || *got[0].CountryCode != "1" {
		t.Fatalf("second pull: %+v %v", got, err)
	}
	if got, err = pull(100, app); err != nil || len(got) != 0 {
		t.Fatalf("third pull (nothing left): %+v %v", got, err)
	}
	if _, err := pull(0, app); err == nil {
		t.Fatal("Limit 0 accepted")
	}
	if _, err := pull(10, "1400999999"); err == nil {
		t.Fatal("unknown app accepted")
	}
}

// TestReplyCallbackPush: with ReplyCallbackURL set, InjectReply pushes the reply in Tencent's
// reply callback form, trying again after a refused push, and it stays pullable.
func TestReplyCallbackPush(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	answers := []int{http.StatusInternalServerError, http.StatusOK}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		code := answers[min(len(bodies)-1, len(answers)-1)]
		mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"result":0,"errmsg":"OK"}`))
	}))
	t.Cleanup(cb.Close)
	e := newEnv(t, func(c *Config) {
		c.ReplyCallbackURL = cb.URL
		c.CallbackRetryInterval = time.Millisecond
	})
	if err := e.srv.InjectReply("+8613800000001", "TD"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("%d pushes, want 2 (one refused, one acknowledged)", len(bodies))
	}
	var got ReplyCallbackItem
	if err := json.Unmarshal([]byte(bodies[1]), &got); err != nil {
		t.Fatal(err)
	}
	want := ReplyCallbackItem{Mobile: "13800000001", NationCode: "86", Sign: DefaultSignName, Text: "TD", Time: e.clock.Now().Unix()}
	if got != want {
		t.Fatalf("pushed %+v, want %+v", got, want)
	}
	if e.srv.PendingReplies() != 1 {
		t.Fatal("the pushed reply is not pullable")
	}
}
