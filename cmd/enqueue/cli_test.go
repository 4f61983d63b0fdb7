package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/version"
	"github.com/smsdispatch/smsdispatch/store"
)

// fakeTerminal is a terminal of a given width (tty) or a pipe (!tty).
type fakeTerminal struct {
	tty   bool
	cols  int
	stdin io.Reader // when set, the one reader that is not a terminal (stdin piped)
}

func (f fakeTerminal) isTTY(v any) bool {
	if r, ok := v.(io.Reader); ok && f.stdin != nil && r == f.stdin {
		return false
	}
	return f.tty
}
func (f fakeTerminal) width(any) int { return f.cols }

// runOn runs enqueue with stderr on the fake terminal t and stdin from in.
func (h *harness) runOn(ctx context.Context, t terminal, in io.Reader, args ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdin: in, stdout: &out, stderr: &errb, getenv: func(k string) string { return h.env[k] },
		progressEvery: time.Millisecond, term: t, cacheDir: cacheDir(func(k string) string { return h.env[k] })}
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (h *harness) stored(id string) bool {
	h.t.Helper()
	_, err := store.New(h.rdb, store.Options{}).Status(context.Background(), id)
	return err == nil
}

// TestExitCodes: one case per documented exit status.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "send", "--template", "1", "--id", "taken", "--to", "13800138000"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ok", []string{"status", "taken"}, exitOK, ""},
		{"failed operation", []string{"send", "--template", "1", "--to", "12"}, exitFailure, "no valid recipients"},
		{"unknown command", []string{"stauts", "taken"}, exitUsage, `unknown command "stauts"; did you mean status`},
		{"malformed flag", []string{"status", "taken", "--interval", "soon"}, exitUsage, "--interval"},
		{"malformed job id", []string{"status", "a:b"}, exitUsage, "JOB_ID"},
		{"malformed job id to cancel", []string{"cancel", "a b"}, exitUsage, "JOB_ID"},
		{"job not found", []string{"status", "nope"}, exitNotFound, "job nope not found"},
		{"job not found to cancel", []string{"cancel", "nope"}, exitNotFound, "not found"},
		{"id of another request", []string{"send", "--template", "2", "--id", "taken", "--to", "13800138000"}, exitConflict, "different request"},
		{"exit-status without wait", []string{"status", "taken", "--exit-status"}, exitUsage, "only with --wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run("", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
		})
	}

	// Redis unreachable: 4, for every command that needs it.
	h2 := newHarness(t)
	h2.mr.Close()
	for _, args := range [][]string{{"status", "x"}, {"cancel", "x"}, {"resume"}, {"send", "--template", "1", "--to", "13800138000"}} {
		t.Run("unreachable "+args[0], func(t *testing.T) {
			t.Parallel()
			if r := h2.run("", args...); r.code != exitUnreachable || !strings.Contains(r.stderr, "does not answer") {
				t.Errorf("%v with Redis down: exit %d %q; want 4", args, r.code, r.stderr)
			}
		})
	}
}

// TestVersion: --version prints the shared version line and needs no Redis.
func TestVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mr.Close()
	r := h.run("", "--version")
	if r.code != 0 || r.stdout != version.String("enqueue")+"\n" || !strings.HasPrefix(r.stdout, "enqueue ") {
		t.Fatalf("%+v", r)
	}
}

func TestSendJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("13800138000\nbad\n13800138000\n+1 650 253 0000\n", "send", "--template", "1", "--file", "-", "--id", "js", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	want := map[string]any{"id": "js", "recipients": 2.0, "batches": 2.0, "rejected": 1.0, "duplicates": 1.0, "created": true}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, got[k], v, r.stdout)
		}
	}
	// Again: the existing job, created false.
	r = h.run("13800138000\n+1 650 253 0000\n", "send", "--template", "1", "--file", "-", "--id", "js", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"id":"js","recipients":2`) || !strings.Contains(r.stdout, `"created":false`) {
		t.Fatalf("again: %+v", r)
	}
}

func TestSendRejectsFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "rejects.csv")
	r := h.run("13800138000\nnot-a-number\n\"13800\n12,a,b\n", "send", "--template", "1", "--file", "-", "--rejects", path)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != "line,input,reason" || rows[1][0] != "2" || rows[1][1] != "not-a-number" || rows[1][2] == "" {
		t.Fatalf("rejects file %q", rows)
	}
	if !strings.Contains(r.stderr, "line 2: ") {
		t.Fatalf("stderr no longer reports the rejects: %s", r.stderr)
	}
	// --to positions count as lines.
	r = h.run("", "send", "--template", "1", "--to", "13800138000,bad", "--rejects", path)
	data, _ := os.ReadFile(path)
	if r.code != 0 || !strings.HasPrefix(string(data), "line,input,reason\n2,bad,") {
		t.Fatalf("%+v %q", r, data)
	}
	// A file that cannot be written: nothing sent.
	r = h.run("", "send", "--template", "1", "--id", "nowrite", "--to", "13800138000", "--rejects", filepath.Join(path, "x"))
	if r.code != exitFailure || !strings.Contains(r.stderr, "--rejects") || h.stored("nowrite") {
		t.Fatalf("unwritable: %+v", r)
	}
}

func TestSendStrict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "list.csv")
	if err := os.WriteFile(path, []byte("13800138000\nbad\n13800138001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	r := h.run("", "send", "--template", "1", "--id", "strict", "--file", path, "--strict", "--rejects", rejects)
	if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "--strict: 1 lines rejected; nothing sent") || !strings.Contains(r.stderr, "line 2: ") {
		t.Fatalf("%+v", r)
	}
	if h.stored("strict") || len(h.mr.Keys()) != 0 {
		t.Fatalf("stored something: %q", h.mr.Keys())
	}
	if data, _ := os.ReadFile(rejects); !strings.Contains(string(data), "2,bad,") {
		t.Fatalf("rejects %q", data)
	}
	r = h.run("", "send", "--template", "1", "--id", "strict-to", "--to", "13800138000,12", "--strict")
	if r.code != exitFailure || h.stored("strict-to") {
		t.Fatalf("--to: %+v", r)
	}
	// Clean input: sent in full, from a file and from stdin (spooled, read twice).
	r = h.run("", "send", "--template", "1", "--id", "clean", "--file", path+"", "--strict", "--to", "x")
	if r.code != exitUsage {
		t.Fatalf("--to with --file: %+v", r)
	}
	if err := os.WriteFile(path, []byte("13800138000\n13800138001\n13800138000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "send", "--template", "1", "--id", "clean", "--file", path, "--strict")
	if r.code != 0 || r.stdout != "clean\n" || len(h.pendingTasks("clean")) != 1 {
		t.Fatalf("clean file: %+v", r)
	}
	r = h.run("13800138000\n13800138001\n+1 650 253 0000\n", "send", "--template", "1", "--id", "clean-stdin", "--file", "-", "--strict", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"recipients":3`) || len(h.pendingTasks("clean-stdin")) != 2 {
		t.Fatalf("clean stdin: %+v", r)
	}
}

// TestSendDryRun: the figures of a dry run, nothing stored, no Redis needed.
func TestSendDryRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	in := "13800138000\n13800138001,张三\nbad\n+86 138 0013 8000\n+1 650 253 0000\n+44 20 7031 3000\n"
	// 【Acme】 (6) + "Hi Friend, your code is 1234" (28) = 34 characters: 1 segment domestic;
	// international without the sign, GSM-7: 28 septets, 1 segment.
	base := []string{"send", "--template", "1", "--sign", "Acme", "--param", "Friend", "--file", "-", "--dry-run", "--content", "Hi {1}, your code is 1234"}
	r := h.run(in, append(base, "--json")...)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var got dryRunReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%q: %v", r.stdout, err)
	}
	if !got.DryRun || got.Recipients != 4 || got.Domestic != 2 || got.International != 2 || got.Batches != 3 || got.Rejected != 1 || got.Duplicates != 1 {
		t.Fatalf("report %+v", got)
	}
	// Domestic: "【Acme】Hi Friend, your code is 1234" = 34, "【Acme】Hi 张三, your code is 1234" = 30.
	if d := got.DomesticSegments; d == nil || d.Min != 1 || d.Max != 1 || d.MinChars != 30 || d.MaxChars != 34 || d.GSM {
		t.Fatalf("domestic %+v", d)
	}
	if i := got.InternationalSegments; i == nil || i.Min != 1 || i.MaxChars != 28 || !i.GSM {
		t.Fatalf("international %+v", i)
	}
	if got.Segments == nil || *got.Segments != 4 {
		t.Fatalf("fee estimate %v, want 4", got.Segments)
	}
	if len(h.mr.Keys()) != 0 {
		t.Fatalf("a dry run stored %q", h.mr.Keys())
	}

	// A long text: 2 segments each domestic (80 Chinese characters), 2 international (UCS-2).
	long := strings.Repeat("码", 80)
	r = h.run("13800138000\n+1 650 253 0000\n", "send", "--template", "1", "--file", "-", "--dry-run", "--content", long)
	for _, want := range []string{"dry run", "nothing stored", "recipients", "2", "(1 domestic, 1 international)", "domestic       2 segments per number (80 characters, UCS-2)",
		"international  2 segments per number (80 characters, UCS-2)", "fee estimate   4"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("stdout lacks %q: %+v", want, r)
		}
	}

	// Without --content: no estimate; without Redis: still works.
	h.mr.Close()
	r = h.run(in, "send", "--template", "1", "--file", "-", "--dry-run")
	if r.code != 0 || !regexp.MustCompile(`(?m)^segments +unknown +\(pass --content`).MatchString(r.stdout) {
		t.Fatalf("no content, no Redis: %+v", r)
	}
	r = h.run("", "send", "--template", "1", "--to", "13800138000", "--content", "x")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--content: only with --dry-run") {
		t.Fatalf("--content alone: %+v", r)
	}
}

