package store

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
	"time"
)

// TestJobStateIssueExamples: the two readings of issue 12 that contradicted the counts, through
// the real scripts. Every number failed is not done; a job-fatal code after 5 of 6 numbers were
// accepted (and delivered) is not failed.
func TestJobStateIssueExamples(t *testing.T) {
	t.Parallel()
	const fatal = "FailedOperation.TemplateIncorrectOrUnapproved"
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()

		// One batch of 6, the template refused: every number fails with a job-fatal code. The
		// dispatcher's FailJob comes after the commit, when nothing is pending any more, so no
		// fail flag is recorded; the counts alone must say failed.
		e.create(t, testJob("all"), 6, 200)
		c := e.mustClaim(t, "all", 0, "t")
		rs := make([]NumberResult, len(c.Indexes))
		for i, idx := range c.Indexes {
			rs[i] = NumberResult{Index: idx, State: Failed, Code: fatal}
		}
		e.commit(t, "all", 0, "t", rs)
		if err := e.s.FailJob(ctx, "all", fatal); err != nil {
			t.Fatal(err)
		}
		st := e.wantCounts(t, "all", counts{State: StateFailed, Total: 6, Failed: 6})
		if !st.Final || st.FailedByCode[fatal] != 6 {
			t.Fatalf("all failed: %+v", st)
		}

		// Every number refused on its own (number-level codes): failed too.
		e.create(t, testJob("nums"), 3, 200)
		c = e.mustClaim(t, "nums", 0, "t")
		rs = make([]NumberResult, len(c.Indexes))
		for i, idx := range c.Indexes {
			rs[i] = NumberResult{Index: idx, State: Failed, Code: "InvalidParameterValue.IncorrectPhoneNumber"}
		}
		e.commit(t, "nums", 0, "t", rs)
		e.wantCounts(t, "nums", counts{State: StateFailed, Total: 3, Failed: 3})

		// Six CSV lines, one batch each (their params differ). Five are in flight when the sixth
		// meets a job-fatal code: the code is recorded while numbers are still pending, then the
		// five are accepted and delivered.
		job := testJob("six")
		params := make([][]string, 6)
		batches := make([]NewBatch, 6)
		for i, n := range nums(100, 6) {
			params[i] = []string{fmt.Sprint("line", i)}
			batches[i] = NewBatch{ParamSet: i, Numbers: []string{n}}
		}
		if created, err := e.s.CreateJob(ctx, job, params, batches, 0); err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		claims := make([]ClaimResult, 6)
		for b := range 6 {
			claims[b] = e.mustClaim(t, "six", b, fmt.Sprint("t", b))
		}
		e.commit(t, "six", 5, "t5", []NumberResult{{Index: 0, State: Failed, Code: fatal}})
		if err := e.s.FailJob(ctx, "six", fatal); err != nil {
			t.Fatal(err)
		}
		st = e.wantCounts(t, "six", counts{State: StateFailing, Total: 6, Failed: 1, Pending: 5})
		if st.Final || st.FatalCode != fatal {
			t.Fatalf("failing: %+v", st)
		}
		var page []Receipt
		for b := range 5 {
			rs := allSent("six", b, claims[b])
			if err := e.s.IndexSerials(ctx, "six", b, rs); err != nil {
				t.Fatal(err)
			}
			e.commit(t, "six", b, fmt.Sprint("t", b), rs)
			page = append(page, receiptFor("six", b, 0, nums(100+b, 1)[0], "SUCCESS"))
		}
		st = e.wantCounts(t, "six", counts{State: StateDelivering, Total: 6, Sent: 5, Failed: 1})
		if st.Final {
			t.Fatalf("delivering is not final: %+v", st)
		}
		e.saveAndApply(t, page)
		st = e.wantCounts(t, "six", counts{State: StatePartial, Total: 6, Sent: 5, Failed: 1, Delivered: 5})
		if !st.Final || st.FatalCode != fatal || st.FailedByCode[fatal] != 1 {
			t.Fatalf("partial: %+v", st)
		}
		if active, err := e.s.ActiveJobs(ctx); err != nil || len(active) != 0 {
			t.Fatalf("final jobs still active: %v, %v", active, err)
		}
	})
}

