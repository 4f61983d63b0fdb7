package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// streamInput is a job's input in both forms: batches with E.164 strings (for CreateJob) and the
// same batches packed (for CreateJobStream).
type streamInput struct {
	params  [][]string
	strs    []NewBatch
	packed  []NewBatch
	numbers int
}

// mixedInput has more param sets and more batches than one write chunk, batches of every size
// from 1 to MaxBatchSize, domestic and international ones.
func mixedInput(t testing.TB) streamInput {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 11))
	var in streamInput
	for i := range createChunk + 37 {
		in.params = append(in.params, []string{fmt.Sprint(i), "x"})
	}
	next := uint64(8613800000000)
	for i := range 2*createChunk + 123 {
		size := 1 + r.IntN(MaxBatchSize)
		intl := i%5 == 0
		b := NewBatch{ParamSet: r.IntN(len(in.params)), Intl: intl}
		for range size {
			v := next
			if intl {
				v = 14155550000 + next%1_000_000_000
			}
			next++
			b.Packed = append(b.Packed, v)
		}
		in.packed = append(in.packed, b)
		sb := b
		sb.Packed = nil
		for _, v := range b.Packed {
			sb.Numbers = append(sb.Numbers, FormatE164(v))
		}
		in.strs = append(in.strs, sb)
		in.numbers += size
	}
	return in
}

// reusing returns a batch function over batches that hands out every batch's numbers in one
// shared buffer, as client.Send does: the store must not keep a batch past the next call.
func reusing(batches []NewBatch) func(int) (NewBatch, error) {
	var buf []uint64
	return func(i int) (NewBatch, error) {
		b := batches[i]
		if b.Packed != nil {
			buf = append(buf[:0], b.Packed...)
			b.Packed = buf
		}
		return b, nil
	}
}

// jobRecords returns every record of a job, by key with the job id replaced by "J": hash fields,
// the params list, and each key's TTL rounded to the minute.
func (e *env) jobRecords(t *testing.T, job string, batches int) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys := []string{jobKey(job), paramsKey(job)}
	for i := range batches + 1 { // one past the last: must not exist
		keys = append(keys, batchKey(job, i))
	}
	for _, k := range keys {
		name := strings.Replace(k, "{"+job+"}", "{J}", 1)
		var v string
		if k == paramsKey(job) {
			l, err := e.rdb.LRange(ctx, k, 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			v = fmt.Sprintf("%q", l)
		} else {
			h, err := e.rdb.HGetAll(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range slices.Sorted(maps.Keys(h)) {
				v += fmt.Sprintf("%s=%q ", f, h[f])
			}
		}
		ttl := e.rdb.PTTL(ctx, k).Val().Round(time.Minute) // real Redis counts down meanwhile
		out[name] = fmt.Sprintf("%s ttl=%v", v, ttl)
	}
	return out
}

// TestCreateJobStreamSameRecords: the packed stream writes byte for byte the records CreateJob
// writes for the same batches given as strings (and the layout of one batch is spelled out).
func TestCreateJobStreamSameRecords(t *testing.T) {
	t.Parallel()
	in := mixedInput(t)
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		created, err := e.s.CreateJob(ctx, testJob("strs"), in.params, in.strs, 4)
		if err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		created, err = e.s.CreateJobStream(ctx, testJob("packed"), in.params, len(in.packed), reusing(in.packed), 4)
		if err != nil || !created {
			t.Fatalf("CreateJobStream = %v, %v", created, err)
		}
		a, b := e.jobRecords(t, "strs", len(in.strs)), e.jobRecords(t, "packed", len(in.packed))
		if len(a) != len(in.strs)+3 {
			t.Fatalf("%d records", len(a))
		}
		for k, v := range a {
			if b[k] != v {
				t.Fatalf("record %s differs:\nCreateJob:       %.300s\nCreateJobStream: %.300s", k, v, b[k])
			}
		}
		// The layout, spelled out for one international batch.
		for i, bt := range in.packed {
			if !bt.Intl || len(bt.Packed) < 2 {
				continue
			}
			var num []byte
			for _, v := range bt.Packed {
				num = packNumber(num, v)
			}
			want := map[string]string{"num": string(num), "st": strings.Repeat("p", len(bt.Packed)),
				"pi": fmt.Sprint(bt.ParamSet), "s": "pending", "intl": "1"}
			got, err := e.rdb.HGetAll(ctx, batchKey("packed", i)).Result()
			if err != nil || !maps.Equal(got, want) {
				t.Fatalf("batch %d = %q, %v; want %q", i, got, err, want)
			}
			break
		}
		st := e.wantCounts(t, "packed", counts{State: StateRunning, Total: int64(in.numbers), Pending: int64(in.numbers)})
		if st.Batches != int64(len(in.packed)) || st.Rejected != 4 {
			t.Fatalf("status = %+v", st)
		}
	})
}

