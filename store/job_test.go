package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func TestCreateJob(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		job := Job{ID: "job-1", AppID: testApp, SignName: "Sign", TemplateID: "1001", SenderID: "snd",
			ExtendCode: "12", Priority: PriorityOTP, ExpiresAt: redistest.T0.Add(10 * time.Minute), DeferDailyLimit: true}
		batches := []NewBatch{
			{ParamSet: 0, Numbers: nums(0, 200)},
			{ParamSet: 1, Numbers: nums(200, 5)},
			{ParamSet: 1, Intl: true, Numbers: []string{"+14155550100", "+447700900123"}},
		}
		created, err := e.s.CreateJob(ctx, job, [][]string{{"1234"}, {"a", "b"}}, batches, 3)
		if err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		// Same id again, other content: nothing is written.
		created, err = e.s.CreateJob(ctx, testJob("job-1"), nil, batchesOf(nums(1000, 7), 200), 0)
		if err != nil || created {
			t.Fatalf("second CreateJob = %v, %v; want false, nil", created, err)
		}
		got, err := e.s.Job(ctx, "job-1")
		if err != nil {
			t.Fatal(err)
		}
		job.CreatedAt = redistest.T0
		if !got.ExpiresAt.Equal(job.ExpiresAt) || !got.CreatedAt.Equal(redistest.T0) {
			t.Fatalf("times: got %v/%v", got.ExpiresAt, got.CreatedAt)
		}
		got.ExpiresAt, got.CreatedAt, job.ExpiresAt, job.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != job {
			t.Fatalf("Job = %+v, want %+v", got, job)
		}
		st := e.wantCounts(t, "job-1", counts{State: StateRunning, Total: 207, Pending: 207})
		if st.Rejected != 3 || st.Batches != 3 || st.AppID != testApp || st.Priority != PriorityOTP || !st.CreatedAt.Equal(redistest.T0) {
			t.Fatalf("status = %+v", st)
		}
		active, err := e.s.ActiveJobs(ctx)
		if err != nil || !slices.Equal(active, []string{"job-1"}) {
			t.Fatalf("ActiveJobs = %v, %v", active, err)
		}
		c := e.mustClaim(t, "job-1", 2, "tok")
		if !c.Intl || !slices.Equal(c.Params, []string{"a", "b"}) || !slices.Equal(c.Numbers, []string{"+14155550100", "+447700900123"}) ||
			!slices.Equal(c.Indexes, []int{0, 1}) || c.Attempt != 1 || c.Job.ID != "job-1" || c.Job.SenderID != "snd" || !c.Job.DeferDailyLimit {
			t.Fatalf("claim = %+v", c)
		}
		if _, err := e.s.Job(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Job(nope) err = %v, want ErrNotFound", err)
		}
		if _, err := e.s.Status(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Status(nope) err = %v, want ErrNotFound", err)
		}
		if _, err := e.s.Claim(ctx, "job-1", 3, "tok"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Claim(missing batch) err = %v, want ErrNotFound", err)
		}
	})
}