// TestStatusExitStatus: --exit-status exits 1 for cancelled, failed and paused jobs, 0 otherwise;
// without it the same waits exit 0.
func TestStatusExitStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	s := store.New(h.rdb, store.Options{})
	for _, id := range []string{"cancelled", "failed", "paused"} {
		app := "1400000001"
		if id == "paused" {
			app = "1400000007"
		}
		if r := h.run("", "send", "--template", "1", "--id", id, "--app", app, "--to", "13800138000"); r.code != 0 {
			t.Fatalf("send: %+v", r)
		}
	}
	if _, err := s.Cancel(ctx, "cancelled"); err != nil {
		t.Fatal(err)
	}
	if err := s.FailJob(ctx, "failed", "FailedOperation.TemplateIncorrectOrUnapproved"); err != nil {
		t.Fatal(err)
	}
	if err := s.Halt(ctx, "1400000007", "FailedOperation.InsufficientBalanceInSmsPackage", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id, state string
	}{{"cancelled", "cancelled"}, {"failed", "failed"}, {"paused", "paused"}}
	for _, tt := range tests {
		r := h.run("", "status", tt.id, "--wait", "--exit-status", "--interval", "10ms", "--json")
		if r.code != exitFailure || !strings.Contains(r.stdout, `"state":"`+tt.state+`"`) || !strings.Contains(r.stderr, "job "+tt.id) {
			t.Errorf("%s: %+v; want exit 1 with the status printed", tt.id, r)
		}
	}
	for _, id := range []string{"cancelled", "failed"} {
		if r := h.run("", "status", id, "--wait", "--interval", "10ms"); r.code != 0 {
			t.Errorf("%s without --exit-status: %+v", id, r)
		}
	}
}

func TestStatusWaitTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.run("", "send", "--template", "1", "--id", "slow", "--to", "13800138000"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	start := time.Now()
	r := h.run("", "status", "slow", "--wait", "--timeout", "100ms", "--interval", "20ms")
	if r.code != exitFailure || !strings.Contains(r.stderr, "--timeout 100ms passed: job slow is still running") ||
		!strings.Contains(r.stdout, "running") || time.Since(start) > 5*time.Second {
		t.Fatalf("%+v", r)
	}
}

// TestStatusWhy: status names the halt, the schedule, the template and sign, and explains the
// failure codes.
func TestStatusWhy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	r := h.run("", "send", "--template", "1000002", "--sign", "Acme", "--id", "why", "--app", "1400000007",
		"--at", at.Format(time.RFC3339), "--expire", "3h", "--to", "13800138000")
	if r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	s := store.New(h.rdb, store.Options{})
	probe := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	if err := s.Halt(ctx, "1400000007", "FailedOperation.InsufficientBalanceInSmsPackage", probe); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "status", "why")
	for _, want := range []string{"template", "1000002", "sign Acme", "send at", at.Local().Format(time.RFC3339), "expires",
		"app halted", "FailedOperation.InsufficientBalanceInSmsPackage", "balance is used up", "since", "next probe",
		probe.Local().Format(time.RFC3339), "enqueue resume --app 1400000007"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("status lacks %q: %+v", want, r)
		}
	}
	if err := s.FailJob(ctx, "why", "FailedOperation.TemplateIncorrectOrUnapproved"); err != nil {
		t.Fatal(err)
	}
	r = h.run("", "status", "why")
	for _, want := range []string{"stopped by", "FailedOperation.TemplateIncorrectOrUnapproved  the template does not exist or is not approved", "failed by code:"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("status lacks %q: %+v", want, r)
		}
	}
}