// TestCreateJobStreamIdempotent: the stream is idempotent on the job id like CreateJob, in either
// order, and a stream that found the job existing pulls nothing after validating.
func TestCreateJobStreamIdempotent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		packed := []NewBatch{{Packed: []uint64{8613800000001, 8613800000002}}, {Intl: true, Packed: []uint64{14155550100}}}
		created, err := e.s.CreateJobStream(ctx, testJob("j"), nil, len(packed), reusing(packed), 0)
		if err != nil || !created {
			t.Fatalf("first = %v, %v", created, err)
		}
		before := e.jobRecords(t, "j", 2)
		created, err = e.s.CreateJobStream(ctx, testJob("j"), nil, len(packed), reusing(packed), 0)
		if err != nil || created {
			t.Fatalf("second = %v, %v; want false, nil", created, err)
		}
		created, err = e.s.CreateJob(ctx, testJob("j"), [][]string{{"other"}}, batchesOf(nums(50, 3), 1), 0)
		if err != nil || created {
			t.Fatalf("CreateJob after = %v, %v; want false, nil", created, err)
		}
		if after := e.jobRecords(t, "j", 2); !maps.Equal(before, after) {
			t.Fatalf("records changed:\n%v\n%v", before, after)
		}
		e.create(t, testJob("k"), 10, 4)
		created, err = e.s.CreateJobStream(ctx, testJob("k"), nil, len(packed), reusing(packed), 0)
		if err != nil || created {
			t.Fatalf("stream over an existing job = %v, %v; want false, nil", created, err)
		}
		e.wantCounts(t, "k", counts{State: StateRunning, Total: 10, Pending: 10})
	})
}