func TestCreateJobValidation(t *testing.T) {
	t.Parallel()
	okBatch := []NewBatch{{Numbers: nums(0, 2)}}
	cases := []struct {
		name    string
		job     Job
		params  [][]string
		batches []NewBatch
		want    string // in the error
	}{
		{"empty id", testJob(""), nil, okBatch, "empty job id"},
		{"open brace", testJob("a{b"), nil, okBatch, `"a{b"`},
		{"close brace", testJob("a}b"), nil, okBatch, `"a}b"`},
		{"pipe", testJob("a|b"), nil, okBatch, `"a|b"`},
		{"space", testJob("a b"), nil, okBatch, `"a b"`},
		{"tab", testJob("a\tb"), nil, okBatch, `"a\tb"`},
		{"newline", testJob("a\n"), nil, okBatch, `"a\n"`},
		{"too long", testJob(strings.Repeat("x", 200)), nil, okBatch, "longer than"},
		{"empty app", Job{ID: "j"}, nil, okBatch, "empty app id"},
		{"bad priority", Job{ID: "j", AppID: "a", Priority: "urgent"}, nil, okBatch, `priority "urgent"`},
		{"empty batch", testJob("j"), nil, []NewBatch{{}}, "batch 0 has 0 numbers"},
		{"batch too big", testJob("j"), nil, batchesOf(nums(0, 201), 201), "batch 0 has 201 numbers"},
		{"no plus", testJob("j"), nil, []NewBatch{{Numbers: []string{"8613800000000"}}}, "not E.164"},
		{"letters", testJob("j"), nil, []NewBatch{{Numbers: []string{"+86138abc0000"}}}, "not a digit"},
		{"leading zero", testJob("j"), nil, []NewBatch{{Numbers: []string{"+0861380000000"}}}, "cannot start with 0"},
		{"16 digits", testJob("j"), nil, []NewBatch{{Numbers: []string{"+8613800000000000"}}}, "16 digits"},
		{"param set", testJob("j"), [][]string{{"x"}}, []NewBatch{{ParamSet: 1, Numbers: nums(0, 1)}}, "param set 1"},
		{"duplicate", testJob("j"), nil, []NewBatch{{Numbers: nums(0, 2)}, {Numbers: nums(1, 2)}}, "more than once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, redistest.Mini(t), Options{})
			created, err := e.s.CreateJob(context.Background(), tc.job, tc.params, tc.batches, 0)
			if created || err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateJob = %v, %v; want ErrInvalid mentioning %q", created, err, tc.want)
			}
			if n := len(e.db.Mini.Keys()); n != 0 {
				t.Fatalf("a rejected CreateJob wrote %d keys: %v", n, e.db.Mini.Keys())
			}
		})
	}
	t.Run("masked number", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, redistest.Mini(t), Options{})
		_, err := e.s.CreateJob(context.Background(), testJob("j"), nil, []NewBatch{{Numbers: []string{"+8613812345678x"}}}, 0)
		if err == nil || strings.Contains(err.Error(), "13812345678") || !strings.Contains(err.Error(), "+86138*****678x") {
			t.Fatalf("err = %v; want the number masked", err)
		}
	})
	t.Run("bad ids elsewhere", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, redistest.Mini(t), Options{})
		ctx := context.Background()
		for _, id := range []string{"", "x{y}", "a|b", "a b"} {
			if _, err := e.s.Claim(ctx, id, 0, "t"); !errors.Is(err, ErrInvalid) {
				t.Errorf("Claim(%q) err = %v", id, err)
			}
			if _, err := e.s.Status(ctx, id); !errors.Is(err, ErrInvalid) {
				t.Errorf("Status(%q) err = %v", id, err)
			}
			if _, err := e.s.Cancel(ctx, id); !errors.Is(err, ErrInvalid) {
				t.Errorf("Cancel(%q) err = %v", id, err)
			}
			if err := e.s.Halt(ctx, id, "c", redistest.T0); !errors.Is(err, ErrInvalid) {
				t.Errorf("Halt(%q) err = %v", id, err)
			}
		}
		if _, err := e.s.Claim(ctx, "j", -1, "t"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Claim(batch -1) err = %v", err)
		}
		if _, err := e.s.Claim(ctx, "j", 0, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("Claim(empty token) err = %v", err)
		}
	})
}

// TestCreateJobResume: a creator that died midway left a job that is not ready; it cannot be
// claimed, and CreateJob again completes it.
func TestCreateJobResume(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := createBeginScript.Run(ctx, e.rdb, []string{jobKey("j")}, 60000, "dead-creator", "app", testApp).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Claim(ctx, "j", 0, "t"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Claim on a job being created: err = %v, want ErrNotFound", err)
		}
		e.create(t, testJob("j"), 450, 200)
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 450, Pending: 450})
		if c := e.mustClaim(t, "j", 2, "t"); len(c.Numbers) != 50 {
			t.Fatalf("last batch has %d numbers", len(c.Numbers))
		}
	})
}

