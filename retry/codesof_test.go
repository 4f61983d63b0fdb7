package retry

import (
	"slices"
	"testing"
)

func TestCodesOf(t *testing.T) {
	cases := []struct {
		classes []Class
		has     string
	}{
		{[]Class{ClassAppHalt}, "FailedOperation.InsufficientBalanceInSmsPackage"},
		{[]Class{ClassAppHalt, ClassAppDeferred}, "AuthFailure.SecretIdNotFound"},
		{[]Class{ClassUnknownOutcome}, "InternalError.Timeout"},
	}
	for _, tc := range cases {
		got := CodesOf(tc.classes...)
		if !slices.Contains(got, tc.has) || !slices.IsSorted(got) {
			t.Errorf("CodesOf(%v) = %v, want sorted and holding %s", tc.classes, got, tc.has)
		}
		for _, code := range got {
			if c := Classify(code); !slices.Contains(tc.classes, c) {
				t.Errorf("CodesOf(%v) holds %s of class %v", tc.classes, code, c)
			}
		}
	}
	if got := CodesOf(); len(got) != 0 {
		t.Errorf("CodesOf() = %v, want none", got)
	}
}
