package recipients

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func cn(i int) string { return fmt.Sprintf("138%08d", i) }

func mustBuilder(t testing.TB, opts Options) *Builder {
	t.Helper()
	b, err := NewBuilder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func batches(s *Set) []Batch { return slices.Collect(s.Batches()) }

func TestNewBuilderOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"defaults", Options{}, false},
		{"lower-case region", Options{Region: "us"}, false},
		{"unknown region", Options{Region: "XX"}, true},
		{"batch too big", Options{MaxBatch: 201}, true},
		{"batch negative", Options{MaxBatch: -1}, true},
		{"small batch", Options{MaxBatch: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBuilder(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestBuilderGroupsAndDedupes(t *testing.T) {
	b := mustBuilder(t, Options{Params: []string{"job"}, MaxBatch: 2})
	adds := []struct {
		number string
		params []string
		want   error
	}{
		{"13800000001", nil, nil},
		{"+44 20 7031 3000", nil, nil},
		{"13800000002", []string{"own"}, nil},
		{"+86 138 0000 0001", []string{"other"}, ErrDuplicate}, // first occurrence wins
		{"13800000003", nil, nil},
		{"13800000004", nil, nil},
		{"+1 650 253 0000", []string{"own"}, nil},
		{"+852 5123 4567", nil, nil},
		{"nope", nil, ErrNotANumber},
		{"13800000005", []string{"job"}, nil}, // same params as the job's: same set
	}
	for _, a := range adds {
		if err := b.Add(a.number, a.params); !errors.Is(err, a.want) {
			t.Fatalf("Add(%q) = %v, want %v", a.number, err, a.want)
		}
	}
	if got, want := b.Stats(), (Stats{Accepted: 8, Duplicates: 1, Rejected: 1}); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	s := b.Finish()
	if got, want := s.ParamSets(), [][]string{{"job"}, {"own"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("param sets %q, want %q", got, want)
	}
	want := []Batch{
		{ParamSet: 0, Numbers: []string{"+8613800000001", "+8613800000003"}},
		{ParamSet: 0, Numbers: []string{"+8613800000004", "+8613800000005"}},
		{ParamSet: 0, Intl: true, Numbers: []string{"+442070313000", "+85251234567"}},
		{ParamSet: 1, Numbers: []string{"+8613800000002"}},
		{ParamSet: 1, Intl: true, Numbers: []string{"+16502530000"}},
	}
	if got := batches(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("batches\n got %+v\nwant %+v", got, want)
	}
	if s.NumBatches() != len(want) || s.Len() != 8 {
		t.Fatalf("NumBatches %d Len %d", s.NumBatches(), s.Len())
	}
}

func TestBuilderParamEncodingIsUnambiguous(t *testing.T) {
	b := mustBuilder(t, Options{})
	sets := [][]string{nil, {""}, {"", ""}, {"a,b"}, {"a", "b"}, {"ab"}, {"a\x00b"}, {strings.Repeat("x", 300)}}
	for i, p := range sets {
		if err := b.Add(cn(i), p); err != nil {
			t.Fatal(err)
		}
	}
	got := b.Finish().ParamSets()
	want := [][]string{{}, {""}, {"", ""}, {"a,b"}, {"a", "b"}, {"ab"}, {"a\x00b"}, {strings.Repeat("x", 300)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("param sets %q, want %q", got, want)
	}
}

func TestBuilderMaxRecipients(t *testing.T) {
	b := mustBuilder(t, Options{MaxRecipients: 2})
	for i := range 2 {
		if err := b.Add(cn(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(cn(0), nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate of a full job: %v", err)
	}
	if err := b.Add(cn(3), nil); !errors.Is(err, ErrTooMany) {
		t.Fatalf("third number: %v, want ErrTooMany", err)
	}
	err := mustBuilder(t, Options{MaxRecipients: 10}).AddCSV(context.Background(),
		strings.NewReader(strings.Repeat("x\n", 5)+genLines(0, 5000)), nil)
	if !errors.Is(err, ErrTooMany) {
		t.Fatalf("AddCSV: %v, want ErrTooMany", err)
	}
}

func genLines(from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		sb.WriteString(cn(i))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func TestAddCSVReportsBadLinesInOrder(t *testing.T) {
	in := "# recipients\n13800000001,1234\nnot-a-number\n\n+86 138 0000 0001,9999\n12345\n13800000002\n,x\n+1 650 253 0000,5678\n"
	b := mustBuilder(t, Options{Params: []string{"0000"}})
	var bad []string
	err := b.AddCSV(context.Background(), strings.NewReader(in), func(le LineError) {
		bad = append(bad, fmt.Sprintf("%d:%s", le.Line, le.Input))
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"3:not-a-number", "6:12345", "8:,x"}; !reflect.DeepEqual(bad, want) {
		t.Fatalf("bad lines %q, want %q", bad, want)
	}
	if got, want := b.Stats(), (Stats{Accepted: 3, Duplicates: 1, Rejected: 3}); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	s := b.Finish()
	if got, want := s.ParamSets(), [][]string{{"1234"}, {"0000"}, {"5678"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("param sets %q, want %q", got, want)
	}
}

// TestAddCSVMatchesSequential checks that the parallel pipeline gives exactly what adding the
// lines one by one gives: same accepted numbers in the same batches, same rejections in order.
func TestAddCSVMatchesSequential(t *testing.T) {
	var sb strings.Builder
	for i := range 3000 {
		switch {
		case i%97 == 0:
			sb.WriteString("bad" + fmt.Sprint(i) + "\n")
		case i%13 == 0:
			fmt.Fprintf(&sb, "%s,p%d\n", cn(i/2), i%3) // duplicates of earlier numbers, other params
		case i%11 == 0:
			fmt.Fprintf(&sb, "+44 7700 9%05d\n", i)
		default:
			fmt.Fprintf(&sb, "%s,p%d\n", cn(i), i%5)
		}
	}
	in := sb.String()

	seq := mustBuilder(t, Options{Workers: 1})
	var seqBad []int
	for rec, err := range Lines(strings.NewReader(in)) {
		if err != nil {
			t.Fatal(err)
		}
		if err := seq.Add(rec.Number, rec.Params); err != nil && !errors.Is(err, ErrDuplicate) {
			seqBad = append(seqBad, rec.Line)
		}
	}
	for _, workers := range []int{1, 3, 8} {
		par := mustBuilder(t, Options{Workers: workers})
		var parBad []int
		if err := par.AddCSV(context.Background(), strings.NewReader(in), func(le LineError) { parBad = append(parBad, le.Line) }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(parBad, seqBad) {
			t.Fatalf("workers %d: bad lines differ (%d vs %d)", workers, len(parBad), len(seqBad))
		}
		if par.Stats() != seq.Stats() {
			t.Fatalf("workers %d: stats %+v, want %+v", workers, par.Stats(), seq.Stats())
		}
		ps := par.Finish()
		if workers == 8 {
			seqSet := seq.Finish()
			if !reflect.DeepEqual(batches(ps), batches(seqSet)) || !reflect.DeepEqual(ps.ParamSets(), seqSet.ParamSets()) {
				t.Fatalf("workers %d: batches differ from sequential", workers)
			}
		}
	}
}

func TestAddRecipients(t *testing.T) {
	b := mustBuilder(t, Options{Region: "US"})
	var bad []LineError
	err := b.AddRecipients(context.Background(), []Recipient{
		{Number: "(650) 253-0000"},
		{Number: "13800138000"}, // a US-region reading of a Chinese mobile is invalid
		{Number: "+86 138 0013 8000", Params: []string{"x"}},
	}, func(le LineError) { bad = append(bad, le) })
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Line != 2 || bad[0].Input != "13800138000" || bad[0].Reason == "" {
		t.Fatalf("bad = %+v", bad)
	}
	if got := b.Stats(); got.Accepted != 2 || got.Rejected != 1 {
		t.Fatalf("stats %+v", got)
	}
}

func TestAddCSVContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := mustBuilder(t, Options{})
	if err := b.AddCSV(ctx, strings.NewReader(genLines(0, 10)), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestBatchesInvariants checks, over many shapes, that every accepted number is in exactly one
// batch, batches are within 1..MaxBatch, and a batch never mixes +86 and international numbers.
func TestBatchesInvariants(t *testing.T) {
	for _, maxBatch := range []int{1, 7, 200} {
		b := mustBuilder(t, Options{MaxBatch: maxBatch})
		for i := range 1200 {
			num := cn(i % 1000)
			if i%4 == 0 {
				num = fmt.Sprintf("+44 7700 9%05d", i%1100)
			}
			_ = b.Add(num, []string{fmt.Sprint(i % 6)})
		}
		accepted := b.Stats().Accepted
		s := b.Finish()
		seen := map[string]bool{}
		n := 0
		for bt := range s.Batches() {
			n++
			if len(bt.Numbers) < 1 || len(bt.Numbers) > maxBatch {
				t.Fatalf("batch of %d numbers (max %d)", len(bt.Numbers), maxBatch)
			}
			for _, num := range bt.Numbers {
				if strings.HasPrefix(num, "+86") == bt.Intl {
					t.Fatalf("number %s in batch intl=%v", num, bt.Intl)
				}
				if seen[num] {
					t.Fatalf("number %s twice", num)
				}
				seen[num] = true
			}
		}
		if len(seen) != accepted || n != s.NumBatches() {
			t.Fatalf("max %d: %d numbers in %d batches; accepted %d, NumBatches %d", maxBatch, len(seen), n, accepted, s.NumBatches())
		}
	}
}
