package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
)

func TestMain(m *testing.M) {
	quietRedisLogs()
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

// harness runs enqueue in-process against one miniredis.
type harness struct {
	t   *testing.T
	mr  *miniredis.Miniredis
	rdb redis.UniversalClient
	env map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	db := redistest.Mini(t)
	return &harness{t: t, mr: db.Mini, rdb: db.Client, env: map[string]string{
		"REDIS_URL":      db.URL,
		"SMS_SDK_APP_ID": "1400000001",
		"XDG_CACHE_HOME": t.TempDir(), // notices shown once are remembered here
	}}
}

func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return h.env[k] }
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, getenv)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (h *harness) pendingTasks(job string) []*asynq.TaskInfo {
	h.t.Helper()
	ins := asynq.NewInspectorFromRedisClient(h.rdb)
	var out []*asynq.TaskInfo
	for _, q := range []string{tasks.QueueOTP, tasks.QueueNormal, tasks.QueueBulk} {
		infos, err := ins.ListPendingTasks(q, asynq.PageSize(10000))
		if err != nil {
			continue // queue not created yet
		}
		for _, in := range infos {
			if strings.HasPrefix(in.ID, "send:"+job+":") {
				out = append(out, in)
			}
		}
	}
	return out
}

var jobIDLine = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}\n$`)

func TestSendToPrintsJustTheID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("", "send", "--template", "1000002", "--param", "Ada", "--to", "13800138000", "--to", "+1 650 253 0000,13800138001")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !jobIDLine.MatchString(r.stdout) {
		t.Fatalf("stdout %q is not a job id alone", r.stdout)
	}
	id := strings.TrimSpace(r.stdout)
	if got := len(h.pendingTasks(id)); got != 2 { // +86 and international batches
		t.Fatalf("%d tasks, want 2", got)
	}
	st, err := store.New(h.rdb, store.Options{}).Status(context.Background(), id)
	if err != nil || st.Total != 3 || st.AppID != "1400000001" {
		t.Fatalf("status %+v, %v", st, err)
	}
	job, _ := store.New(h.rdb, store.Options{}).Job(context.Background(), id)
	if job.TemplateID != "1000002" || job.Priority != "normal" {
		t.Fatalf("job %+v", job)
	}
}

func TestSendFileWithBadLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "list.csv")
	content := "# number,name\n13800138000,Ada\nnot-a-number,Bob\n\n13800138001\n12345\n13800138000,Dup\n+44 20 7031 3000,Cy\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "send", "--template", "1000004", "--param", "Friend", "--file", path, "--id", "file-job", "--priority", "bulk")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "file-job\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
	for _, want := range []string{"line 3: ", `"not-a-number"`, "line 6: ", "3 recipients", "2 rejected", "1 duplicates"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	st, err := store.New(h.rdb, store.Options{}).Status(context.Background(), "file-job")
	if err != nil || st.Total != 3 || st.Rejected != 2 || st.Priority != "bulk" {
		t.Fatalf("status %+v, %v", st, err)
	}
	if got := len(h.pendingTasks("file-job")); got != 3 { // Ada (+86), Friend (+86), Cy (intl)
		t.Fatalf("%d tasks, want 3", got)
	}

	// The same command again: same id printed, nothing new.
	r = h.run("", "send", "--template", "1000004", "--param", "Friend", "--file", path, "--id", "file-job", "--priority", "bulk")
	if r.code != 0 || r.stdout != "file-job\n" || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("resend: %+v", r)
	}
	// The same id with another request: refused, naming the flags that differ, exit 5.
	r = h.run("", "send", "--template", "1000004", "--file", path, "--id", "file-job")
	if r.code != exitConflict || r.stdout != "" {
		t.Fatalf("resend with other flags: %+v", r)
	}
	for _, want := range []string{"file-job already exists for a different request", "--param", `--priority (job: "bulk"; this request: "normal")`, "nothing sent"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if got := len(h.pendingTasks("file-job")); got != 3 {
		t.Fatalf("%d tasks after the refused resend, want 3", got)
	}
}

// TestSendIDConflict: `send --id X` again with other recipients or another template is refused
// with exit 5 and the differences named; the same recipients in another order are the same job.
func TestSendIDConflict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("", "send", "--template", "1000002", "--id", "promo", "--to", "13800138000,13800138001")
	if r.code != 0 || r.stdout != "promo\n" {
		t.Fatalf("first: %+v", r)
	}
	r = h.run("", "send", "--template", "1000002", "--id", "promo", "--to", "+86 138 0013 8001", "--to", "13800138000")
	if r.code != 0 || r.stdout != "promo\n" || !strings.Contains(r.stderr, "already exists (2 recipients): nothing new sent") {
		t.Fatalf("same recipients reordered: %+v", r)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"other recipients", []string{"--template", "1000002", "--to", "13800138000,13800138002"},
			[]string{"--to/--file (job: 2 recipients (other numbers or params); this request: 2 recipients (other numbers or params))"}},
		{"other template", []string{"--template", "1000003", "--to", "13800138000,13800138001"}, []string{`--template (job: "1000002"; this request: "1000003")`}},
		{"other params and app", []string{"--template", "1000002", "--param", "x", "--app", "1400000002", "--to", "13800138000,13800138001"},
			[]string{"--param", `--app (job: "1400000001"; this request: "1400000002")`}},
		{"other daily-limit choice", []string{"--template", "1000002", "--defer-daily-limit", "--to", "13800138000,13800138001"}, []string{"--defer-daily-limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run("", append([]string{"send", "--id", "promo"}, tt.args...)...)
			if r.code != exitConflict || r.stdout != "" {
				t.Fatalf("exit %d stdout %q stderr %q; want exit 5", r.code, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
	if got := len(h.pendingTasks("promo")); got != 1 {
		t.Fatalf("%d tasks, want 1", got)
	}
}

// TestSendFarFutureAt: --at 2500-01-01 used to be stored already expired, reported as "already
// exists" with exit 0; it is a usage error naming --at, and nothing is stored.
func TestSendFarFutureAt(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("", "send", "--template", "1000002", "--id", "far", "--at", "2500-01-01T00:00:00Z", "--to", "13800138000")
	if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, "--at: 2500-01-01T00:00:00Z is more than a year ahead") {
		t.Fatalf("%+v", r)
	}
	if _, err := store.New(h.rdb, store.Options{}).Status(context.Background(), "far"); err == nil {
		t.Fatal("job stored")
	}
	at := time.Now().Add(300 * 24 * time.Hour).UTC().Format(time.RFC3339)
	r = h.run("", "send", "--template", "1000002", "--id", "far", "--at", at, "--to", "13800138000")
	if r.code != 0 || r.stdout != "far\n" {
		t.Fatalf("300 days ahead: %+v", r)
	}
	r = h.run("", "status", "far", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"state":"scheduled"`) {
		t.Fatalf("status: %+v", r)
	}
}

