package main

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// These tests cover the bench's pure helpers only; the benchmark itself needs a real Redis and
// minutes of CPU and never runs under go test.

func TestPercentile(t *testing.T) {
	t.Parallel()
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1)
	}
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"one sample", []float64{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50},
		{"p90 of 1..100", hundred, 90, 90},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100 is the max", hundred, 100, 100},
		{"tiny p is the min", hundred, 0.001, 1},
		{"p99 of 10 is the max", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
		{"p50 of 4 is the 2nd", []float64{1, 2, 3, 4}, 50, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("percentile(nil) = %v, want NaN", got)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("median modified its input: %v -> %v", in, tt.in)
		}
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	if got := summarize(nil); got != (Summary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	want := Summary{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
}

func at(ms ...int) []time.Time {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]time.Time, len(ms))
	for i, m := range ms {
		out[i] = base.Add(time.Duration(m) * time.Millisecond)
	}
	return out
}

func TestMaxInWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ts   []time.Time
		want int
	}{
		{"none", nil, 0},
		{"one", at(5), 1},
		{"all within a second", at(0, 100, 999), 3},
		{"closed window: both ends count", at(0, 1000), 2},
		{"just over a second apart", at(0, 1001), 1},
		{"densest second in the middle", at(0, 1500, 1600, 1700, 2400, 2600, 4000), 4},
		{"equal times", at(10, 10, 10), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxInWindow(tt.ts, time.Second); got != tt.want {
				t.Errorf("maxInWindow = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestPerWindowCounts(t *testing.T) {
	t.Parallel()
	ts := at(-5, 0, 10, 999, 1000, 1500, 2999, 3000, 3500)
	from := at(0)[0]
	got := perWindowCounts(ts, from, from.Add(3500*time.Millisecond), time.Second)
	// Windows [0,1), [1,2), [2,3); the partial [3,3.5) is dropped; -5 ms is before from.
	if want := []float64{3, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("perWindowCounts = %v, want %v", got, want)
	}
	if got := perWindowCounts(ts, from, from, time.Second); got != nil {
		t.Errorf("empty span = %v, want nil", got)
	}
}

func TestWindowRates(t *testing.T) {
	t.Parallel()
	base := at(0)[0]
	p := func(ms int, done int64) progressPoint {
		return progressPoint{t: base.Add(time.Duration(ms) * time.Millisecond), done: done}
	}
	points := []progressPoint{
		p(0, 0), p(250, 0), // start-up: no progress yet
		p(500, 100), p(750, 200), p(1000, 300), p(1250, 400), p(1500, 500), // 400/s from 250 ms
		p(1750, 600), p(2000, 700), p(2250, 800), p(2500, 900),
		p(2750, 1000), // done
		p(3000, 1000), // after the end: ignored
	}
	got := windowRates(points, 1000, time.Second)
	if want := []float64{400, 400}; !slices.Equal(got, want) {
		t.Errorf("windowRates = %v, want %v", got, want)
	}
	if got := windowRates([]progressPoint{p(0, 0), p(1000, 0)}, 10, time.Second); got != nil {
		t.Errorf("no progress = %v, want nil", got)
	}
}

const procStatus = `Name:	worker
Umask:	0022
State:	S (sleeping)
VmPeak:	 1790240 kB
VmSize:	 1790240 kB
VmHWM:	   40140 kB
VmRSS:	   38012 kB
RssAnon:	   20000 kB
Threads:	12
`

func TestParseProcStatus(t *testing.T) {
	t.Parallel()
	m, err := parseProcStatus([]byte(procStatus))
	if err != nil {
		t.Fatal(err)
	}
	if m.HWM != 40140*1024 || m.RSS != 38012*1024 {
		t.Errorf("got %+v", m)
	}
	for _, bad := range []string{"", "Name:\tkthreadd\nState:\tS\n", "VmHWM:\t12 MB\nVmRSS:\t1 kB\n", "VmHWM:\tx kB\nVmRSS:\t1 kB\n"} {
		if _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("parseProcStatus(%q) = nil error", bad)
		}
	}
}

func TestParseProcStatCPU(t *testing.T) {
	t.Parallel()
	// utime 250 and stime 50 ticks; the command name holds spaces and a ')'.
	stat := "1234 (my (odd) worker) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000 200"
	got, err := parseProcStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("cpu = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s"} {
		if _, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseProcStatCPU(%q) = nil error", bad)
		}
	}
}

func TestInfoFields(t *testing.T) {
	t.Parallel()
	info := "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n"
	if n, err := infoInt(info, "used_memory"); err != nil || n != 1048576 {
		t.Errorf("used_memory = %d, %v", n, err)
	}
	if d, err := infoSeconds(info, "used_cpu_user"); err != nil || d != 2250*time.Millisecond {
		t.Errorf("used_cpu_user = %v, %v", d, err)
	}
	if _, err := infoInt(info, "used_memory_human"); err == nil {
		t.Error("non-integer field parsed")
	}
	if _, err := infoInt(info, "missing"); err == nil {
		t.Error("missing field found")
	}
	if v, ok := infoField(info, "used_memory_human"); !ok || v != "1.00M" {
		t.Errorf("infoField = %q, %v", v, ok)
	}
}

func TestCommandStats(t *testing.T) {
	t.Parallel()
	before := parseCommandStats("# Commandstats\r\ncmdstat_set:calls=10,usec=100,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\ncmdstat_get:calls=5,usec=5\r\n")
	after := parseCommandStats("cmdstat_set:calls=110,usec=700,usec_per_call=6.36\r\ncmdstat_get:calls=5,usec=5\r\ncmdstat_evalsha:calls=50,usec=400\r\n")
	got := topCommands(before, after, 5)
	want := []cmdStat{{Name: "set", Calls: 100, Usec: 600, Share: 0.6}, {Name: "evalsha", Calls: 50, Usec: 400, Share: 0.4}}
	if !slices.Equal(got, want) {
		t.Errorf("topCommands = %+v, want %+v", got, want)
	}
	if got := topCommands(before, after, 1); len(got) != 1 || got[0].Name != "set" {
		t.Errorf("top 1 = %+v", got)
	}
}

func TestMetricSum(t *testing.T) {
	t.Parallel()
	text := `# HELP smsdispatch_worker_task_duration_seconds Time.
# TYPE smsdispatch_worker_task_duration_seconds histogram
smsdispatch_worker_task_duration_seconds_bucket{type="sms:send_batch",le="0.005"} 3
smsdispatch_worker_task_duration_seconds_sum{type="sms:send_batch"} 12.5
smsdispatch_worker_task_duration_seconds_count{type="sms:send_batch"} 1000
smsdispatch_worker_task_duration_seconds_sum{type="sms:reconcile"} 1
smsdispatch_worker_task_duration_seconds_count{type="sms:reconcile"} 1
smsdispatch_sendsms_duration_seconds_sum 3
smsdispatch_sendsms_duration_seconds_count 1000
smsdispatch_sendsms_duration_seconds_sum_extra 99
`
	if got := histMeanMs(text, "smsdispatch_worker_task_duration_seconds", `type="sms:send_batch"`); got != 12.5 {
		t.Errorf("send_batch mean = %v ms, want 12.5", got)
	}
	if got := histMeanMs(text, "smsdispatch_sendsms_duration_seconds", ""); got != 3 {
		t.Errorf("sendsms mean = %v ms, want 3 (a longer name must not match)", got)
	}
	if got, ok := metricSum(text, "smsdispatch_worker_task_duration_seconds_count", ""); !ok || got != 1001 {
		t.Errorf("count over every label = %v, %v", got, ok)
	}
	if got := histMeanMs(text, "absent", ""); got != 0 {
		t.Errorf("absent = %v", got)
	}
}

func TestNumbersWithPrefix(t *testing.T) {
	t.Parallel()
	body := []byte(`{"PhoneNumberSet":["+8613800000001","+8615000000007","+8615000000123"],"SessionContext":"x"}`)
	got := numbersWithPrefix(body, otpMarker)
	if want := []string{"+8615000000007", "+8615000000123"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := numbersWithPrefix([]byte(`["+8615000`), otpMarker); got != nil {
		t.Errorf("unterminated = %q, want none", got)
	}
	if got := numbersWithPrefix([]byte(`{"PhoneNumberSet":["+8613800000001"]}`), otpMarker); got != nil {
		t.Errorf("bulk body = %q, want none", got)
	}
}

func FuzzNumbersWithPrefix(f *testing.F) {
	f.Add([]byte(`["+8615000000007","+8615000000008"]`))
	f.Add([]byte(`"+86150`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, n := range numbersWithPrefix(body, otpMarker) {
			if !strings.HasPrefix(n, otpMarker[1:]) || strings.Contains(n, `"`) {
				t.Fatalf("bad number %q", n)
			}
		}
	})
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte(procStatus))
	f.Add([]byte("1 (a) S 1 1 1 0 -1 0 0 0 0 0 1 1 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseProcStatus(b)
		_, _ = parseProcStatCPU(b)
	})
}

func TestNumberRanges(t *testing.T) {
	t.Parallel()
	if got := cnNumber(bulkBase, 0); got != "+8613800000000" {
		t.Errorf("first bulk number %q", got)
	}
	if got := cnNumber(bulkBase, 10_000_000-1); got != "+8613809999999" {
		t.Errorf("last bulk number %q", got)
	}
	// The recorder tells OTP numbers apart by prefix: no bulk or raw number may carry it.
	for _, n := range []string{cnNumber(bulkBase, 9_999_999), cnNumber(rawBase, 199)} {
		if strings.Contains(`"`+n, otpMarker) {
			t.Errorf("%s carries the OTP marker", n)
		}
	}
	if !strings.Contains(`"`+cnNumber(otpBase, 99_999), otpMarker) {
		t.Error("OTP number without the marker")
	}
}

func TestCheckRedisTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url   string
		iKnow bool
		ok    bool
	}{
		{"redis://127.0.0.1:6379/0", false, false},
		{"redis://localhost/0", false, false}, // default port is 6379
		{"redis://127.0.0.1:6379/0", true, true},
		{"redis://127.0.0.1:40123/0", false, true},
		{"redis://localhost:40123", false, true},
		{"redis://[::1]:40123/1", false, true},
		{"rediss://127.0.0.2:40123/0", false, true},
		{"redis://10.0.0.5:40123/0", false, false},
		{"redis://redis.example.com:40123/0", false, false},
		{"redis://10.0.0.5:40123/0", true, true},
		{"http://127.0.0.1:40123", true, false},
		{"::not a url", true, false},
	}
	for _, tt := range tests {
		err := checkRedisTarget(tt.url, tt.iKnow)
		if (err == nil) != tt.ok {
			t.Errorf("checkRedisTarget(%q, %v) = %v, want ok=%v", tt.url, tt.iKnow, err, tt.ok)
		}
	}
}

