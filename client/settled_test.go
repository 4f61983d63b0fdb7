package client

import (
	"testing"

	"github.com/smsdispatch/smsdispatch/store"
)

// TestSettled: Wait stops at every final state (partial included) and at no other.
func TestSettled(t *testing.T) {
	t.Parallel()
	for _, row := range store.JobStates {
		st := store.Status{State: row.State}
		if got := Settled(st); got != row.Final {
			t.Errorf("Settled(%s) = %v, want %v", row.State, got, row.Final)
		}
	}
	if !Settled(store.Status{State: store.StatePartial, Total: 6, Sent: 5, Failed: 1}) {
		t.Error("a partial job is not settled: Wait would never return")
	}
	if Settled(store.Status{State: store.StateCancelling, Total: 10, Cancelled: 8, Pending: 2}) {
		t.Error("a job still cancelling is settled")
	}
}
