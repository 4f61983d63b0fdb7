package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/ratelimit"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// fakeTencent is the sandbox behind an httptest server that counts calls per action and can
// refuse actions with a Tencent error code, as for an account without the permission.
type fakeTencent struct {
	sb  *sandbox.Server
	srv *httptest.Server

	mu     sync.Mutex
	calls  map[string]int
	refuse map[string]string // action -> error code
}

func newFakeTencent(t *testing.T) *fakeTencent {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	cfg.ReceiptDelay = 0
	cfg.ReceiptFailRate = 0
	cfg.MarketingHours = false
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	f := &fakeTencent{sb: sb, calls: map[string]int{}, refuse: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := r.Header.Get("X-TC-Action")
		f.mu.Lock()
		f.calls[action]++
		code := f.refuse[action]
		f.mu.Unlock()
		if code != "" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"Response":{"Error":{"Code":"` + code + `","Message":"refused by the test"},"RequestId":"r-1"}}`))
			return
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTencent) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

func (f *fakeTencent) refuseAction(action, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse[action] = code
}

// send sends through the sandbox directly, so that its statistics have something to count.
func (f *fakeTencent) send(t *testing.T, numbers ...string) {
	t.Helper()
	c, err := tencentsms.New(tencentsms.Config{SecretID: sandbox.DefaultSecretID, SecretKey: sandbox.DefaultSecretKey, Endpoint: f.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SendSms(context.Background(), tencentsms.SendRequest{AppID: sandbox.DefaultAppID, SignName: sandbox.DefaultSignName,
		TemplateID: sandbox.TemplateNotice, TemplateParams: []string{"A-1"}, PhoneNumbers: numbers}); err != nil {
		t.Fatal(err)
	}
}

// tencentHarness is a harness whose enqueue is configured for the fake Tencent API.
func tencentHarness(t *testing.T) (*harness, *fakeTencent) {
	t.Helper()
	f := newFakeTencent(t)
	h := newHarness(t)
	h.env["SMS_SDK_APP_ID"] = sandbox.DefaultAppID
	h.env["TENCENTCLOUD_SECRET_ID"] = sandbox.DefaultSecretID
	h.env["TENCENTCLOUD_SECRET_KEY"] = sandbox.DefaultSecretKey
	h.env["SMS_ENDPOINT"] = f.srv.URL
	return h, f
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

// statsWindow is --from/--to covering the current hour and the next.
func statsWindow() []string {
	now := time.Now().In(tencentsms.Beijing)
	return []string{"--from", now.Add(-time.Hour).Format(tencentsms.HourLayout), "--to", now.Add(time.Hour).Format(tencentsms.HourLayout)}
}

func TestStatsBothActions(t *testing.T) {
	t.Parallel()
	h, f := tencentHarness(t)
	f.send(t, "+8613900000001", "+8613900000002", "+8613900000003")
	r := h.run("", append([]string{"stats", "--json"}, statsWindow()...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := decodeJSON[statsReport](t, r.stdout)
	if rep.Send == nil || rep.Send.RequestCount != 3 || rep.Send.RequestSuccessCount != 3 || rep.Send.FeeCount != 3 {
		t.Errorf("send statistics %+v, want 3 submitted, 3 accepted, fee 3", rep.Send)
	}
	if rep.Callback == nil || rep.Callback.RequestSuccessCount != 3 || rep.SendError != nil || rep.CallbackError != nil {
		t.Errorf("callback statistics %+v, errors %v %v", rep.Callback, rep.SendError, rep.CallbackError)
	}
	// The three sends went to the sandbox directly, not through a job: this system counted none.
	if rep.App != sandbox.DefaultAppID || !rep.Ours.Available || rep.Ours.Sent != 0 || len(rep.Ours.Hours) != 3 {
		t.Errorf("app %s, ours %+v: want the app and ours available with 0 sent over 3 hours", rep.App, rep.Ours)
	}

	r = h.run("", append([]string{"stats"}, statsWindow()...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"tencent", "ours", "submitted", "fee (segments)", "delivered"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestStatsOneActionRefused(t *testing.T) {
	t.Parallel()
	for _, refused := range []string{"SendStatusStatistics", "CallbackStatusStatistics"} {
		t.Run(refused, func(t *testing.T) {
			t.Parallel()
			h, f := tencentHarness(t)
			f.send(t, "+8613900000001")
			f.refuseAction(refused, "UnauthorizedOperation.RequestPermissionDeny")
			r := h.run("", append([]string{"stats", "--json"}, statsWindow()...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s; want 0 (one action worked)", r.code, r.stderr)
			}
			rep := decodeJSON[statsReport](t, r.stdout)
			gotErr, other := rep.SendError, rep.Callback != nil
			if refused == "CallbackStatusStatistics" {
				gotErr, other = rep.CallbackError, rep.Send != nil
			}
			if gotErr == nil || gotErr.Code != "UnauthorizedOperation.RequestPermissionDeny" || !other {
				t.Errorf("report %+v: want %s refused with its code and the other printed", rep, refused)
			}
			r = h.run("", append([]string{"stats"}, statsWindow()...)...)
			if r.code != 0 || !strings.Contains(r.stdout, refused+" refused: UnauthorizedOperation.RequestPermissionDeny") {
				t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
			}
		})
	}
}

func TestStatsBothRefused(t *testing.T) {
	t.Parallel()
	h, f := tencentHarness(t)
	f.refuseAction("SendStatusStatistics", "UnauthorizedOperation.RequestPermissionDeny")
	f.refuseAction("CallbackStatusStatistics", "UnsupportedOperation")
	r := h.run("", append([]string{"stats"}, statsWindow()...)...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "refused both") || !strings.Contains(r.stderr, "UnsupportedOperation") {
		t.Fatalf("exit %d stderr %q; want exit 1 naming both refusals", r.code, r.stderr)
	}
}

// TestStatsOurs: the "ours" column is filled from ownCounts, with the hours outside the window
// left out.
func TestStatsOurs(t *testing.T) {
	t.Parallel()
	h, _ := tencentHarness(t)
	from := time.Date(2026, 12, 4, 9, 0, 0, 0, tencentsms.Beijing)
	var gotApp string
	var gotFrom, gotTo time.Time
	own := func(_ context.Context, _ *store.Store, app string, f, to time.Time) ([]ownHour, error) {
		gotApp, gotFrom, gotTo = app, f, to
		return []ownHour{
			{Hour: from.Add(-time.Hour), Sent: 1000}, // outside
			{Hour: from, Sent: 5, Failed: 1, Delivered: 4, Undelivered: 1, Fee: 6},
			{Hour: from.Add(time.Hour), Sent: 2, Delivered: 2, Fee: 2},
			{Hour: from.Add(2 * time.Hour), Sent: 1000}, // outside
		}, nil
	}
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return h.env[k] }, ownCounts: own}
	root := a.rootCommand()
	root.SetArgs([]string{"stats", "--json", "--from", "2026120409", "--to", "2026120410"})
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	rep := decodeJSON[statsReport](t, out.String())
	want := ownTotals{Available: true, Sent: 7, Failed: 1, Delivered: 6, Undelivered: 1, Fee: 8, Hours: []ownHourJSON{
		{Hour: "2026120409", Sent: 5, Failed: 1, Delivered: 4, Undelivered: 1, Fee: 6},
		{Hour: "2026120410", Sent: 2, Delivered: 2, Fee: 2},
	}}
	if b1, b2 := mustJSON(t, rep.Ours), mustJSON(t, want); b1 != b2 {
		t.Errorf("ours %s, want %s", b1, b2)
	}
	if gotApp != sandbox.DefaultAppID || !gotFrom.Equal(from) || !gotTo.Equal(from.Add(2*time.Hour)) {
		t.Errorf("ownCounts(%s, %v, %v), want the app and [09:00, 11:00) Beijing time", gotApp, gotFrom, gotTo)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatsUsage(t *testing.T) {
	t.Parallel()
	h, _ := tencentHarness(t)
	for _, args := range [][]string{
		{"stats"},
		{"stats", "--from", "2026120409"},
		{"stats", "--from", "2026-12-04", "--to", "2026120409"},
		{"stats", "--from", "2026120410", "--to", "2026120409"},
		{"stats", "--from", "2026120409", "--to", "2026120410", "--app", "x1"},
	} {
		if r := h.run("", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
}

func TestTemplateAddListShow(t *testing.T) {
	t.Parallel()
	h, _ := tencentHarness(t)
	r := h.run("", "template", "add", "--name", "Welcome", "--content", "Hi {1}, your room is {2}.", "--type", "notification",
		"--international", "--remark", "hotel check-in")
	if r.code != 0 {
		t.Fatalf("add: exit %d: %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if !isDigits(id) || !strings.Contains(r.stderr, "submitted for review") {
		t.Fatalf("add: stdout %q stderr %q", r.stdout, r.stderr)
	}

	r = h.run("", "template", "show", id, "--json")
	if r.code != 0 {
		t.Fatalf("show: exit %d: %s", r.code, r.stderr)
	}
	v := decodeJSON[templateJSON](t, r.stdout)
	if v.ID != id || v.Name != "Welcome" || v.Region != "international" || v.Params != 2 || v.Status != "approved" {
		t.Errorf("show: %+v", v)
	}

	r = h.run("", "template", "list", "--json")
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	all := decodeJSON[[]templateJSON](t, r.stdout)
	byID := map[string]templateJSON{}
	for _, v := range all {
		byID[v.ID] = v
	}
	if len(all) != 7 || byID[id].Name != "Welcome" || byID[sandbox.TemplateUnderReview].Status != "in review" ||
		byID[sandbox.TemplateOTP].Region != "domestic" || byID[sandbox.TemplateOTP].Params != 2 {
		t.Errorf("list: %d templates %+v", len(all), byID)
	}

	r = h.run("", "template", "list", "--id", sandbox.TemplateOTP+","+sandbox.TemplateIntlOTP)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stdout, "STATUS") ||
		!strings.Contains(r.stdout, sandbox.TemplateIntlOTP) || strings.Contains(r.stdout, sandbox.TemplateNotice) {
		t.Errorf("list --id: exit %d stdout:\n%s", r.code, r.stdout)
	}

	r = h.run("", "template", "show", sandbox.TemplateUnderReview)
	if r.code != 0 || !strings.Contains(r.stdout, "in review") || !strings.Contains(r.stdout, "Pending review") {
		t.Errorf("show: exit %d stdout:\n%s", r.code, r.stdout)
	}
	if r := h.run("", "template", "show", "99999"); r.code != exitFailure || !strings.Contains(r.stderr, "template 99999 not found") {
		t.Errorf("show unknown: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestTemplateUsage(t *testing.T) {
	t.Parallel()
	h, _ := tencentHarness(t)
	for _, args := range [][]string{
		{"template"},
		{"template", "add", "--content", "x", "--type", "otp"},
		{"template", "add", "--name", "x", "--type", "otp"},
		{"template", "add", "--name", "x", "--content", "x", "--type", "promo"},
		{"template", "list", "--id", "abc"},
		{"template", "show"},
		{"template", "show", "abc"},
	} {
		if r := h.run("", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
}

// TestTemplateAddRefused: Tencent's refusal of a template is exit 1 with its code.
func TestTemplateAddRefused(t *testing.T) {
	t.Parallel()
	h, _ := tencentHarness(t)
	r := h.run("", "template", "add", "--name", "Promo", "--content", "Big sale today", "--type", "marketing")
	if r.code != exitFailure || !strings.Contains(r.stderr, "MarketingTemplateWithoutUnsubscribe") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

// TestActionLimitsAreFleetWide: each command takes its call from the fleet-wide limiter of its
// action (the same Redis key a worker or another enqueue uses), so right after one call another
// process finds that budget spent. The Redis clock is frozen, so no time passes between.
func TestActionLimitsAreFleetWide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		action string
		args   []string
	}{
		{"AddSmsTemplate", []string{"template", "add", "--name", "n", "--content", "c {1}", "--type", "otp"}},
		{"DescribeSmsTemplateList", []string{"send", "--template", sandbox.TemplateNotice, "--param", "x", "--to", "+8613900000001"}},
		{"SmsPackagesStatistics", []string{"balance"}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			t.Parallel()
			h, f := tencentHarness(t)
			h.mr.SetTime(time.Now())
			if r := h.run("", tt.args...); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if f.count(tt.action) != 1 {
				t.Fatalf("%d %s calls, want 1", f.count(tt.action), tt.action)
			}
			l, err := ratelimit.New(h.rdb, ratelimit.Key(tt.action, tencentsms.DefaultRegion, sandbox.DefaultSecretID), actionRates[tt.action])
			if err != nil {
				t.Fatal(err)
			}
			ok, retry, err := l.Allow(context.Background())
			if err != nil || ok || retry <= 0 {
				t.Errorf("Allow after the command = %v, %v, %v; want the budget spent", ok, retry, err)
			}
		})
	}
}

func TestActionRates(t *testing.T) {
	t.Parallel()
	// Tencent's request limits per action (reference: "Per-action request limits").
	want := map[string]int{"AddSmsTemplate": 2, "DescribeSmsTemplateList": 20, "SendStatusStatistics": 10,
		"CallbackStatusStatistics": 10, "SmsPackagesStatistics": 10}
	if mustJSON(t, actionRates) != mustJSON(t, want) {
		t.Errorf("actionRates %v, want %v", actionRates, want)
	}
}

func TestBalance(t *testing.T) {
	t.Parallel()
	h, f := tencentHarness(t)
	f.send(t, "+8613900000001", "+8613900000002")
	r := h.run("", "balance", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := decodeJSON[balanceReport](t, r.stdout)
	if rep.App != sandbox.DefaultAppID || len(rep.Packages) != 1 {
		t.Fatalf("balance %+v", rep)
	}
	p := rep.Packages[0]
	if p.Amount != 100_000_000 || p.Used != 2 || p.Left != 100_000_000-2 || p.Type != "purchased" || p.Expires == "" || p.Expired ||
		rep.Left != p.Left {
		t.Errorf("package %+v, left %d", p, rep.Left)
	}
	r = h.run("", "balance")
	if r.code != 0 || !strings.Contains(r.stdout, "EXPIRES") || !strings.Contains(r.stdout, "99999998 messages left in 1 package not expired") {
		t.Errorf("exit %d stdout:\n%s", r.code, r.stdout)
	}
}

func TestBalanceOfExpiredPackage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	rep := balanceOf("1", []tencentsms.Package{
		{ID: "1", Type: tencentsms.PackageGift, Amount: 100, CurrentUsage: 10, ExpiredTime: now.Add(-time.Hour)},
		{ID: "2", Type: tencentsms.PackagePurchased, Amount: 50, CurrentUsage: 60, ExpiredTime: now.Add(time.Hour)},
		{ID: "3", Type: tencentsms.PackagePurchased, Amount: 30, CurrentUsage: 5},
	}, now)
	if rep.Left != 25 || !rep.Packages[0].Expired || rep.Packages[0].Type != "gift" || rep.Packages[1].Left != 0 || rep.Packages[2].Expired {
		t.Errorf("balance %+v", rep)
	}
}

// TestSendTemplateCheck: send refuses, exit 1 and nothing stored, each job its template does
// not fit; --no-check sends it anyway.
func TestSendTemplateCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // "" accepted
	}{
		{"fits", []string{"--template", sandbox.TemplateOTP, "--param", "1234", "--param", "5", "--to", "+8613900000001"}, ""},
		{"unknown", []string{"--template", "99999", "--to", "+8613900000001"}, "template 99999: unknown"},
		{"not approved", []string{"--template", sandbox.TemplateUnderReview, "--param", "x", "--to", "+8613900000001"},
			`template ` + sandbox.TemplateUnderReview + ` ("Pending review"): not approved (in review)`},
		{"domestic template abroad", []string{"--template", sandbox.TemplateOTP, "--param", "1", "--param", "2",
			"--to", "+8613900000001,+16502530001"}, "a domestic template (for +86 numbers only), but 1 number is outside mainland China"},
		{"international template to +86", []string{"--template", sandbox.TemplateIntlOTP, "--param", "1", "--param", "2",
			"--to", "+8613900000001"}, "an international template (not for +86 numbers), but 1 number is +86"},
		{"param count", []string{"--template", sandbox.TemplateOTP, "--param", "1234", "--to", "+8613900000001"},
			"takes 2 params ({1}..{2}), but the job gives 1 param"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _ := tencentHarness(t)
			args := append([]string{"send", "--id", "j1"}, tt.args...)
			r := h.run("", args...)
			if tt.want == "" {
				if r.code != 0 || r.stdout != "j1\n" {
					t.Fatalf("exit %d stdout %q stderr %q; want accepted", r.code, r.stdout, r.stderr)
				}
				return
			}
			if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d stdout %q stderr %q; want exit 1 with %q", r.code, r.stdout, r.stderr, tt.want)
			}
			if n, _ := h.rdb.Exists(context.Background(), "sms:{j1}:job").Result(); n != 0 {
				t.Errorf("the refused job was stored")
			}
			r = h.run("", append([]string{"send", "--no-check", "--id", "j1"}, tt.args...)...)
			if r.code != 0 || r.stdout != "j1\n" {
				t.Errorf("--no-check: exit %d stdout %q stderr %q; want accepted", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestSendTemplateCheckCached: the template is looked up once; the next sends read the cache.
func TestSendTemplateCheckCached(t *testing.T) {
	t.Parallel()
	h, f := tencentHarness(t)
	for i := range 3 {
		r := h.run("", "send", "--template", sandbox.TemplateNotice, "--param", "A", "--to", "+8613900000001")
		if r.code != 0 {
			t.Fatalf("send %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	if n := f.count("DescribeSmsTemplateList"); n != 1 {
		t.Errorf("%d DescribeSmsTemplateList calls for 3 sends, want 1 (then the cache)", n)
	}
	// An international template is looked up among the domestic ones first, then cached too.
	for range 2 {
		if r := h.run("", "send", "--template", sandbox.TemplateIntlOTP, "--param", "1", "--param", "2", "--to", "+16502530001"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	if n := f.count("DescribeSmsTemplateList"); n != 3 {
		t.Errorf("%d DescribeSmsTemplateList calls, want 3", n)
	}
	// After the cache's TTL the template is read again.
	h.mr.FastForward(templateCacheTTL + time.Second)
	if r := h.run("", "send", "--template", sandbox.TemplateNotice, "--param", "A", "--to", "+8613900000001"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := f.count("DescribeSmsTemplateList"); n != 4 {
		t.Errorf("%d DescribeSmsTemplateList calls after the TTL, want 4", n)
	}
}

// TestSendTemplateLookupRefused: an account whose role cannot call DescribeSmsTemplateList gets
// exit 1 with the code and the hint; --no-check sends.
func TestSendTemplateLookupRefused(t *testing.T) {
	t.Parallel()
	h, f := tencentHarness(t)
	f.refuseAction("DescribeSmsTemplateList", "UnauthorizedOperation.RequestPermissionDeny")
	args := []string{"send", "--template", sandbox.TemplateNotice, "--param", "A", "--to", "+8613900000001"}
	r := h.run("", args...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "RequestPermissionDeny") || !strings.Contains(r.stderr, "--no-check") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if r := h.run("", append(args, "--no-check")...); r.code != 0 {
		t.Fatalf("--no-check: exit %d: %s", r.code, r.stderr)
	}
	if n := f.count("DescribeSmsTemplateList"); n != 1 {
		t.Errorf("%d lookups, want 1 (none with --no-check)", n)
	}
}

// TestSandboxAdvertised: with no Tencent settings, the commands use the sandbox a zero-setup
// worker advertises in Redis, and its app.
func TestSandboxAdvertised(t *testing.T) {
	t.Parallel()
	f := newFakeTencent(t)
	h := newHarness(t)
	delete(h.env, "SMS_SDK_APP_ID")
	st := store.New(h.rdb, store.Options{})
	if _, _, err := st.ClaimSandbox(context.Background(), store.SandboxRecord{URL: f.srv.URL, AppID: sandbox.DefaultAppID,
		SignNames: []string{sandbox.DefaultSignName}, Owner: "w1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if r := h.run("", "balance", "--json"); r.code != 0 || decodeJSON[balanceReport](t, r.stdout).App != sandbox.DefaultAppID {
		t.Fatalf("balance: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r := h.run("", "send", "--app", sandbox.DefaultAppID, "--template", "99999", "--to", "+8613900000001")
	if r.code != exitFailure || !strings.Contains(r.stderr, "template 99999: unknown") {
		t.Fatalf("send: exit %d stderr %q; want the check against the sandbox", r.code, r.stderr)
	}
}

// TestNoTencentAPI: without Tencent settings or an advertised sandbox, the Tencent commands fail
// naming what to set, and send accepts the job unchecked with a notice.
func TestNoTencentAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "balance"); r.code != exitFailure || !strings.Contains(r.stderr, "TENCENTCLOUD_SECRET_ID") {
		t.Errorf("balance: exit %d stderr %q", r.code, r.stderr)
	}
	r := h.run("", "send", "--template", "99999", "--to", "+8613900000001")
	if r.code != 0 || !strings.Contains(r.stderr, "template not checked") {
		t.Errorf("send: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestTencentSettingsValidated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["TENCENTCLOUD_SECRET_ID"] = "AKIDx"
	if r := h.run("", "balance"); r.code != exitUsage || !strings.Contains(r.stderr, "TENCENTCLOUD_SECRET_KEY") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
	h.env["TENCENTCLOUD_SECRET_KEY"] = "k"
	h.env["SMS_ENDPOINT"] = "127.0.0.1:9000"
	if r := h.run("", "balance"); r.code != exitUsage || !strings.Contains(r.stderr, "SMS_ENDPOINT") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

// TestWriteStats: the text report puts Tencent's and this system's counts on one line each.
func TestWriteStats(t *testing.T) {
	t.Parallel()
	rep := statsReport{App: "1", From: "2026120409", To: "2026120410",
		Send:     &tencentsms.SendStatistics{RequestCount: 9, RequestSuccessCount: 8, FeeCount: 10},
		Callback: &tencentsms.CallbackStatistics{CallbackCount: 7, CallbackSuccessCount: 6, CallbackFailCount: 1, BlackListCount: 1},
		Ours:     ownTotals{Available: true, Sent: 8, Failed: 1, Delivered: 6, Undelivered: 1, Fee: 10}}
	var b bytes.Buffer
	if err := writeStats(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^submitted\s+9\s+-$`, `(?m)^sent \(accepted\)\s+8\s+8$`, `(?m)^failed\s+1\s+1$`,
		`(?m)^fee \(segments\)\s+10\s+10$`, `(?m)^receipts\s+7\s+7$`, `(?m)^delivered\s+6\s+6$`, `(?m)^undelivered\s+1\s+1$`,
		`(?m)^  blacklisted\s+1\s+-$`} {
		if !regexp.MustCompile(re).MatchString(b.String()) {
			t.Errorf("no line matching %s:\n%s", re, b.String())
		}
	}
	if strings.Contains(b.String(), "refused") || strings.Contains(b.String(), "not available") {
		t.Errorf("report of two answers and our counts mentions a refusal:\n%s", b.String())
	}
}