func TestBenchKey(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{"sms:{j}:job": true, "asynq:{sms-bulk}:pending": true, "session:42": false, "": false} {
		if got := benchKey(k); got != want {
			t.Errorf("benchKey(%q) = %v", k, got)
		}
	}
}

func TestFmtCount(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1000000: "1,000,000", -12345: "-12,345"} {
		if got := fmtCount(n); got != want {
			t.Errorf("fmtCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	got := childEnv([]string{"PATH=/bin", "REDIS_URL=redis://shared", "SMS_RATE_LIMIT=1", "HOME=/root", "LOG_LEVEL=debug"},
		map[string]string{"REDIS_URL": "redis://private"})
	slices.Sort(got)
	if want := []string{"HOME=/root", "PATH=/bin", "REDIS_URL=redis://private"}; !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	none := env(nil)
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		ok     bool
	}{
		{"needs a redis url", nil, none, false},
		{"from REDIS_URL", nil, env(map[string]string{"REDIS_URL": "redis://127.0.0.1:40000/0"}), true},
		{"refuses 6379", []string{"--redis-url", "redis://127.0.0.1:6379/0"}, none, false},
		{"6379 with --i-know", []string{"--redis-url", "redis://127.0.0.1:6379/0", "--i-know"}, none, true},
		{"numbers range", []string{"--redis-url", "redis://127.0.0.1:40000", "--numbers", "0"}, none, false},
		{"too many numbers", []string{"--redis-url", "redis://127.0.0.1:40000", "--numbers", "10000001"}, none, false},
		{"priority", []string{"--redis-url", "redis://127.0.0.1:40000", "--priority", "otp"}, none, false},
		{"no otps", []string{"--redis-url", "redis://127.0.0.1:40000", "--otp-every", "0"}, none, true},
		{"stray argument", []string{"--redis-url", "redis://127.0.0.1:40000", "extra"}, none, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, tt.getenv, io.Discard)
			if (err == nil) != tt.ok {
				t.Errorf("parseFlags(%q) = %v, want ok=%v", tt.args, err, tt.ok)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	t.Parallel()
	var seen []byte
	rec := newRecorder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = io.ReadAll(r.Body)
		_, _ = w.Write([]byte("ok"))
	}))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	start := time.Now()
	post := func(action, body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("X-TC-Action", action)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	otpBody := `{"PhoneNumberSet":["+8615000000042"],"TemplateId":"1000001"}`
	post("SendSms", otpBody)
	if !bytes.Equal(seen, []byte(otpBody)) {
		t.Errorf("handler saw %q, want the body unchanged", seen)
	}
	post("SendSms", `{"PhoneNumberSet":["+8613800000001"]}`)
	post("PullSmsSendStatus", `{"Limit":100,"x":"+8615000000043"}`)

	if got := len(rec.callsSince(start)); got != 2 {
		t.Errorf("SendSms calls = %d, want 2", got)
	}
	if got := len(rec.callsSince(time.Now().Add(time.Hour))); got != 0 {
		t.Errorf("calls in the future = %d", got)
	}
	if at, ok := rec.otpArrival("+8615000000042"); !ok || at.Before(start) {
		t.Errorf("OTP arrival = %v, %v", at, ok)
	}
	if _, ok := rec.otpArrival("+8615000000043"); ok {
		t.Error("a pull call counted as an OTP send")
	}
	if first, ok := rec.firstCallSince(start); !ok || first.Before(start) {
		t.Errorf("firstCallSince = %v, %v", first, ok)
	}
}