func TestPrintFailedByCode(t *testing.T) {
	var b bytes.Buffer
	codes := map[string]int64{"Expired": 3, "FailedOperation.PhoneNumberInBlacklist": 40, "InvalidParameterValue.IncorrectPhoneNumber": 7}
	for i := range topFailureCodes {
		codes["Some.Code"+string(rune('A'+i))] = 1
	}
	if err := printFailedByCode(&b, codes); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != topFailureCodes+2 || !strings.Contains(lines[1], "PhoneNumberInBlacklist") || !strings.Contains(lines[1], "40") ||
		!strings.Contains(lines[1], "unsubscribed") || !strings.Contains(lines[2], "IncorrectPhoneNumber") || !strings.Contains(lines[3], "--expire") ||
		!strings.Contains(lines[len(lines)-1], "3 more codes") {
		t.Fatalf("%s", b.String())
	}
}

// TestProgressFitsWidth: the live line of status --wait never reaches the terminal's last column,
// keeps the leading fields, and shows every field when there is room; a log gets every field.
func TestProgressFitsWidth(t *testing.T) {
	st := store.Status{ID: "a1b2c3d4e5f6g7h8i9j0k1l2", State: store.StateRunning, Total: 10_000_000, Sent: 4_567_890, Failed: 123_456,
		Cancelled: 7, Unknown: 12_345, Pending: 5_308_647, Delivered: 4_000_000, Undelivered: 56_789}
	full := progressLine(st)
	if len(full) < 150 {
		t.Fatalf("test line too short to test: %d", len(full))
	}
	for _, cols := range []int{20, 40, 80, 132, 400, 0} {
		var b bytes.Buffer
		p := newProgress(&b, fakeTerminal{tty: true, cols: cols}, time.Second)
		p.show(st)
		p.show(st)
		p.done()
		out := b.String()
		limit := cols - 1
		if cols == 0 {
			limit = defaultWidth - 1
		}
		for _, seg := range strings.Split(strings.TrimSuffix(out, "\n"), "\r")[1:] {
			line := strings.TrimSuffix(seg, clearToEOL)
			if len(line) > limit || strings.Contains(line, "\n") {
				t.Fatalf("cols %d: line of %d: %q", cols, len(line), line)
			}
			if cols >= 80 && !strings.HasPrefix(line, st.ID+" running: 4691353/10000000 settled") {
				t.Fatalf("cols %d: %q", cols, line)
			}
			if cols >= 400 && line != full {
				t.Fatalf("cols %d: %q, want every field", cols, line)
			}
		}
	}
	var b bytes.Buffer
	newProgress(&b, fakeTerminal{}, time.Second).show(st)
	if b.String() != full+"\n" {
		t.Fatalf("log line %q", b.String())
	}
}

// TestSendFileProgress: on a terminal, reading --file shows lines read and a bar; piped, nothing.
func TestSendFileProgress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	path := filepath.Join(t.TempDir(), "list.csv")
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, "1380013%04d\n", i)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.runOn(context.Background(), fakeTerminal{tty: true, cols: 80}, strings.NewReader(""), "send", "--template", "1", "--file", path)
	if r.code != 0 || !strings.Contains(r.stderr, "\rreading recipients: 500 lines") || !strings.Contains(r.stderr, "100%") || !strings.Contains(r.stderr, "lines/s") {
		t.Fatalf("terminal: %+v", r)
	}
	r = h.runOn(context.Background(), fakeTerminal{}, strings.NewReader(""), "send", "--template", "1", "--file", path)
	if r.code != 0 || strings.Contains(r.stderr, "reading recipients") || strings.Contains(r.stderr, "\r") {
		t.Fatalf("piped: %+v", r)
	}
	// stdin: piped into a terminal session, progress; typed on the terminal, none.
	in := strings.NewReader(sb.String())
	r = h.runOn(context.Background(), fakeTerminal{tty: true, cols: 80, stdin: in}, in, "send", "--template", "1", "--file", "-")
	if r.code != 0 || !strings.Contains(r.stderr, "\rreading recipients: 500 lines, ") || strings.Contains(r.stderr, "%") {
		t.Fatalf("stdin piped: %+v", r)
	}
	r = h.runOn(context.Background(), fakeTerminal{tty: true, cols: 80}, strings.NewReader(sb.String()), "send", "--template", "1", "--file", "-")
	if r.code != 0 || strings.Contains(r.stderr, "reading recipients") {
		t.Fatalf("stdin typed: %+v", r)
	}
}

