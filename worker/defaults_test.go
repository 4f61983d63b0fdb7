package worker

import (
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/dispatcher"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
)

// TestDefaultsAliasOwners pins every worker default that another package owns to its owner's
// constant, so that the worker's Config and the store or dispatcher it configures never disagree
// about a zero field.
func TestDefaultsAliasOwners(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name         string
		alias, owner time.Duration
	}{
		{"DefaultRetention == store.DefaultRetention", DefaultRetention, store.DefaultRetention},
		{"DefaultClaimLease == store.DefaultClaimLease", DefaultClaimLease, store.DefaultClaimLease},
		{"DefaultReceiptWindow == store.DefaultReceiptWindow", DefaultReceiptWindow, store.DefaultReceiptWindow},
		{"DefaultReconcileWindow == dispatcher.DefaultReconcileWindow", DefaultReconcileWindow, dispatcher.DefaultReconcileWindow},
		{"DefaultHaltProbeInterval == dispatcher.DefaultHaltProbeInterval", DefaultHaltProbeInterval, dispatcher.DefaultHaltProbeInterval},
		{"dispatcher.DefaultHaltProbeInterval == retry.DefaultHaltProbe", dispatcher.DefaultHaltProbeInterval, retry.DefaultHaltProbe},
		{"DefaultStatusPullInterval == dispatcher.DefaultPullInterval", DefaultStatusPullInterval, dispatcher.DefaultPullInterval},
		{"DefaultSweepInterval == dispatcher.DefaultSweepInterval", DefaultSweepInterval, dispatcher.DefaultSweepInterval},
		{"DefaultSweepGrace == dispatcher.DefaultSweepGrace", DefaultSweepGrace, dispatcher.DefaultSweepGrace},
		{"DefaultReceiptLookupAge == dispatcher.DefaultReceiptLookupAge", DefaultReceiptLookupAge, dispatcher.DefaultReceiptLookupAge},
	} {
		if c.alias != c.owner {
			t.Errorf("%s: %s != %s", c.name, c.alias, c.owner)
		}
	}
}

// TestWithDefaultsUsesOwners checks that a zero Config takes the owners' values.
func TestWithDefaultsUsesOwners(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	if c.Retention != store.DefaultRetention || c.ClaimLease != store.DefaultClaimLease || c.ReceiptWindow != store.DefaultReceiptWindow {
		t.Errorf("store defaults: Retention %s ClaimLease %s ReceiptWindow %s", c.Retention, c.ClaimLease, c.ReceiptWindow)
	}
	if c.ReconcileWindow != dispatcher.DefaultReconcileWindow || c.HaltProbeInterval != dispatcher.DefaultHaltProbeInterval {
		t.Errorf("dispatcher defaults: ReconcileWindow %s HaltProbeInterval %s", c.ReconcileWindow, c.HaltProbeInterval)
	}
	if c.RetryPolicy.HaltProbe != dispatcher.DefaultHaltProbeInterval {
		t.Errorf("RetryPolicy.HaltProbe = %s, want %s", c.RetryPolicy.HaltProbe, dispatcher.DefaultHaltProbeInterval)
	}
}
