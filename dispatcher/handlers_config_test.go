package dispatcher

import (
	"testing"
	"time"
)

// validateCase edits a complete config and names the error validate (and the constructor) must
// return; "" means none.
type validateCase[C any] struct {
	name string
	edit func(*C)
	want string
}

// checkValidate runs cases over ok (which must be valid) through validate and through the
// constructor newFn, which must return the same error.
func checkValidate[C any](t *testing.T, ok C, validate func(C) error, newFn func(C) error, cases []validateCase[C]) {
	t.Helper()
	if err := validate(ok); err != nil {
		t.Fatalf("complete config: %v", err)
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		if got := errString(validate(cfg)); got != c.want {
			t.Errorf("%s: validate() = %q, want %q", c.name, got, c.want)
		}
		if got := errString(newFn(cfg)); got != c.want {
			t.Errorf("%s: constructor error %q, want %q", c.name, got, c.want)
		}
	}
}

func TestReconcileConfigValidate(t *testing.T) {
	t.Parallel()
	ok := ReconcileConfig{Store: &fakeStore{}, Puller: &fakeSender{}, Enqueuer: &fakeEnqueuer{}, Limiter: &fakeLimiter{}}
	const neg = "dispatcher: ReconcileConfig durations must not be negative"
	checkValidate(t, ok, ReconcileConfig.validate, func(c ReconcileConfig) error { _, err := NewReconcileHandler(c); return err },
		[]validateCase[ReconcileConfig]{
			{"no store", func(c *ReconcileConfig) { c.Store = nil }, "dispatcher: ReconcileConfig.Store is nil"},
			{"no puller", func(c *ReconcileConfig) { c.Puller = nil }, "dispatcher: ReconcileConfig.Puller is nil"},
			{"no enqueuer", func(c *ReconcileConfig) { c.Enqueuer = nil }, "dispatcher: ReconcileConfig.Enqueuer is nil"},
			{"no limiter", func(c *ReconcileConfig) { c.Limiter = nil }, "dispatcher: ReconcileConfig.Limiter is nil"},
			{"negative window", func(c *ReconcileConfig) { c.ReconcileWindow = -1 }, neg},
			{"negative slack", func(c *ReconcileConfig) { c.EvidenceSlack = -1 }, neg},
		})
}

func TestReconcileConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := ReconcileConfig{}.withDefaults()
	if got.ReconcileWindow != DefaultReconcileWindow || got.EvidenceSlack != DefaultEvidenceSlack {
		t.Errorf("zero config: got %+v", got)
	}
	set := ReconcileConfig{ReconcileWindow: time.Second, EvidenceSlack: 2 * time.Second}
	if got := set.withDefaults(); got.ReconcileWindow != set.ReconcileWindow || got.EvidenceSlack != set.EvidenceSlack {
		t.Errorf("set values: got %+v, want %+v", got, set)
	}
}