// TestSendGBKFile: a CSV saved by Excel on a Chinese Windows (GBK) is refused as it is, with the
// line numbers and a hint, and nothing is sent; with --encoding gb18030 it is sent intact.
func TestSendGBKFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	content, err := simplifiedchinese.GBK.NewEncoder().String("手机号,姓名\n13800138000,张三\n13800138001,Ada\n13800138002,李四\n")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "excel.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "send", "--template", "1000002", "--id", "gbk", "--file", path)
	if r.code != exitFailure || r.stdout != "" {
		t.Fatalf("exit %d stdout %q stderr %q; want exit 1", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"line 1: not valid UTF-8", "line 2: not valid UTF-8", "line 4: not valid UTF-8",
		"--file: line 1 is not valid UTF-8 (3 such lines)", "nothing sent", "--encoding gb18030"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "line 3:") {
		t.Errorf("line 3 is ASCII, yet reported:\n%s", r.stderr)
	}
	if _, err := store.New(h.rdb, store.Options{}).Status(context.Background(), "gbk"); err == nil {
		t.Fatal("job stored")
	}

	r = h.run("", "send", "--template", "1000002", "--id", "gbk", "--file", path, "--encoding", "gb18030")
	if r.code != 0 || r.stdout != "gbk\n" || !strings.Contains(r.stderr, "3 recipients") || !strings.Contains(r.stderr, "1 rejected") {
		t.Fatalf("gb18030: %+v", r)
	}
	s := store.New(h.rdb, store.Options{})
	var params []string
	for b := range 3 {
		cr, err := s.Claim(context.Background(), "gbk", b, "tok")
		if err != nil {
			t.Fatal(err)
		}
		params = append(params, strings.Join(cr.Params, "|"))
	}
	if strings.Join(params, ",") != "张三,Ada,李四" {
		t.Fatalf("params %q", params)
	}
}

