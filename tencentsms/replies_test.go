package tencentsms_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// TestPullSmsReplyStatus pulls replies from the sandbox: each once, with the number's parts,
// and refuses bad arguments before any call.
func TestPullSmsReplyStatus(t *testing.T) {
	t.Parallel()
	cfg := sandbox.DefaultConfig()
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	client := newClient(t, srv.URL, func(c *tencentsms.Config) { c.SecretID, c.SecretKey, c.Region = cfg.SecretID, cfg.SecretKey, "" })
	ctx := context.Background()

	if err := sb.InjectReply("+8613800000001", "TD"); err != nil {
		t.Fatal(err)
	}
	got, err := client.PullSmsReplyStatus(ctx, cfg.AppID, tencentsms.MaxReplyPullLimit)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d replies, want 1", len(got))
	}
	r := got[0]
	if r.Number() != "+8613800000001" || r.CountryCode != "86" || r.SubscriberNumber != "13800000001" ||
		r.Content != "TD" || r.SignName != cfg.SignNames[0] || r.ReplyTime.IsZero() {
		t.Fatalf("reply = %+v", r)
	}
	if again, err := client.PullSmsReplyStatus(ctx, cfg.AppID, 10); err != nil || len(again) != 0 {
		t.Fatalf("second pull = %+v, %v; want none (destructive read)", again, err)
	}

	var argErr *tencentsms.ArgumentError
	for _, tc := range []struct {
		app   string
		limit int
	}{{"", 10}, {cfg.AppID, 0}, {cfg.AppID, tencentsms.MaxReplyPullLimit + 1}} {
		if _, err := client.PullSmsReplyStatus(ctx, tc.app, tc.limit); !errors.As(err, &argErr) {
			t.Errorf("app %q limit %d: err = %v, want *ArgumentError", tc.app, tc.limit, err)
		}
	}
	var apiErr *tencentsms.Error
	if _, err := client.PullSmsReplyStatus(ctx, "1400999999", 10); !errors.As(err, &apiErr) {
		t.Fatalf("unknown app: err = %v, want *tencentsms.Error", err)
	}
}

// TestReplyNumber: the E.164 number of a reply, from whichever fields Tencent filled.
func TestReplyNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r    tencentsms.Reply
		want string
	}{
		{tencentsms.Reply{PhoneNumber: "+8613800000001"}, "+8613800000001"},
		{tencentsms.Reply{PhoneNumber: "8613800000001"}, "+8613800000001"},
		{tencentsms.Reply{CountryCode: "86", SubscriberNumber: "13800000001"}, "+8613800000001"},
		{tencentsms.Reply{SubscriberNumber: "13800000001"}, ""},
		{tencentsms.Reply{}, ""},
	} {
		if got := tc.r.Number(); got != tc.want {
			t.Errorf("%+v.Number() = %q, want %q", tc.r, got, tc.want)
		}
	}
}
