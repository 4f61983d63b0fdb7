package tencentsms

import "testing"

func TestMatchByNumber(t *testing.T) {
	numbers := []string{"+8613800000001", "+8613800000002", "+8613800000003"}
	r := &SendResult{Statuses: []SendStatus{
		{PhoneNumber: "+8613800000003", Code: "C"},
		{PhoneNumber: "8613800000001", Code: "A"},
	}}
	got := r.Match(numbers)
	if got[0] == nil || got[0].Code != "A" || got[1] != nil || got[2] == nil || got[2].Code != "C" {
		t.Errorf("Match = %v, want A, nil, C", got)
	}
}

func TestMatchByPosition(t *testing.T) {
	numbers := []string{"+8613800000001", "+8613800000002"}
	r := &SendResult{Statuses: []SendStatus{{PhoneNumber: "garbled-1", Code: "Ok"}, {PhoneNumber: "garbled-2", Code: "X"}}}
	got := r.Match(numbers)
	if got[0] == nil || got[0].Code != "Ok" || got[1] == nil || got[1].Code != "X" {
		t.Errorf("Match = %v", got)
	}
	one := &SendResult{Statuses: r.Statuses[:1]}
	if got := one.Match(numbers); got[0] != nil || got[1] != nil {
		t.Errorf("one unmatchable status of two: %v, want none matched", got)
	}
	if got := digits("13812345678"); got != "8613812345678" {
		t.Errorf("digits of a bare mainland number = %q", got)
	}
}

func TestDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+8613812345678", "8613812345678"}, // what we send (fast path, no allocation)
		{"8613812345678", "8613812345678"},
		{"13812345678", "8613812345678"}, // a bare mainland mobile
		{"+13812345678", "13812345678"},  // E.164: taken as it is
		{"+008613812345678", "8613812345678"},
		{"008613812345678", "8613812345678"},
		{"+86 138-1234-5678", "8613812345678"},
		{"+", ""},
		{"", ""},
	} {
		if got := digits(tc.in); got != tc.want {
			t.Errorf("digits(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = digits("+8613812345678") }); n != 0 {
		t.Errorf("digits of an E.164 number allocates %v times", n)
	}
}