func TestSendStdin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("13800138000\n13800138001,x\nbad\n", "send", "--template", "1000002", "--file", "-", "--priority", "otp", "--expire", "5m")
	if r.code != 0 || !jobIDLine.MatchString(r.stdout) {
		t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "line 3: ") {
		t.Fatalf("stderr %q", r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	tasks := h.pendingTasks(id)
	if len(tasks) != 2 || tasks[0].Queue != "sms-otp" {
		t.Fatalf("tasks %+v", tasks)
	}
	job, err := store.New(h.rdb, store.Options{}).Job(context.Background(), id)
	if err != nil || job.ExpiresAt.Sub(job.CreatedAt) != 5*time.Minute {
		t.Fatalf("job %+v, %v; want expiry 5m after creation", job, err)
	}
}

func TestSendNothingValid(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("abc\n12\n", "send", "--template", "1000002", "--file", "-")
	if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "no valid recipients") || !strings.Contains(r.stderr, "line 2: ") {
		t.Fatalf("%+v", r)
	}
}

func TestSendUsageErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := []string{"send", "--template", "1000002", "--to", "13800138000"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad at", append(base, "--at", "tomorrow"), nil, "--at"},
		{"bad expire", append(base, "--expire", "10 minutes"), nil, "--expire"},
		{"zero expire", append(base, "--expire", "0s"), nil, "--expire"},
		{"bad priority", append(base, "--priority", "urgent"), nil, "--priority"},
		{"otp at after expiry", append(base, "--priority", "otp", "--at", time.Now().Add(time.Hour).Format(time.RFC3339)), nil, "--at"},
		{"bad id", append(base, "--id", "a:b"), nil, "--id"},
		{"bad country", append(base, "--country", "XX"), nil, "--country"},
		{"bad app", append(base, "--app", "my-app"), nil, "--app"},
		{"bad template", []string{"send", "--template", "tpl", "--to", "13800138000"}, nil, "--template"},
		{"no template", []string{"send", "--to", "13800138000"}, nil, "--template"},
		{"no recipients", []string{"send", "--template", "1"}, nil, "--to or --file"},
		{"both to and file", append(base, "--file", "-"), nil, "--to and --file"},
		{"unknown flag", append(base, "--colour", "red"), nil, "--colour"},
		{"bad REDIS_URL", base, map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL"},
		{"bad --redis-url", append(base, "--redis-url", "nope://"), nil, "--redis-url"},
		{"bad REDIS_CLUSTER_NODES", base, map[string]string{"REDIS_CLUSTER_NODES": "a:1,b"}, "REDIS_CLUSTER_NODES"},
		{"bad SMS_SDK_APP_ID", base, map[string]string{"SMS_SDK_APP_ID": "app"}, "SMS_SDK_APP_ID"},
		{"cluster password without nodes", base, map[string]string{"REDIS_CLUSTER_PASSWORD": "pw"}, "REDIS_CLUSTER_PASSWORD"},
		{"status without id", []string{"status"}, nil, "JOB_ID"},
		{"at beyond a year", append(base, "--at", time.Now().Add(400*24*time.Hour).Format(time.RFC3339)), nil, "--at"},
		{"expire beyond the bound", append(base, "--expire", "20000h"), nil, "--expire"},
		{"unknown encoding", append([]string{"send", "--template", "1", "--file", "-"}, "--encoding", "latin1"), nil, "--encoding"},
		{"to not utf-8", []string{"send", "--template", "1", "--to", "1380013800\xff"}, nil, "--to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := h.env
			h.env = map[string]string{}
			for k, v := range saved {
				h.env[k] = v
			}
			for k, v := range tt.env {
				h.env[k] = v
			}
			defer func() { h.env = saved }()
			r := h.run("", tt.args...)
			if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d stdout %q stderr %q; want exit 2 naming %s", r.code, r.stdout, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, "pw") {
				t.Fatalf("secret echoed: %s", r.stderr)
			}
		})
	}
}