// TestCreateJobConcurrent: producers racing on one job id: exactly one creates it, the others get
// created=false or ErrCreateConflict, and the job is whole.
func TestCreateJobConcurrent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		const n = 8
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = e.s.CreateJob(context.Background(), testJob("j"), [][]string{{"1"}}, batchesOf(nums(0, 1000), 200), 0)
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil && !errors.Is(errs[i], ErrCreateConflict) {
				t.Fatalf("CreateJob: %v", errs[i])
			}
			if results[i] {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%d creators got created=true, want 1", created)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: 1000, Pending: 1000})
	})
}

func TestScheduledAndExpired(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		sched := testJob("sched")
		sched.SendAt = redistest.T0.Add(2 * time.Hour)
		e.create(t, sched, 300, 200)
		e.wantCounts(t, "sched", counts{State: StateScheduled, Total: 300, Pending: 300})
		c := e.claim(t, "sched", 0, "t")
		if c.Outcome != NotYet || !c.RetryAt.Equal(sched.SendAt) {
			t.Fatalf("claim before send-at = %v at %v, want NotYet at %v", c.Outcome, c.RetryAt, sched.SendAt)
		}
		// Keys of a scheduled job outlive its send time: they carry no TTL until it settles.
		if ttl := e.rdb.PTTL(ctx, batchKey("sched", 1)).Val(); ttl != -1 {
			t.Fatalf("TTL of a scheduled batch = %v, want none", ttl)
		}

		otp := testJob("otp")
		otp.Priority = PriorityOTP
		otp.ExpiresAt = redistest.T0.Add(10 * time.Minute)
		e.create(t, otp, 3, 2)
		e.mustClaim(t, "otp", 0, "t")
		e.clock.Add(10 * time.Minute)
		if c := e.claim(t, "otp", 1, "t"); c.Outcome != Expired {
			t.Fatalf("claim after expiry = %v, want Expired", c.Outcome)
		}
		if c := e.claim(t, "otp", 1, "t2"); c.Outcome != Done {
			t.Fatalf("claim of an expired batch again = %v, want Done", c.Outcome)
		}
		// The batch in flight still commits.
		e.commit(t, "otp", 0, "t", []NumberResult{{Index: 0, State: Sent}, {Index: 1, State: Sent}})
		st := e.wantCounts(t, "otp", counts{State: StateDelivering, Total: 3, Sent: 2, Failed: 1})
		if st.FailedByCode[ExpiredCode] != 1 {
			t.Fatalf("failed_by_code = %v", st.FailedByCode)
		}
		e.clock.Add(DefaultReceiptWindow)
		e.wantCounts(t, "otp", counts{State: StatePartial, Total: 3, Sent: 2, Failed: 1})
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 1000, 200) // batches 0..4
		c0 := e.mustClaim(t, "j", 0, "t0")
		e.commit(t, "j", 0, "t0", allSent("j", 0, c0))
		c1 := e.mustClaim(t, "j", 1, "t1") // in flight during the cancel
		st, err := e.s.Cancel(ctx, "j")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := countsOf(st), (counts{State: StateCancelling, Total: 1000, Sent: 200, Cancelled: 600, Pending: 200}); got != want {
			t.Fatalf("after cancel: got %+v want %+v", got, want)
		}
		if c := e.claim(t, "j", 2, "t2"); c.Outcome != Cancelled {
			t.Fatalf("claim after cancel = %v, want Cancelled", c.Outcome)
		}
		// The batch in flight finishes; its retry numbers are cancelled, not moved.
		rs := allSent("j", 1, c1)
		rs[0].State, rs[0].RetryAt = Retry, redistest.T0.Add(time.Minute)
		if r := e.commit(t, "j", 1, "t1", rs); !r.Applied || len(r.RetryBatches) != 0 {
			t.Fatalf("commit after cancel = %+v", r)
		}
		e.wantCounts(t, "j", counts{State: StateCancelled, Total: 1000, Sent: 399, Cancelled: 601})
		// Idempotent.
		st, err = e.s.Cancel(ctx, "j")
		if err != nil || st.Cancelled != 601 {
			t.Fatalf("second cancel = %+v, %v", st, err)
		}
		active, _ := e.s.ActiveJobs(ctx)
		if len(active) != 0 {
			t.Fatalf("cancelled job still active: %v", active)
		}
		// A finished job is not turned into a cancelled one.
		e.create(t, testJob("fin"), 2, 2)
		c := e.mustClaim(t, "fin", 0, "t")
		e.commit(t, "fin", 0, "t", allSent("fin", 0, c))
		if st, err := e.s.Cancel(ctx, "fin"); err != nil || st.State == StateCancelled {
			t.Fatalf("cancel of a finished job = %+v, %v", st, err)
		}
		if _, err := e.s.Cancel(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Cancel(missing) err = %v", err)
		}
	})
}