func TestReadProgressLine(t *testing.T) {
	p := &readProgress{lines: 1_234_567, read: 50, size: 200, start: time.Unix(0, 0)}
	for _, cols := range []int{30, 60, 80, 200} {
		line := p.line(time.Unix(10, 0), cols)
		if len(line) > cols-1 || !strings.HasPrefix(line, "reading recipients: 1,234,567 lines"[:min(35, cols-1)]) {
			t.Fatalf("cols %d: %q", cols, line)
		}
		if cols >= 80 && (!strings.Contains(line, "123,456 lines/s") || !strings.Contains(line, " 25%")) {
			t.Fatalf("cols %d: %q", cols, line)
		}
	}
}

// TestSendStdinInterrupted: Ctrl-C (ctx cancelled) while stdin blocks ends send at once, nothing
// stored.
func TestSendStdinInterrupted(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("13800138000\n")) }() // one line, then stdin blocks
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan result, 1)
	go func() {
		done <- h.runOn(ctx, fakeTerminal{}, pr, "send", "--template", "1", "--id", "intr", "--file", "-")
	}()
	select {
	case r := <-done:
		if r.code != exitFailure || !strings.Contains(r.stderr, "context canceled") || h.stored("intr") {
			t.Fatalf("%+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("send still blocked in stdin 10 s after ctx was cancelled")
	}
}

func TestCtxReader(t *testing.T) {
	r := newCtxReader(context.Background(), strings.NewReader("hello world"))
	var got []byte
	buf := make([]byte, 3) // smaller than one underlying read: the rest is kept
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != "hello world" {
		t.Fatalf("%q", got)
	}
}

// TestAdvertisedNoticeOnce: the advertised-app notice is shown the first time per app only.
func TestAdvertisedNoticeOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	delete(h.env, "SMS_SDK_APP_ID")
	s := store.New(h.rdb, store.Options{})
	advertise := func(app string) {
		if err := s.AdvertiseDefaults(context.Background(), store.Defaults{AppID: app}); err != nil {
			t.Fatal(err)
		}
	}
	send := func() result { return h.run("", "send", "--template", "1", "--to", "13800138000") }
	advertise("1400000009")
	if r := send(); r.code != 0 || !strings.Contains(r.stderr, "using the app 1400000009 advertised by a worker") {
		t.Fatalf("first: %+v", r)
	}
	if r := send(); r.code != 0 || strings.Contains(r.stderr, "using the app") {
		t.Fatalf("second: %+v", r)
	}
	advertise("1400000010")
	if r := send(); r.code != 0 || !strings.Contains(r.stderr, "using the app 1400000010") {
		t.Fatalf("another app: %+v", r)
	}
}

// TestPrintStatusWhy: the text status names suppressed numbers and a closed send window, and
// the progress fields count suppressed numbers as settled.
func TestPrintStatusWhy(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard}
	opens := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	st := store.Status{ID: "j", State: store.StateScheduled, Total: 4, Sent: 1, Suppressed: 1, Pending: 2,
		Window: "08:00-22:00 Asia/Shanghai", NextOpen: opens}
	if err := a.printStatus(st, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"suppressed   1  25.0%", "08:00-22:00 Asia/Shanghai", "closed: opens " + opens.Local().Format(time.RFC3339)} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	if line := progressLine(st); !strings.Contains(line, "2/4 settled") || !strings.Contains(line, "suppressed 1") {
		t.Errorf("progress line %q, want 2/4 settled and suppressed 1", line)
	}
}
