package chaos

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/store"
)

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteCSV(&b, 1234); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if seen[line] {
			t.Fatalf("duplicate line %q", line)
		}
		seen[line] = true
		n, err := recipients.Normalize(line, "CN")
		if err != nil || n.String() != line || !n.Domestic() {
			t.Fatalf("line %q: normalised %q, %v; want a valid E.164 number", line, n, err)
		}
	}
	if len(seen) != 1234 {
		t.Errorf("%d lines, want 1234", len(seen))
	}
	if !seen["+8613800000000"] || !seen["+8613800001233"] {
		t.Errorf("first or last number missing")
	}
}

// passing is a result every criterion accepts.
func passing(sc Scenario) *Result {
	n := int64(sc.Numbers)
	return &Result{
		Scenario: sc, Settled: true, Elapsed: 100 * time.Second, Deadline: sc.Deadline(),
		Status:  store.Status{State: store.StateDone, Total: n, Sent: n, Delivered: n - 10, Undelivered: 10},
		Sandbox: sandbox.Stats{Calls: map[string]int64{"SendSms": 1000}, NumbersSent: n},
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	sc := KillScenario(false).withDefaults()
	sc.CrashFree = 115 * time.Second
	tests := []struct {
		name   string
		mutate func(r *Result)
		want   []string // substrings of the failures, in order; none: passes
	}{
		{"exact", func(*Result) {}, nil},
		{"issue's measurement: stalled", func(r *Result) {
			r.Settled, r.Elapsed = false, 480*time.Second
			r.Status = store.Status{State: store.StateRunning, Total: 100_000, Sent: 56_594, Unknown: 25_600, Pending: 43_406,
				Delivered: 56_000, Undelivered: 594}
			r.Sandbox.NumbersSent = 56_594
		}, []string{"not settled within the deadline 235.0 s", `state "running"`, "pending 43406", "unknown 25600",
			"sent 56594 + failed 0 = 56594, want total 100000"}},
		{"settled late", func(r *Result) { r.Elapsed = 236 * time.Second }, []string{"past the deadline"}},
		{"duplicate", func(r *Result) { r.Sandbox.NumbersSent++; r.Sandbox.DuplicateSends = 1 },
			[]string{"1 duplicate sends"}},
		{"sandbox accepted fewer", func(r *Result) { r.Sandbox.NumbersSent -= 3 },
			[]string{"accepted 99997 distinct numbers, the job counts 100000 sent"}},
		{"receipts short", func(r *Result) { r.Status.Delivered -= 100 }, []string{"want sent 100000"}},
		{"failed numbers", func(r *Result) {
			r.Status.Sent--
			r.Status.Failed = 1
			r.Status.Delivered--
			r.Sandbox.NumbersSent--
			r.Status.FailedByCode = map[string]int64{"LimitExceeded.PhoneNumberThirtySecondLimit": 1}
		}, []string{"failed 1 (LimitExceeded.PhoneNumberThirtySecondLimit 1)"}},
		{"numbers lost from the job", func(r *Result) {
			r.Status.Total, r.Status.Sent, r.Status.Delivered = 99_000, 99_000, 98_990
			r.Sandbox.NumbersSent = 99_000
		}, []string{"total 99000, want 100000"}},
		{"late send", func(r *Result) { r.LateSends = 2 }, []string{"2 numbers accepted by the sandbox after the job settled"}},
		{"failed state", func(r *Result) { r.Status.State = store.StateFailed }, []string{`state "failed", want done`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := passing(sc)
			tt.mutate(r)
			got := Evaluate(sc, r)
			if len(got) != len(tt.want) {
				t.Fatalf("failures %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("failure %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestEvaluateCrashFreeTimeout(t *testing.T) {
	t.Parallel()
	sc := CrashFreeOf(RedisScenario(true)).withDefaults()
	r := passing(sc)
	r.Settled, r.Elapsed = false, sc.Timeout
	r.Status.State, r.Status.Pending, r.Status.Sent = store.StateRunning, 5, int64(sc.Numbers)-5
	r.Sandbox.NumbersSent = r.Status.Sent
	r.Status.Delivered = r.Status.Sent - r.Status.Undelivered
	got := Evaluate(sc, r)
	if len(got) == 0 || !strings.Contains(got[0], "not settled within the timeout") {
		t.Errorf("failures %q", got)
	}
}

func TestSettled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		st   store.Status
		want bool
	}{
		{"done with every receipt", store.Status{State: store.StateDone, Total: 10, Sent: 10, Delivered: 9, Undelivered: 1}, true},
		{"done, receipts missing", store.Status{State: store.StateDone, Total: 10, Sent: 10, Delivered: 8}, false},
		{"running", store.Status{State: store.StateRunning, Total: 10, Sent: 10, Delivered: 10}, false},
		{"unknown left", store.Status{State: store.StateDone, Total: 10, Sent: 9, Unknown: 1, Delivered: 9}, false},
		{"pending left", store.Status{State: store.StateDone, Total: 10, Sent: 9, Pending: 1, Delivered: 9}, false},
		{"failed job", store.Status{State: store.StateFailed, Total: 10, Failed: 10}, true},
		{"paused", store.Status{State: store.StatePaused, Total: 10, Pending: 10}, false},
	}
	for _, tt := range tests {
		if got := settled(tt.st); got != tt.want {
			t.Errorf("%s: settled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sc                   Scenario
		numbers, rate, kills int
		every, down          time.Duration
		aof                  bool
		fault                Fault
	}{
		{KillScenario(false), 100_000, 10, 15, 4 * time.Second, 0, false, FaultWorker},
		{KillScenario(true), 10_000, 10, 10, time.Second, 0, false, FaultWorker},
		{RedisScenario(false), 50_000, 20, 5, 4 * time.Second, 2 * time.Second, true, FaultRedis},
		{RedisScenario(true), 10_000, 20, 5, 2 * time.Second, time.Second, true, FaultRedis},
	}
	for _, tt := range tests {
		sc := tt.sc
		if err := sc.Validate(); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
		if sc.Numbers != tt.numbers || sc.RateLimit != tt.rate || sc.Workers != 2 || sc.AOF != tt.aof || sc.Fault != tt.fault ||
			sc.RetryRate != 0.01 || sc.Window() != DefaultReconcileWindow {
			t.Errorf("%s = %+v", sc.Name, sc)
		}
		if kills := int(sc.KillFor / sc.KillEvery); kills != tt.kills || sc.KillEvery != tt.every || sc.Downtime != tt.down {
			t.Errorf("%s: %d kills every %v, want %d every %v", sc.Name, kills, sc.KillEvery, tt.kills, tt.every)
		}
		sc.CrashFree = 50 * time.Second
		if d := sc.Deadline(); d != 50*time.Second+2*time.Minute {
			t.Errorf("%s: deadline %v", sc.Name, d)
		}
		clean := CrashFreeOf(sc)
		if clean.Fault != FaultNone || clean.CrashFree != 0 || clean.Deadline() != 0 || clean.Numbers != sc.Numbers || clean.AOF != sc.AOF {
			t.Errorf("CrashFreeOf(%s) = %+v", sc.Name, clean)
		}
		if err := clean.Validate(); err != nil {
			t.Errorf("CrashFreeOf(%s): %v", sc.Name, err)
		}
	}
}

func TestScenarioValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Scenario)
		want   string
	}{
		{"no numbers", func(s *Scenario) { s.Numbers = 0 }, "numbers"},
		{"no rate", func(s *Scenario) { s.RateLimit = 0 }, "rate limit"},
		{"bad retry rate", func(s *Scenario) { s.RetryRate = 2 }, "retry rate"},
		{"bad fault", func(s *Scenario) { s.Fault = "network" }, "network"},
		{"kills nothing", func(s *Scenario) { s.KillFor = s.KillEvery / 2 }, "kills nothing"},
		{"negative", func(s *Scenario) { s.Latency = -1 }, "negative"},
		{"down for the whole period", func(s *Scenario) { s.Downtime = s.KillEvery }, "not shorter than the kill period"},
	}
	for _, tt := range tests {
		sc := KillScenario(true)
		tt.mutate(&sc)
		err := sc.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	got := ChildEnv([]string{"PATH=/bin", "REDIS_URL=redis://127.0.0.1:6379/0", "SMS_RATE_LIMIT=3000", "HOME=/root",
		"TENCENTCLOUD_SECRET_ID=AKIDreal", "LOG_LEVEL=debug"},
		map[string]string{"SMS_RATE_LIMIT": "10", "REDIS_URL": "redis://127.0.0.1:40000/0"})
	want := "PATH=/bin HOME=/root REDIS_URL=redis://127.0.0.1:40000/0 SMS_RATE_LIMIT=10"
	if strings.Join(got, " ") != want {
		t.Errorf("ChildEnv = %q, want %q", got, want)
	}
}

func TestParseFault(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"none", "worker", "worker-term", "redis"} {
		if f, err := ParseFault(s); err != nil || string(f) != s {
			t.Errorf("ParseFault(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := ParseFault("kill"); err == nil {
		t.Error("ParseFault(kill) succeeded")
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	sc := KillScenario(false).withDefaults()
	sc.CrashFree = 115 * time.Second
	r := passing(sc)
	r.JobID, r.Kills = "job-1", 15
	r.Status.Unknown, r.Status.Sent = 25_600, 74_400
	r.Failures = Evaluate(sc, r)
	var b bytes.Buffer
	r.Report(&b)
	out := b.String()
	for _, want := range []string{"chaos worker-kill: FAIL", "deadline", "235.0 s (crash-free 115.0 s + reconcile window 60.0 s + 60.0 s)",
		"unknown", "25600", "SendSms calls", "1000 (sandbox)", "15 kill -9 of a worker", "FAIL: unknown 25600, want 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if s := r.Summary(); !strings.Contains(s, "worker-kill FAIL: elapsed 100.0 s, deadline 235.0 s, 1000 calls") {
		t.Errorf("summary %q", s)
	}
}