// TestCreateJobStreamResume: a creator that died midway is completed by the stream, and a
// stream interrupted by its batch function is completed by CreateJob.
func TestCreateJobStreamResume(t *testing.T) {
	t.Parallel()
	in := mixedInput(t)
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if err := createBeginScript.Run(ctx, e.rdb, []string{jobKey("j")}, 60000, "dead-creator", "app", testApp).Err(); err != nil {
			t.Fatal(err)
		}
		created, err := e.s.CreateJobStream(ctx, testJob("j"), in.params, len(in.packed), reusing(in.packed), 0)
		if err != nil || !created {
			t.Fatalf("resumed = %v, %v", created, err)
		}
		e.wantCounts(t, "j", counts{State: StateRunning, Total: int64(in.numbers), Pending: int64(in.numbers)})

		// The source fails on the write pass (the last one), after the first chunk was written.
		passes := 0
		if _, err := e.s.CreateJobStream(ctx, testJob("probe"), in.params, len(in.packed), func(i int) (NewBatch, error) {
			if i == 0 {
				passes++
			}
			return in.packed[i], nil
		}, 0); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("source failed")
		calls := 0
		failing := func(i int) (NewBatch, error) {
			if i == createChunk+1 {
				if calls++; calls == passes {
					return NewBatch{}, boom
				}
			}
			return in.packed[i], nil
		}
		created, err = e.s.CreateJobStream(ctx, testJob("k"), in.params, len(in.packed), failing, 0)
		if created || !errors.Is(err, boom) || !strings.Contains(err.Error(), fmt.Sprintf("batch %d", createChunk+1)) {
			t.Fatalf("failing source = %v, %v", created, err)
		}
		if n := e.rdb.Exists(ctx, batchKey("k", 0), batchKey("k", createChunk-1)).Val(); n != 2 {
			t.Fatalf("the first chunk was not written before the failure (%d of 2 keys)", n)
		}
		if _, err := e.s.Claim(ctx, "k", 0, "t"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("claim on a half-written job: %v, want ErrNotFound", err)
		}
		created, err = e.s.CreateJob(ctx, testJob("k"), in.params, in.strs, 0)
		if err != nil || !created {
			t.Fatalf("completed = %v, %v", created, err)
		}
		if a, b := e.jobRecords(t, "j", len(in.strs)), e.jobRecords(t, "k", len(in.strs)); !maps.Equal(a, b) {
			t.Fatal("the completed job's records differ from a job created at once")
		}
	})
}

// TestCreateJobStreamPasses: batches are pulled in order, one pass each for validation, the
// duplicate filter and the write (plus one when the filter had suspects), and every pass must
// see the same batches.
func TestCreateJobStreamPasses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, redistest.Mini(t), Options{})
	ctx := context.Background()
	packed := make([]NewBatch, 3)
	for i := range packed {
		packed[i].Packed = []uint64{8613800000000 + uint64(i)}
	}
	var order []int
	created, err := e.s.CreateJobStream(ctx, testJob("j"), nil, 3, func(i int) (NewBatch, error) {
		order = append(order, i)
		return packed[i], nil
	}, 0)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if want := []int{0, 1, 2, 0, 1, 2, 0, 1, 2}; !slices.Equal(order, want) {
		t.Fatalf("pulled %v, want %v", order, want)
	}

	for _, pass := range []int{2, 3} {
		t.Run(fmt.Sprintf("changed on pass %d", pass), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, redistest.Mini(t), Options{})
			calls := 0
			created, err := e.s.CreateJobStream(ctx, testJob("j"), nil, 3, func(i int) (NewBatch, error) {
				calls++
				b := packed[i]
				if calls > 3*(pass-1) {
					b.Packed = []uint64{b.Packed[0] + 100}
				}
				return b, nil
			}, 0)
			if created || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "different batches") {
				t.Fatalf("CreateJobStream = %v, %v", created, err)
			}
			if _, err := e.s.Job(ctx, "j"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a job written from a changing source is visible: %v", err)
			}
		})
	}
}

