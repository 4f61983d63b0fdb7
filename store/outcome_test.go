package store

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestOutcomeCodesPinned: the scripts read each outcome's code from the ARGV slot that
// outcomeCodeArgs fills with that ClaimOutcome, so reordering the Go constants cannot change
// what a reply means.
func TestOutcomeCodesPinned(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`(\w+) = tonumber\(ARGV\[(\d+)\]\)`)
	found := re.FindAllStringSubmatch(outcomeCodes, -1)
	if len(found) != len(outcomeNames) || len(outcomeCodeArgs) != len(outcomeNames) {
		t.Fatalf("%d codes read by the scripts, %d passed, %d outcomes", len(found), len(outcomeCodeArgs), len(outcomeNames))
	}
	for _, f := range found {
		slot, _ := strconv.Atoi(f[2])
		code := outcomeCodeArgs[slot-5].(int)
		if got := ClaimOutcome(code).String(); !strings.EqualFold(got, f[1]) {
			t.Errorf("the scripts' %q reads ARGV[%d], which carries %s", f[1], slot, got)
		}
	}
}

// TestClaimScriptsAnswerThePassedCodes: with other code values passed, the scripts answer with
// them (no outcome number is written in the Lua).
func TestClaimScriptsAnswerThePassedCodes(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 2, 200)
		codes := make([]any, len(outcomeCodeArgs))
		for i, c := range outcomeCodeArgs {
			codes[i] = 100 + c.(int)
		}
		claim := func(token string) int64 {
			v, err := claimScript.Run(ctx, e.s.rdb, []string{jobKey("j"), batchKey("j", 0), paramsKey("j")},
				append([]any{e.clock.Now().UnixMilli(), token, DefaultClaimLease.Milliseconds(), e.s.retentionArg()}, codes...)...).Slice()
			if err != nil {
				t.Fatal(err)
			}
			return replyInt(v[0])
		}
		if got := claim("a"); got != 100+int64(Claimed) {
			t.Fatalf("claim = %d, want %d", got, 100+int64(Claimed))
		}
		if got := claim("b"); got != 100+int64(Busy) {
			t.Fatalf("second claim = %d, want %d", got, 100+int64(Busy))
		}
		v, err := launchScript.Run(ctx, e.s.rdb, []string{jobKey("j"), batchKey("j", 0)},
			append([]any{e.clock.Now().UnixMilli(), "b", e.s.retentionArg(), ExpiredCode}, codes...)...).Slice()
		if err != nil || replyInt(v[0]) != 100+int64(Busy) {
			t.Fatalf("launch by another token = %v, %v; want %d", v, err, 100+int64(Busy))
		}
	})
}