func TestRedisNotAnswering(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr := h.mr.Addr()
	h.mr.Close()
	r := h.run("", "status", "x")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "REDIS_URL") || !strings.Contains(r.stderr, addr) {
		t.Fatalf("%+v", r)
	}
	h.env["REDIS_URL"] = ""
	r = h.run("", "status", "x", "--redis-url", "redis://"+addr+"/0")
	if r.code != exitUnreachable || !strings.Contains(r.stderr, "--redis-url") {
		t.Fatalf("%+v", r)
	}
}

func TestStatusJSONShape(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "send", "--template", "1", "--id", "j1", "--to", "13800138000,13800138001,bad"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	r := h.run("", "status", "j1", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Fatalf("not one line of JSON: %q", r.stdout)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"total", "sent", "failed", "cancelled", "unknown", "pending", "delivered", "undelivered", "rejected", "fee"} {
		n, ok := m[k].(json.Number)
		if !ok {
			t.Fatalf("%s = %#v, want a number", k, m[k])
		}
		if _, err := n.Int64(); err != nil {
			t.Fatalf("%s = %s, want an integer", k, n)
		}
	}
	if _, ok := m["failed_by_code"].(map[string]any); !ok {
		t.Fatalf("failed_by_code = %#v, want an object", m["failed_by_code"])
	}
	if m["final"] != false || m["fatal_code"] != "" {
		t.Fatalf("final = %#v, fatal_code = %#v, want false and \"\"", m["final"], m["fatal_code"])
	}
	if m["id"] != "j1" || m["state"] != "running" || m["total"] != json.Number("2") || m["rejected"] != json.Number("1") || m["pending"] != json.Number("2") {
		t.Fatalf("json %v", m)
	}

	r = h.run("", "status", "j1")
	for _, want := range []string{"state", "running", "total", "pending", "rejected"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("summary lacks %q: %+v", want, r)
		}
	}

	r = h.run("", "status", "nope")
	if r.code != exitNotFound || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("unknown job: %+v", r)
	}
}

