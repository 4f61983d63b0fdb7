package retry

import (
	"strings"
	"testing"
)

func TestMeaning(t *testing.T) {
	tests := []struct{ code, want string }{
		{"FailedOperation.InsufficientBalanceInSmsPackage", "balance"},
		{"failedoperation.phonenumberinblacklist", "unsubscribed"}, // case folded like Classify
		{"Expired", "--expire"},
		{"AuthFailure.MFAFailure", "halted"},     // listed in the table, explained by class
		{"InternalError.Whatever", "reconciled"}, // a family prefix
		{"Something.New", "does not know"},       // unlisted
	}
	for _, tt := range tests {
		if got := Meaning(tt.code); !strings.Contains(got, tt.want) {
			t.Errorf("Meaning(%q) = %q, want it to mention %q", tt.code, got, tt.want)
		}
	}
}

// TestEveryCodeHasAMeaning: every code of the classification table, and every class, explains
// itself in one line.
func TestEveryCodeHasAMeaning(t *testing.T) {
	for code := range table {
		if m := Meaning(code); m == "" || strings.Contains(m, "\n") {
			t.Errorf("Meaning(%q) = %q", code, m)
		}
	}
	for c := ClassOK; c <= ClassUnlisted; c++ {
		if classMeanings[c] == "" {
			t.Errorf("class %v has no meaning", c)
		}
	}
	for code := range meanings {
		if _, ok := table[code]; !ok && code != "Expired" {
			t.Errorf("meaning of %q, a code the table does not classify", code)
		}
	}
}