// TestCancelManyBatches: a sweep over more batches than one chunk counts every number once and
// can be resumed.
func TestCancelManyBatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		n := 3*sweepChunk + 17
		e.create(t, testJob("j"), n, 1)
		// An interrupted sweep: the flag and the first chunk only.
		if err := flagScript.Run(ctx, e.rdb, []string{jobKey("j")}, "c", "", 60000).Err(); err != nil {
			t.Fatal(err)
		}
		keys := []string{jobKey("j")}
		for i := range sweepChunk {
			keys = append(keys, batchKey("j", i))
		}
		if err := sweepScript.Run(ctx, e.rdb, keys, "c", "", 60000).Err(); err != nil {
			t.Fatal(err)
		}
		if c := e.claim(t, "j", n-1, "t"); c.Outcome != Cancelled { // the flag stops claims at once
			t.Fatalf("claim = %v", c.Outcome)
		}
		e.wantCounts(t, "j", counts{State: StateCancelling, Total: int64(n), Cancelled: sweepChunk + 1, Pending: int64(n - sweepChunk - 1)})
		st, err := e.s.Cancel(ctx, "j")
		if err != nil || st.Cancelled != int64(n) || st.Pending != 0 {
			t.Fatalf("resumed cancel = %+v, %v", st, err)
		}
	})
}

func TestFailJob(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 600, 200)
		c0 := e.mustClaim(t, "j", 0, "t0")
		if err := e.s.FailJob(ctx, "j", "FailedOperation.TemplateUnapproved"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.FailJob(ctx, "j", "OtherCode"); err != nil { // first code wins
			t.Fatal(err)
		}
		rs := allSent("j", 0, c0)
		rs[5].State, rs[5].RetryAt = Retry, redistest.T0.Add(time.Second)
		if r := e.commit(t, "j", 0, "t0", rs); len(r.RetryBatches) != 0 {
			t.Fatalf("retry batches after FailJob: %+v", r)
		}
		st := e.wantCounts(t, "j", counts{State: StateDelivering, Total: 600, Sent: 199, Failed: 401})
		if want := map[string]int64{"FailedOperation.TemplateUnapproved": 401}; fmt.Sprint(st.FailedByCode) != fmt.Sprint(want) {
			t.Fatalf("failed_by_code = %v", st.FailedByCode)
		}
		if c := e.claim(t, "j", 1, "t1"); c.Outcome != Done {
			t.Fatalf("claim of a failed batch = %v", c.Outcome)
		}
		// Some numbers were accepted before the job-fatal code: partial once the receipt window
		// closes, not failed.
		e.clock.Add(DefaultReceiptWindow)
		st = e.wantCounts(t, "j", counts{State: StatePartial, Total: 600, Sent: 199, Failed: 401})
		if st.FatalCode != "FailedOperation.TemplateUnapproved" || !st.Final {
			t.Fatalf("partial after a job-fatal code: %+v", st)
		}
		if err := e.s.FailJob(ctx, "j", ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("FailJob without code: %v", err)
		}
		// JobFailed from the claim when the sweep has not reached a batch yet.
		e.create(t, testJob("k"), 4, 2)
		if err := flagScript.Run(ctx, e.rdb, []string{jobKey("k")}, "f", "Fatal", 60000).Err(); err != nil {
			t.Fatal(err)
		}
		if c := e.claim(t, "k", 1, "t"); c.Outcome != JobFailed {
			t.Fatalf("claim = %v, want JobFailed", c.Outcome)
		}
		st = e.wantCounts(t, "k", counts{State: StateFailing, Total: 4, Failed: 2, Pending: 2})
		if st.FailedByCode["Fatal"] != 2 || st.FatalCode != "Fatal" || st.Final {
			t.Fatalf("failing: %+v", st)
		}
		if c := e.claim(t, "k", 0, "t"); c.Outcome != JobFailed {
			t.Fatalf("claim = %v, want JobFailed", c.Outcome)
		}
		// Nothing was accepted: failed.
		st = e.wantCounts(t, "k", counts{State: StateFailed, Total: 4, Failed: 4})
		if st.FailedByCode["Fatal"] != 4 || !st.Final {
			t.Fatalf("failed: %+v", st)
		}
	})
}

