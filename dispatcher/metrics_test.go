package dispatcher

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsdispatch/smsdispatch/store"
)

func TestCountStatesLabels(t *testing.T) {
	t.Parallel()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	countStates(m, []store.NumberResult{
		{State: store.Sent}, {State: store.Sent}, {State: store.Failed}, {State: store.Unknown},
		{State: store.Retry}, {State: store.Suppressed}, {State: 'z'},
	})
	for label, want := range map[string]float64{"sent": 2, "failed": 1, "unknown": 1, "retry": 1, "suppressed": 1, "other": 1} {
		if got := testutil.ToFloat64(m.Numbers.WithLabelValues(label)); got != want {
			t.Errorf("numbers{state=%q} = %v, want %v", label, got, want)
		}
	}
}
