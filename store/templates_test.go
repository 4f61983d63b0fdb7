package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTemplateCache(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		s := e.s
		ctx := context.Background()
		if _, err := s.CachedTemplate(ctx, "acct1", "1000001"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("nothing cached: err = %v, want ErrNotFound", err)
		}
		rec := TemplateRecord{ID: "1000001", Name: "otp", Content: "code {1}", International: 0, Status: 1, ReviewReply: "x"}
		if err := s.CacheTemplate(ctx, "acct1", rec, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, err := s.CachedTemplate(ctx, "acct1", "1000001")
		want := rec
		want.CachedAt = e.clock.Now()
		if err != nil || !got.CachedAt.Equal(want.CachedAt) {
			t.Fatalf("got %+v, %v; want %+v", got, err, want)
		}
		got.CachedAt = want.CachedAt
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		// Another account's templates are its own.
		if _, err := s.CachedTemplate(ctx, "acct2", "1000001"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other account: err = %v, want ErrNotFound", err)
		}
		// Replaced by a newer read.
		rec.Status = 0
		if err := s.CacheTemplate(ctx, "acct1", rec, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := s.CachedTemplate(ctx, "acct1", "1000001"); err != nil || got.Status != 0 {
			t.Fatalf("after replace: %+v, %v", got, err)
		}
		if e.real() {
			return // the TTL below runs on miniredis's clock
		}
		e.advance(time.Minute + time.Second)
		if _, err := s.CachedTemplate(ctx, "acct1", "1000001"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after the ttl: err = %v, want ErrNotFound", err)
		}
	})
}

func TestTemplateCacheInvalid(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, tt := range []struct {
			account, id string
			ttl         time.Duration
		}{
			{"", "1", time.Minute},
			{"a", "", time.Minute},
			{"a:b", "1", time.Minute},
			{"a", "1 2", time.Minute},
			{"{a}", "1", time.Minute},
			{"a", "1", 0},
		} {
			if err := e.s.CacheTemplate(ctx, tt.account, TemplateRecord{ID: tt.id}, tt.ttl); !errors.Is(err, ErrInvalid) {
				t.Errorf("CacheTemplate(%q, %q, %v) = %v, want ErrInvalid", tt.account, tt.id, tt.ttl, err)
			}
			if tt.ttl == 0 {
				continue
			}
			if _, err := e.s.CachedTemplate(ctx, tt.account, tt.id); !errors.Is(err, ErrInvalid) {
				t.Errorf("CachedTemplate(%q, %q) = %v, want ErrInvalid", tt.account, tt.id, err)
			}
		}
	})
}

func TestTemplateTypeRecord(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if typ, err := e.s.TemplateType(ctx, "acct", "1"); err != nil || typ != "" {
			t.Fatalf("unrecorded: %q, %v", typ, err)
		}
		if err := e.s.RecordTemplateType(ctx, "acct", "1", TemplateMarketing); err != nil {
			t.Fatal(err)
		}
		if typ, err := e.s.TemplateType(ctx, "acct", "1"); err != nil || typ != TemplateMarketing {
			t.Fatalf("recorded: %q, %v", typ, err)
		}
		if typ, _ := e.s.TemplateType(ctx, "other", "1"); typ != "" {
			t.Errorf("another account sees %q", typ)
		}
		if err := e.s.RecordTemplateType(ctx, "acct", "2", "promo"); !errors.Is(err, ErrInvalid) {
			t.Errorf("bad type: %v, want ErrInvalid", err)
		}
	})
}