func TestPendingBatchesAndActive(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 600, 200)
		pending := func() []Batch {
			t.Helper()
			b, err := e.s.PendingBatches(ctx, "j")
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if got := pending(); len(got) != 3 {
			t.Fatalf("PendingBatches = %v", got)
		}
		c := e.mustClaim(t, "j", 0, "t")
		e.mustClaim(t, "j", 1, "t1")
		rs := allSent("j", 0, c)
		rs[3].State, rs[3].RetryAt = Retry, redistest.T0.Add(90*time.Second)
		e.commit(t, "j", 0, "t", rs)
		want := []Batch{{Index: 2}, {Index: 3, NotBefore: redistest.T0.Add(90 * time.Second)}}
		if got := pending(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("PendingBatches = %v, want %v", got, want)
		}
		e.clock.Add(DefaultClaimLease) // batch 1's claim expired: its task must run again
		want = []Batch{{Index: 1}, {Index: 2}, {Index: 3, NotBefore: redistest.T0.Add(90 * time.Second)}}
		if got := pending(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("PendingBatches = %v, want %v", got, want)
		}
		if a, _ := e.s.ActiveJobs(ctx); !slices.Equal(a, []string{"j"}) {
			t.Fatalf("ActiveJobs = %v", a)
		}
	})
}

func TestMemoryPerNumber(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const n = 50_000
		before := e.usedMemory(t)
		e.create(t, testJob("mem"), n, MaxBatchSize)
		after := e.usedMemory(t)
		b, err := e.s.MemoryPerNumber(ctx, "mem")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("queued job of %d numbers at %d per batch: MEMORY USAGE %.2f bytes per number", n, MaxBatchSize, b)
		if before > 0 {
			// used_memory also counts the main dict and expires entries MEMORY USAGE leaves out.
			t.Logf("INFO used_memory delta: %.2f bytes per number (includes the active-set entry)", float64(after-before)/n)
		}
		if e.real() && b >= 40 {
			t.Errorf("%.2f bytes per queued number, the budget is 40", b)
		}
	})
}

// usedMemory returns INFO memory used_memory of a single real Redis (0 on miniredis or Cluster).
func (e *env) usedMemory(t *testing.T) int64 {
	t.Helper()
	c, ok := e.rdb.(*redis.Client)
	if !ok || !e.real() {
		return 0
	}
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return parseInt(v)
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

func TestUnknownBatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 8, 2) // batches 0..3
		if got, err := e.s.UnknownBatches(ctx, "j"); err != nil || len(got) != 0 {
			t.Fatalf("UnknownBatches = %v, %v", got, err)
		}
		c1 := e.mustClaim(t, "j", 1, "t1")
		e.commit(t, "j", 1, "t1", []NumberResult{{Index: c1.Indexes[0], State: Sent}}) // the other: unknown
		e.mustClaim(t, "j", 3, "t3")
		e.clock.Add(DefaultClaimLease)
		if o := e.claim(t, "j", 3, "again").Outcome; o != Unresolved {
			t.Fatalf("claim = %v", o)
		}
		if got, err := e.s.UnknownBatches(ctx, "j"); err != nil || !slices.Equal(got, []int{1, 3}) {
			t.Fatalf("UnknownBatches = %v, %v", got, err)
		}
		if _, _, err := e.s.ResendUnknown(ctx, "j", 1, redistest.T0); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.s.UnknownBatches(ctx, "j"); !slices.Equal(got, []int{3}) {
			t.Fatalf("UnknownBatches after resend = %v", got)
		}
	})
}
