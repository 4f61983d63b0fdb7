package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pure helpers of the benchmark (no I/O): statistics, parsers of /proc and INFO text, number
// generation and the Redis target check. helpers_test.go covers them.

// Summary describes a sample of latencies in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted, or NaN when
// sorted is empty. Nearest rank never invents a value that was not observed: p99 of 100 samples
// is the 99th smallest.
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// median returns the median of xs (the mean of the two middle values for an even count), 0 for
// none (JSON has no NaN). xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize returns the percentiles of durations, in milliseconds (all zero, Count 0, for none:
// JSON has no NaN).
func summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	ms := make([]float64, len(ds))
	sum := 0.0
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
		sum += ms[i]
	}
	slices.Sort(ms)
	return Summary{
		Count: len(ms),
		P50:   percentile(ms, 50),
		P90:   percentile(ms, 90),
		P99:   percentile(ms, 99),
		Max:   ms[len(ms)-1],
		Mean:  sum / float64(len(ms)),
	}
}

// maxInWindow returns the largest number of events of sorted (ascending) that fall in any
// closed window [t, t+w]: for SendSms arrivals and w = 1 s, the peak calls in a sliding second.
func maxInWindow(sorted []time.Time, w time.Duration) int {
	best, lo := 0, 0
	for hi := range sorted {
		for sorted[hi].Sub(sorted[lo]) > w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// perWindowCounts counts the events of sorted (ascending) in consecutive windows of w starting at
// from, up to (not including) to; events outside [from, to) are ignored. A trailing partial window
// is dropped, so every count covers a whole w.
func perWindowCounts(sorted []time.Time, from, to time.Time, w time.Duration) []float64 {
	if w <= 0 || !to.After(from) {
		return nil
	}
	n := int(to.Sub(from) / w)
	counts := make([]float64, n)
	for _, t := range sorted {
		if t.Before(from) {
			continue
		}
		i := int(t.Sub(from) / w)
		if i >= n {
			break
		}
		counts[i]++
	}
	return counts
}

// progressPoint is one Status sample: at t, done numbers were settled (sent, failed or cancelled).
type progressPoint struct {
	t    time.Time
	done int64
}

// windowRates turns cumulative progress samples (ascending in time) into rates per second over
// consecutive spans of at least w, for the span starting at the first sample with progress and
// ending at the first sample where the work was complete (done == total): a median of these is the
// steady rate, unaffected by start-up and the tail.
func windowRates(points []progressPoint, total int64, w time.Duration) []float64 {
	start := -1
	for i, p := range points {
		if p.done > 0 {
			start = max(i-1, 0)
			break
		}
	}
	if start < 0 {
		return nil
	}
	var rates []float64
	a := points[start]
	for _, p := range points[start+1:] {
		if dt := p.t.Sub(a.t); dt >= w {
			rates = append(rates, float64(p.done-a.done)/dt.Seconds())
			a = p
		}
		if p.done >= total {
			break
		}
	}
	return rates
}

// procMemory holds the memory lines of /proc/<pid>/status, in bytes.
type procMemory struct {
	HWM, RSS int64
}

// parseProcStatus reads VmHWM (peak resident set) and VmRSS from the text of /proc/<pid>/status.
func parseProcStatus(b []byte) (procMemory, error) {
	var m procMemory
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmHWM" && key != "VmRSS") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("bad %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("bad %s value: %w", key, err)
		}
		if key == "VmHWM" {
			m.HWM = kb * 1024
		} else {
			m.RSS = kb * 1024
		}
		seen++
	}
	if seen < 2 {
		return m, errors.New("VmHWM/VmRSS not found (kernel thread or exited process)")
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on every Linux
// architecture Go supports).
const clockTicks = 100

// parseProcStatCPU returns the user+system CPU time of a process from the text of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are counted after the
// last ')'.
func parseProcStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' in stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After ")": state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 here.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat has %d fields after the name", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bad utime/stime: %w", err)
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// infoField returns field's value in the text of a Redis INFO reply ("field:value" lines).
func infoField(info, field string) (string, bool) {
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if ok && k == field {
			return v, true
		}
	}
	return "", false
}

// infoInt returns an integer field of INFO text.
func infoInt(info, field string) (int64, error) {
	v, ok := infoField(info, field)
	if !ok {
		return 0, fmt.Errorf("INFO has no %s", field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("INFO %s: %w", field, err)
	}
	return n, nil
}

// infoSeconds returns a float field of INFO text (used_cpu_user, used_cpu_sys) as a duration.
func infoSeconds(info, field string) (time.Duration, error) {
	v, ok := infoField(info, field)
	if !ok {
		return 0, fmt.Errorf("INFO has no %s", field)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("INFO %s: %w", field, err)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// cmdStat is one line of INFO commandstats.
type cmdStat struct {
	Name  string  `json:"command"`
	Calls int64   `json:"calls"`
	Usec  int64   `json:"usec"`
	Share float64 `json:"share"` // of the usec of every command in the diff
}

// parseCommandStats reads "cmdstat_<name>:calls=N,usec=N,..." lines of INFO commandstats.
func parseCommandStats(info string) map[string]cmdStat {
	out := make(map[string]cmdStat)
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		name, isCmd := strings.CutPrefix(k, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		st := cmdStat{Name: name}
		for _, kv := range strings.Split(v, ",") {
			f, val, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				continue
			}
			switch f {
			case "calls":
				st.Calls = n
			case "usec":
				st.Usec = n
			}
		}
		out[name] = st
	}
	return out
}

// topCommands returns the n commands that took the most Redis time between two commandstats
// snapshots, with their share of the total.
func topCommands(before, after map[string]cmdStat, n int) []cmdStat {
	var diff []cmdStat
	var total int64
	for name, a := range after {
		b := before[name]
		d := cmdStat{Name: name, Calls: a.Calls - b.Calls, Usec: a.Usec - b.Usec}
		if d.Calls <= 0 || d.Usec <= 0 {
			continue
		}
		total += d.Usec
		diff = append(diff, d)
	}
	slices.SortFunc(diff, func(x, y cmdStat) int {
		if x.Usec != y.Usec {
			return int(y.Usec - x.Usec)
		}
		return strings.Compare(x.Name, y.Name)
	})
	diff = diff[:min(n, len(diff))]
	for i := range diff {
		diff[i].Share = float64(diff[i].Usec) / float64(total)
	}
	return diff
}

// Number ranges of the run. Each use has its own mainland mobile prefix, so the sandbox recorder
// can tell OTP numbers from bulk ones with one substring check, and no number is shared between
// the bulk job, the OTPs and the raw ceiling (the sandbox's duplicate counter stays meaningful).
const (
	bulkBase = 13800000000 // +86 138..., up to 10,000,000 numbers
	otpBase  = 15000000000 // +86 150...
	rawBase  = 13900000000 // +86 139...
	// otpMarker is how an OTP number starts inside a JSON body.
	otpMarker = `"+86150`
)

// cnNumber returns the E.164 form of the i-th mainland mobile number after base.
func cnNumber(base int64, i int) string {
	return "+86" + strconv.FormatInt(base+int64(i), 10)
}

// numbersWithPrefix returns every JSON string in body that starts with marker (which includes
// the opening quote), without the quotes: the OTP numbers of a SendSms request body.
func numbersWithPrefix(body []byte, marker string) []string {
	var out []string
	m := []byte(marker)
	for {
		i := bytes.Index(body, m)
		if i < 0 {
			return out
		}
		body = body[i+1:]
		j := bytes.IndexByte(body, '"')
		if j < 0 {
			return out
		}
		out = append(out, string(body[:j]))
		body = body[j+1:]
	}
}

// checkRedisTarget refuses Redis URLs that may be a shared instance: the bench FLUSHDBs its
// database. Port 6379 (the default, and the shared instance of this workplace) is refused on any
// host, and so is any host that is not a loopback address, unless iKnow.
func checkRedisTarget(rawURL string, iKnow bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("--redis-url: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("--redis-url: scheme %q is not redis:// or rediss://", u.Scheme)
	}
	if iKnow {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	if port == "" || port == "6379" {
		return fmt.Errorf("--redis-url: %s uses port 6379, the default and shared instance; the bench FLUSHDBs its database, "+
			"so give it a private redis-server (scripts/bench.sh starts one) or pass --i-know", u.Host)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("--redis-url: %s is not a loopback address; the bench FLUSHDBs its database, pass --i-know if that is intended", host)
		}
	}
	return nil
}

// benchKey reports whether a Redis key is one this program (or a previous run of it) writes:
// smsdispatch's and asynq's keys.
func benchKey(k string) bool {
	return strings.HasPrefix(k, "sms:") || strings.HasPrefix(k, "asynq:")
}

// metricSum sums the values of the samples named name in Prometheus text exposition format whose
// label set contains label (every sample of that name when label is empty).
func metricSum(text, name, label string) (float64, bool) {
	var sum float64
	found := false
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		labels := ""
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			labels, rest = rest[1:end], rest[end+1:]
		case strings.HasPrefix(rest, " "):
		default:
			continue // a longer name sharing the prefix
		}
		if label != "" && !strings.Contains(labels, label) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// verdict is PASS when ok, MISS otherwise.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// fmtCount formats n with thousands separators: 1000000 -> "1,000,000".
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