func TestCreateJobStreamValidation(t *testing.T) {
	t.Parallel()
	p := func(vs ...uint64) []NewBatch { return []NewBatch{{Packed: vs}} }
	cases := []struct {
		name    string
		params  [][]string
		batches []NewBatch
		want    string
	}{
		{"empty", nil, []NewBatch{{Packed: []uint64{}}}, "batch 0 has 0 numbers"},
		{"too big", nil, []NewBatch{{Packed: make([]uint64, MaxBatchSize+1)}}, "batch 0 has 201 numbers"},
		{"both forms", nil, []NewBatch{{Numbers: nums(0, 1), Packed: []uint64{8613800000001}}}, "both Numbers (1) and Packed (1)"},
		{"zero", nil, p(8613800000001, 0), "batch 0 number 1: store: invalid input: number ** is not E.164: the country code cannot start with 0"},
		{"16 digits", nil, p(1_000_000_000_000_000), "batch 0 number 0: store: invalid input: number +10000*******0000 is not E.164: 16 digits"},
		{"max uint64", nil, p(^uint64(0)), "20 digits"},
		{"param set", [][]string{{"x"}}, []NewBatch{{ParamSet: 1, Packed: []uint64{1}}}, "param set 1"},
		{"negative param set", nil, []NewBatch{{ParamSet: -1, Packed: []uint64{1}}}, "param set -1"},
		{"duplicate in a batch", nil, p(8613800000001, 8613800000002, 8613800000001), "number +86138****0001 appears more than once"},
		{"duplicate across forms", nil, []NewBatch{{Numbers: nums(0, 3)}, {Packed: []uint64{8613800000002}}}, "number +86138****0002 appears more than once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, redistest.Mini(t), Options{})
			created, err := e.s.CreateJobStream(context.Background(), testJob("j"), tc.params, len(tc.batches), reusing(tc.batches), 0)
			if created || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateJobStream = %v, %v; want ErrInvalid mentioning %q", created, err, tc.want)
			}
			if n := len(e.db.Mini.Keys()); n != 0 {
				t.Fatalf("a rejected CreateJobStream wrote %d keys: %v", n, e.db.Mini.Keys())
			}
		})
	}
	t.Run("arguments", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, redistest.Mini(t), Options{})
		ctx := context.Background()
		if _, err := e.s.CreateJobStream(ctx, testJob("j"), nil, -1, nil, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("negative count: %v", err)
		}
		if _, err := e.s.CreateJobStream(ctx, testJob("j"), nil, 1, nil, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("nil batch function: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := e.s.CreateJobStream(cctx, testJob("j"), nil, 1, reusing(p(1)), 0); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
		if n := len(e.db.Mini.Keys()); n != 0 {
			t.Fatalf("wrote %d keys: %v", n, e.db.Mini.Keys())
		}
	})
}

// TestCreateJobStreamDuplicatesAtScale: in jobs large enough for the Bloom filter to have false
// suspects, a single repeated number is found wherever it is, and a job without repeats passes.
func TestCreateJobStreamDuplicatesAtScale(t *testing.T) {
	t.Parallel()
	const n = 200_000
	base := make([]uint64, n)
	r := rand.New(rand.NewPCG(3, 5))
	seen := map[uint64]bool{}
	for i := range base {
		for {
			v := 1 + r.Uint64N(maxPacked)
			if !seen[v] {
				seen[v], base[i] = true, v
				break
			}
		}
	}
	batches := func(vs []uint64) []NewBatch {
		var out []NewBatch
		for len(vs) > 0 {
			k := min(MaxBatchSize, len(vs))
			out = append(out, NewBatch{Packed: vs[:k]})
			vs = vs[k:]
		}
		return out
	}
	ctx := context.Background()
	src := &createSource{job: "j", nparams: 0}
	check := func(vs []uint64) error {
		bs := batches(vs)
		src.count, src.batch = len(bs), reusing(bs)
		total, sum, err := src.scan(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return src.checkDuplicates(ctx, total, sum)
	}
	if err := check(base); err != nil {
		t.Fatalf("no repeats: %v", err)
	}
	for _, tc := range []struct{ from, to int }{{0, n - 1}, {n - 1, 0}, {n / 2, n/2 + 1}, {12345, 12345 + MaxBatchSize}} {
		vs := append(slices.Clone(base[:tc.to]), base[tc.to+1:]...) // drop one
		vs = slices.Insert(vs, min(tc.to, len(vs)), base[tc.from])  // repeat another in its place
		err := check(vs)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), MaskNumber(FormatE164(base[tc.from]))) {
			t.Fatalf("number %d repeated at %d: err = %v", tc.from, tc.to, err)
		}
	}
	// Three occurrences are found by the filter pass alone.
	vs := append(slices.Clone(base), base[7], base[7])
	if err := check(vs); !errors.Is(err, ErrInvalid) {
		t.Fatalf("three occurrences: %v", err)
	}
}
