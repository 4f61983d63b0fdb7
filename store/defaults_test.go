package store

import (
	"context"
	"errors"
	"testing"
)

func TestAdvertisedDefaults(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		s := e.s
		ctx := context.Background()
		if _, err := s.AdvertisedDefaults(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("before any worker: err = %v, want ErrNotFound", err)
		}
		if err := s.AdvertiseDefaults(ctx, Defaults{AppID: "", SignName: "x"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("empty app: err = %v, want ErrInvalid", err)
		}
		for _, app := range []string{"1400000001", "1400000002"} {
			if err := s.AdvertiseDefaults(ctx, Defaults{AppID: app, SignName: "Acme"}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.AdvertisedDefaults(ctx)
		if err != nil || d.AppID != "1400000002" || d.SignName != "Acme" || d.UpdatedAt.IsZero() {
			t.Fatalf("got %+v, %v; want the newest worker's app", d, err)
		}
	})
}
