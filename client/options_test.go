package client

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/recipients"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"defaults", Options{}, ""},
		{"country normalised", Options{Country: " us "}, ""},
		{"unknown country", Options{Country: "xx"}, `client: Options.Country "XX" is not a known region code`},
		{"max batch at the limit", Options{MaxBatch: 200}, ""},
		{"max batch over the limit", Options{MaxBatch: 201}, "client: Options.MaxBatch 201 is over 200"},
		{"negative max batch takes the default", Options{MaxBatch: -1}, ""},
	}
	for _, c := range cases {
		got := ""
		if err := c.opts.withDefaults().validate(); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: validate() = %q, want %q", c.name, got, c.want)
		}
		got = ""
		if _, err := New(rdb, c.opts); err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: New error %q, want %q", c.name, got, c.want)
		}
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	t.Parallel()
	for _, in := range []Options{{}, {MaxBatch: -1, EnqueueConcurrency: -1, EnqueueAttempts: -1, RejectedSample: -1, MaxRecipients: -1}} {
		got := in.withDefaults()
		if got.Country != recipients.DefaultRegion || got.MaxBatch != recipients.DefaultMaxBatch ||
			got.EnqueueConcurrency != DefaultEnqueueConcurrency || got.EnqueueAttempts != DefaultEnqueueAttempts ||
			got.RejectedSample != DefaultRejectedSample || got.MaxRecipients != recipients.DefaultMaxRecipients {
			t.Errorf("withDefaults(%+v) = %+v, want the defaults", in, got)
		}
	}
	set := Options{Country: " us", MaxBatch: 1, EnqueueConcurrency: 2, EnqueueAttempts: 3, RejectedSample: 4, MaxRecipients: 5}
	got := set.withDefaults()
	if got.Country != "US" || got.MaxBatch != set.MaxBatch || got.EnqueueConcurrency != set.EnqueueConcurrency ||
		got.EnqueueAttempts != set.EnqueueAttempts || got.RejectedSample != set.RejectedSample || got.MaxRecipients != set.MaxRecipients {
		t.Errorf("withDefaults(%+v) = %+v, want the values kept (Country normalised)", set, got)
	}
}