func TestCancelAndWait(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "send", "--template", "1", "--id", "c1", "--to", "13800138000,13800138001"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	r := h.run("", "cancel", "c1")
	if r.code != 0 || !regexp.MustCompile(`(?m)^cancelled\s+2\b`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^state\s+cancelled$`).MatchString(r.stdout) {
		t.Fatalf("cancel: %+v", r)
	}
	r = h.run("", "status", "c1", "--wait", "--json", "--interval", "10ms")
	if r.code != 0 || !strings.Contains(r.stdout, `"state":"cancelled"`) || !strings.Contains(r.stderr, "c1 cancelled") {
		t.Fatalf("status --wait: %+v", r)
	}
	r = h.run("", "cancel", "nope")
	if r.code != exitNotFound || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("cancel unknown: %+v", r)
	}
}

func TestResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "send", "--template", "1", "--id", "r1", "--app", "1400000002", "--to", "13800138000"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	ctx := context.Background()
	st := store.New(h.rdb, store.Options{})
	if err := st.Halt(ctx, "1400000002", "FailedOperation.InsufficientBalanceInSmsPackage", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.Park(ctx, "1400000002", "r1", 0); err != nil {
		t.Fatal(err)
	}
	if err := asynq.NewInspectorFromRedisClient(h.rdb).DeleteTask(tasks.QueueNormal, "send:r1:0"); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "resume", "--app", "1400000002")
	if r.code != 0 || r.stdout != "resumed app 1400000002: 1 batches restarted\n" {
		t.Fatalf("resume: %+v", r)
	}
	if len(h.pendingTasks("r1")) != 1 {
		t.Fatal("parked batch not re-enqueued")
	}
	if h, _ := st.HaltOf(ctx, "1400000002"); h != nil {
		t.Fatal("still halted")
	}
	// No --app and no SMS_SDK_APP_ID: every halted app.
	delete(h.env, "SMS_SDK_APP_ID")
	r = h.run("", "resume")
	if r.code != 0 || r.stdout != "resumed every halted app: 0 batches restarted\n" {
		t.Fatalf("resume all: %+v", r)
	}
}

func TestAdvertisedAppFallback(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delete(h.env, "SMS_SDK_APP_ID")
	// No app anywhere: a clear error naming --app, nothing enqueued.
	r := h.run("", "send", "--template", "1000002", "--to", "13800138000")
	if r.code != 2 || !strings.Contains(r.stderr, "--app") || r.stdout != "" {
		t.Fatalf("no app: %+v", r)
	}
	// A worker advertised its app: enqueue uses it and says so.
	st := store.New(h.rdb, store.Options{})
	if err := st.AdvertiseDefaults(context.Background(), store.Defaults{AppID: "1400000009", SignName: "Acme"}); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "send", "--template", "1000002", "--to", "13800138000")
	if r.code != 0 || !strings.Contains(r.stderr, "1400000009") {
		t.Fatalf("advertised app: %+v", r)
	}
	job, err := st.Job(context.Background(), strings.TrimSpace(r.stdout))
	if err != nil || job.AppID != "1400000009" {
		t.Fatalf("job app = %q, %v", job.AppID, err)
	}
}

func TestConfigFlagsWin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.env["REDIS_URL"] = "redis://127.0.0.1:1/0" // nothing there; the flag must win
	r := h.run("", "send", "--redis-url", "redis://"+h.mr.Addr()+"/0", "--template", "1", "--to", "13800138000")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "send") || !strings.Contains(r.stdout, "REDIS_URL") {
		t.Fatalf("%+v", r)
	}
	r = h.run("", "send", "--help")
	for _, f := range []string{"--template", "--param", "--sign", "--app", "--priority", "--at", "--expire", "--id", "--country", "--defer-daily-limit", "--to", "--file",
		"--encoding", "gb18030", "exit 5", "a year", "--json", "--rejects", "--strict", "--dry-run", "--content"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("send --help lacks %s", f)
		}
	}
	r = h.run("", "--help")
	if !strings.Contains(r.stdout, "Exit status") || !strings.Contains(r.stdout, "5  send --id") || !strings.Contains(r.stdout, "4  Redis is unreachable") {
		t.Errorf("--help lacks the exit codes:\n%s", r.stdout)
	}
}

// FuzzSendFile feeds arbitrary files through `send --file -` (the line parser and normaliser of
// package recipients, then the store): enqueue never panics, exits 0 with a job id alone on
// stdout or 1 with nothing on stdout (no valid recipients, or text not valid in its encoding:
// nothing sent), and reports each bad line with its line number.
func FuzzSendFile(f *testing.F) {
	for _, s := range []string{"13800138000\n", "13800138000,1,2\n# c\n\n+1 650 253 0000\nbad\n", "\"a,b\n\"c\n",
		"\xef\xbb\xbf13800138000\r\n", ",\n,,,\n", "13800138000,\"x\n13800138001\n", "\x00\xff\n",
		"\xff\xfe0", "13800138000,\xd5\xc5\xc8\xfd\n13800138001\n"} {
		f.Add(s)
	}
	env := map[string]string{"REDIS_URL": redistest.Mini(f).URL, "SMS_SDK_APP_ID": "1400000001"}
	lineRef := regexp.MustCompile(`^line (\d+): `)
	f.Fuzz(func(t *testing.T, in string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"send", "--template", "1", "--file", "-"}, strings.NewReader(in), &out, &errb,
			func(k string) string { return env[k] })
		switch code {
		case 0:
			if !jobIDLine.MatchString(out.String()) {
				t.Fatalf("stdout %q", out.String())
			}
		case 1:
			if out.Len() != 0 || !strings.Contains(errb.String(), "no valid recipients") && !strings.Contains(errb.String(), "nothing sent") {
				t.Fatalf("exit 1: stdout %q stderr %q", out.String(), errb.String())
			}
		default:
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		lines := strings.Count(in, "\n") + 1
		for _, l := range strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n") {
			if strings.HasPrefix(l, "enqueue: ") {
				continue
			}
			m := lineRef.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("stderr line %q is neither a bad-line report nor an enqueue message", l)
			}
			if n := atoi(m[1]); n < 1 || n > lines {
				t.Fatalf("line number %d outside 1..%d", n, lines)
			}
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestStatusHelpListsStates: status --help shows the table of store.JobStates, row by row.
func TestStatusHelpListsStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("", "status", "--help")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	help := norm(r.stdout)
	prev := -1
	for _, row := range store.JobStates {
		final := map[bool]string{true: "yes", false: "no"}[row.Final]
		want := norm(string(row.State) + " " + final + " " + row.Condition)
		i := strings.Index(help, want)
		if i < 0 {
			t.Fatalf("status --help lacks the row %q:\n%s", want, r.stdout)
		}
		if i < prev {
			t.Fatalf("status --help: row %s out of order", row.State)
		}
		prev = i
	}
}
