package store

import (
	"testing"
	"time"
)

func TestOptionsWithDefaults(t *testing.T) {
	t.Parallel()
	for _, in := range []Options{{}, {Retention: -1, ClaimLease: -1, ReceiptWindow: -1}} {
		got := in.withDefaults()
		if got.Retention != DefaultRetention || got.ClaimLease != DefaultClaimLease || got.ReceiptWindow != DefaultReceiptWindow || got.Now == nil {
			t.Errorf("withDefaults(%+v) = %+v, want the Default constants and a clock", in, got)
		}
	}
	now := func() time.Time { return time.Unix(1, 0) }
	set := Options{Retention: time.Second, ClaimLease: 2 * time.Second, ReceiptWindow: 3 * time.Second, Now: now}
	got := set.withDefaults()
	if got.Retention != set.Retention || got.ClaimLease != set.ClaimLease || got.ReceiptWindow != set.ReceiptWindow || !got.Now().Equal(now()) {
		t.Errorf("withDefaults(%+v) = %+v, want the values kept", set, got)
	}
}