// newConfigTestSend returns a SendHandler of fakes with the default policy.
func newConfigTestSend(t *testing.T) *SendHandler {
	t.Helper()
	h, err := NewSendHandler(SendConfig{Store: &fakeStore{}, Sender: &fakeSender{}, Enqueuer: &fakeEnqueuer{}, Limiter: &fakeLimiter{}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestProbeConfigValidate(t *testing.T) {
	t.Parallel()
	ok := ProbeConfig{Send: newConfigTestSend(t), Store: &fakeStore{}, Enqueuer: &fakeEnqueuer{}}
	const neg = "dispatcher: ProbeConfig.HaltProbeInterval and Tries must not be negative"
	checkValidate(t, ok, ProbeConfig.validate, func(c ProbeConfig) error { _, err := NewProbeHandler(c); return err },
		[]validateCase[ProbeConfig]{
			{"no send", func(c *ProbeConfig) { c.Send = nil }, "dispatcher: ProbeConfig.Send is nil"},
			{"no store", func(c *ProbeConfig) { c.Store = nil }, "dispatcher: ProbeConfig.Store is nil"},
			{"no enqueuer", func(c *ProbeConfig) { c.Enqueuer = nil }, "dispatcher: ProbeConfig.Enqueuer is nil"},
			{"negative interval", func(c *ProbeConfig) { c.HaltProbeInterval = -1 }, neg},
			{"negative tries", func(c *ProbeConfig) { c.Tries = -1 }, neg},
		})
}

func TestProbeConfigWithDefaults(t *testing.T) {
	t.Parallel()
	send := newConfigTestSend(t)
	got := ProbeConfig{Send: send}.withDefaults()
	if got.HaltProbeInterval != DefaultHaltProbeInterval || got.Tries != DefaultProbeTries {
		t.Errorf("zero config: got interval %v, tries %d; want %v, %d", got.HaltProbeInterval, got.Tries,
			DefaultHaltProbeInterval, DefaultProbeTries)
	}
	set := ProbeConfig{Send: send, HaltProbeInterval: time.Second, Tries: 3}
	if got := set.withDefaults(); got.HaltProbeInterval != set.HaltProbeInterval || got.Tries != set.Tries {
		t.Errorf("set values: got %+v, want %+v", got, set)
	}
}

func TestSweeperConfigValidate(t *testing.T) {
	t.Parallel()
	ok := SweeperConfig{Store: &fakeStore{}, Enqueuer: &fakeEnqueuer{}}
	const neg = "dispatcher: SweeperConfig durations must not be negative"
	checkValidate(t, ok, SweeperConfig.validate, func(c SweeperConfig) error { _, err := NewSweeper(c); return err },
		[]validateCase[SweeperConfig]{
			{"no store", func(c *SweeperConfig) { c.Store = nil }, "dispatcher: SweeperConfig.Store is nil"},
			{"no enqueuer", func(c *SweeperConfig) { c.Enqueuer = nil }, "dispatcher: SweeperConfig.Enqueuer is nil"},
			{"negative interval", func(c *SweeperConfig) { c.Interval = -1 }, neg},
			{"negative grace", func(c *SweeperConfig) { c.Grace = -1 }, neg},
			{"negative lease", func(c *SweeperConfig) { c.LeaseTTL = -1 }, neg},
		})
}

func TestSweeperConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := SweeperConfig{}.withDefaults()
	if got.Interval != DefaultSweepInterval || got.Grace != DefaultSweepGrace || got.LeaseTTL != 2*DefaultSweepInterval || got.Owner == "" {
		t.Errorf("zero config: got %+v", got)
	}
	if got := (SweeperConfig{Interval: time.Second}).withDefaults(); got.LeaseTTL != 2*time.Second {
		t.Errorf("LeaseTTL of a 1 s interval = %v, want 2 s", got.LeaseTTL)
	}
	set := SweeperConfig{Interval: time.Second, Grace: 2 * time.Second, LeaseTTL: 3 * time.Second, Owner: "me"}
	if got := set.withDefaults(); got.Interval != set.Interval || got.Grace != set.Grace || got.LeaseTTL != set.LeaseTTL || got.Owner != set.Owner {
		t.Errorf("set values: got %+v, want %+v", got, set)
	}
}

func TestReceiptLookupConfigValidate(t *testing.T) {
	t.Parallel()
	ok := ReceiptLookupConfig{Store: &lookupStore{}, Puller: &fakeSender{}, Limiter: &fakeLimiter{}}
	const neg = "dispatcher: ReceiptLookupConfig durations and counts must not be negative"
	checkValidate(t, ok, ReceiptLookupConfig.validate, func(c ReceiptLookupConfig) error { _, err := NewReceiptLookup(c); return err },
		[]validateCase[ReceiptLookupConfig]{
			{"no store", func(c *ReceiptLookupConfig) { c.Store = nil }, "dispatcher: ReceiptLookupConfig.Store is nil"},
			{"no puller", func(c *ReceiptLookupConfig) { c.Puller = nil }, "dispatcher: ReceiptLookupConfig.Puller is nil"},
			{"no limiter", func(c *ReceiptLookupConfig) { c.Limiter = nil }, "dispatcher: ReceiptLookupConfig.Limiter is nil"},
			{"negative age", func(c *ReceiptLookupConfig) { c.Age = -1 }, neg},
			{"negative rounds", func(c *ReceiptLookupConfig) { c.Rounds = -1 }, neg},
			{"negative interval", func(c *ReceiptLookupConfig) { c.Interval = -1 }, neg},
			{"negative max per run", func(c *ReceiptLookupConfig) { c.MaxPerRun = -1 }, neg},
			{"negative lease", func(c *ReceiptLookupConfig) { c.LeaseTTL = -1 }, neg},
		})
}

func TestReceiptLookupConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := ReceiptLookupConfig{}.withDefaults()
	if got.Age != DefaultReceiptLookupAge || got.Rounds != DefaultReceiptLookupRounds || got.Interval != DefaultReceiptLookupInterval ||
		got.MaxPerRun != DefaultReceiptLookupMaxPerRun || got.LeaseTTL != 2*DefaultReceiptLookupInterval || got.Owner == "" {
		t.Errorf("zero config: got %+v", got)
	}
	set := ReceiptLookupConfig{Age: time.Second, Rounds: 1, Interval: 2 * time.Second, MaxPerRun: 3, LeaseTTL: 4 * time.Second, Owner: "me"}
	if got := set.withDefaults(); got.Age != set.Age || got.Rounds != set.Rounds || got.Interval != set.Interval ||
		got.MaxPerRun != set.MaxPerRun || got.LeaseTTL != set.LeaseTTL || got.Owner != set.Owner {
		t.Errorf("set values: got %+v, want %+v", got, set)
	}
}

func TestPullerConfigValidate(t *testing.T) {
	t.Parallel()
	ok := PullerConfig{Store: &fakeStore{}, Puller: &fakeSender{}, Limiter: &fakeLimiter{}}
	const neg = "dispatcher: PullerConfig durations and MaxPages must not be negative"
	checkValidate(t, ok, PullerConfig.validate, func(c PullerConfig) error { _, err := NewPuller(c); return err },
		[]validateCase[PullerConfig]{
			{"no store", func(c *PullerConfig) { c.Store = nil }, "dispatcher: PullerConfig.Store is nil"},
			{"no puller", func(c *PullerConfig) { c.Puller = nil }, "dispatcher: PullerConfig.Puller is nil"},
			{"no limiter", func(c *PullerConfig) { c.Limiter = nil }, "dispatcher: PullerConfig.Limiter is nil"},
			{"negative interval", func(c *PullerConfig) { c.Interval = -1 }, neg},
			{"negative lease", func(c *PullerConfig) { c.LeaseTTL = -1 }, neg},
			{"negative max pages", func(c *PullerConfig) { c.MaxPages = -1 }, neg},
			{"negative save timeout", func(c *PullerConfig) { c.SaveTimeout = -1 }, neg},
			{"negative recheck", func(c *PullerConfig) { c.MissingAppRecheck = -1 }, neg},
		})
}

func TestPullerConfigWithDefaults(t *testing.T) {
	t.Parallel()
	got := PullerConfig{}.withDefaults()
	if got.Interval != DefaultPullInterval || got.LeaseTTL != 3*DefaultPullInterval || got.MaxPages != DefaultMaxPages ||
		got.SaveTimeout != DefaultPullSaveTimeout || got.MissingAppRecheck != DefaultMissingAppRecheck || got.Owner == "" {
		t.Errorf("zero config: got %+v", got)
	}
	if got := (PullerConfig{Interval: time.Second}).withDefaults(); got.LeaseTTL != 30*time.Second {
		t.Errorf("LeaseTTL of a 1 s interval = %v, want the 30 s floor", got.LeaseTTL)
	}
	set := PullerConfig{Interval: time.Second, LeaseTTL: 2 * time.Second, MaxPages: 3, SaveTimeout: 4 * time.Second,
		MissingAppRecheck: 5 * time.Second, Owner: "me"}
	if got := set.withDefaults(); got.Interval != set.Interval || got.LeaseTTL != set.LeaseTTL || got.MaxPages != set.MaxPages ||
		got.SaveTimeout != set.SaveTimeout || got.MissingAppRecheck != set.MissingAppRecheck || got.Owner != set.Owner {
		t.Errorf("set values: got %+v, want %+v", got, set)
	}
}