// TestDeriveState covers every row of the JobState table, and the order in which they apply.
func TestDeriveState(t *testing.T) {
	t.Parallel()
	const fatal = "FailedOperation.ContainSensitiveWord"
	tests := []struct {
		name string
		in   stateInput
		want JobState
	}{
		// Numbers left.
		{"new job", stateInput{Total: 10}, StateRunning},
		{"some sent, rest pending", stateInput{Total: 10, Sent: 4, Failed: 1}, StateRunning},
		{"only unknown left", stateInput{Total: 10, Sent: 9, Unknown: 1}, StateRunning},
		{"scheduled", stateInput{Total: 10, BeforeSendAt: true}, StateScheduled},
		{"send_at not reached but something sent: running", stateInput{Total: 10, Sent: 1, BeforeSendAt: true}, StateRunning},
		{"send_at not reached, one unknown: running", stateInput{Total: 10, Unknown: 1, BeforeSendAt: true}, StateRunning},
		{"paused", stateInput{Total: 10, Sent: 3, Halted: true}, StatePaused},
		{"paused wins over scheduled", stateInput{Total: 10, Halted: true, BeforeSendAt: true}, StatePaused},
		{"cancelling: in flight finish", stateInput{Total: 10, Sent: 2, Cancelled: 6, CancelRequested: true}, StateCancelling},
		{"cancelling wins over paused and failing", stateInput{Total: 10, CancelRequested: true, FatalCode: fatal, Halted: true}, StateCancelling},
		{"failing: in flight finish", stateInput{Total: 10, Failed: 8, FatalCode: fatal}, StateFailing},
		{"failing wins over paused", stateInput{Total: 10, Failed: 8, FatalCode: fatal, Halted: true}, StateFailing},

		// Nothing left.
		{"cancelled", stateInput{Total: 10, Sent: 4, Cancelled: 6, CancelRequested: true}, StateCancelled},
		{"cancelled before anything was sent", stateInput{Total: 10, Cancelled: 10, CancelRequested: true}, StateCancelled},
		{"cancelled does not wait for receipts", stateInput{Total: 10, Sent: 4, Cancelled: 6, CancelRequested: true, ReceiptsOpen: true}, StateCancelled},
		{"cancel requested, nothing cancelled: the counts decide", stateInput{Total: 10, Sent: 10, Delivered: 10, CancelRequested: true}, StateDone},
		{"every number failed", stateInput{Total: 6, Failed: 6}, StateFailed},
		{"every number failed with a job-fatal code", stateInput{Total: 6, Failed: 6, FatalCode: fatal}, StateFailed},
		{"every number failed, halted app", stateInput{Total: 6, Failed: 6, Halted: true}, StateFailed},
		{"all sent, receipts arriving", stateInput{Total: 10, Sent: 10, Delivered: 7, ReceiptsOpen: true}, StateDelivering},
		{"some failed, receipts arriving", stateInput{Total: 6, Sent: 5, Failed: 1, Delivered: 2, FatalCode: fatal, ReceiptsOpen: true}, StateDelivering},
		{"receipts arriving on a halted app: delivering", stateInput{Total: 10, Sent: 10, Halted: true, ReceiptsOpen: true}, StateDelivering},
		{"5 of 6 delivered, one failed with a job-fatal code", stateInput{Total: 6, Sent: 5, Failed: 1, Delivered: 5, FatalCode: fatal, ReceiptsOpen: true}, StatePartial},
		{"some failed by number, window closed", stateInput{Total: 10, Sent: 9, Failed: 1, Delivered: 3}, StatePartial},
		{"done: every receipt in", stateInput{Total: 10, Sent: 10, Delivered: 9, Undelivered: 1, ReceiptsOpen: true}, StateDone},
		{"done: window closed without every receipt", stateInput{Total: 10, Sent: 10, Delivered: 4}, StateDone},
		{"empty job", stateInput{}, StateDone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := deriveState(tc.in); got != tc.want {
				t.Fatalf("deriveState(%+v) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	final := map[JobState]bool{StateDone: true, StatePartial: true, StateFailed: true, StateCancelled: true}
	seen := map[JobState]bool{}
	for _, tc := range tests {
		seen[tc.want] = true
	}
	for _, row := range JobStates {
		if !seen[row.State] {
			t.Errorf("state %s has no case", row.State)
		}
		if row.State.Final() != final[row.State] || row.Final != final[row.State] {
			t.Errorf("state %s: Final() %v, table %v, want %v", row.State, row.State.Final(), row.Final, final[row.State])
		}
	}
	if JobState("bogus").Final() {
		t.Error("an unknown state is final")
	}
}

// TestJobStateWindow: the receipt window counts from the last commit.
func TestJobStateWindow(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		e.create(t, testJob("j"), 2, 1)
		c := e.mustClaim(t, "j", 0, "first")
		e.commit(t, "j", 0, "first", allSent("j", 0, c))
		e.clock.Add(DefaultReceiptWindow / 2)
		c = e.mustClaim(t, "j", 1, "late")
		e.commit(t, "j", 1, "late", allSent("j", 1, c))
		e.clock.Add(DefaultReceiptWindow/2 + time.Second)
		e.wantCounts(t, "j", counts{State: StateDelivering, Total: 2, Sent: 2})
		e.clock.Add(DefaultReceiptWindow / 2)
		e.wantCounts(t, "j", counts{State: StateDone, Total: 2, Sent: 2})
	})
}

// TestJobStateTableDocumented: the table of JobStates is the one in the JobState doc comment and
// in the README.
func TestJobStateTableDocumented(t *testing.T) {
	t.Parallel()
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "job.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
			for _, s := range g.Specs {
				if ts := s.(*ast.TypeSpec); ts.Name.Name == "JobState" && g.Doc != nil {
					doc = norm(g.Doc.Text())
				}
			}
		}
	}
	if doc == "" {
		t.Fatal("JobState has no doc comment")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	md := norm(string(readme))
	for _, row := range JobStates {
		yes := map[bool]string{true: "yes", false: "no"}[row.Final]
		if want := norm(fmt.Sprintf("%s %s %s", row.State, yes, row.Condition)); !strings.Contains(doc, want) {
			t.Errorf("JobState doc lacks the row %q", want)
		}
		if want := norm(fmt.Sprintf("| `%s` | %s | %s |", row.State, yes, row.Condition)); !strings.Contains(md, want) {
			t.Errorf("README lacks the row %q", want)
		}
	}
}
