package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// TestSandboxRecord: the first claim wins, a second owner gets the record in force, the owner
// renews it, only the owner releases it, and it expires when nobody renews it.
func TestSandboxRecord(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.s.Sandbox(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no record: err %v, want ErrNotFound", err)
		}
		a := SandboxRecord{URL: "http://127.0.0.1:9000", AppID: "1400000000", SignNames: []string{"Sandbox", "Acme"}, Owner: "a"}
		b := SandboxRecord{URL: "http://127.0.0.1:9001", AppID: "1400000000", SignNames: []string{"Sandbox"}, Owner: "b"}

		cur, won, err := e.s.ClaimSandbox(ctx, a, time.Minute)
		if err != nil || !won || !reflect.DeepEqual(cur, a) {
			t.Fatalf("first claim: %+v %v %v", cur, won, err)
		}
		cur, won, err = e.s.ClaimSandbox(ctx, b, time.Minute)
		if err != nil || won || !reflect.DeepEqual(cur, a) {
			t.Fatalf("second owner's claim: %+v %v %v, want a's record and false", cur, won, err)
		}
		got, err := e.s.Sandbox(ctx)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("Sandbox: %+v %v", got, err)
		}
		// Renewal by the owner, with a changed URL, replaces the record.
		a2 := a
		a2.URL, a2.SignNames = "http://127.0.0.1:9002", []string{"Sandbox"}
		if cur, won, err = e.s.ClaimSandbox(ctx, a2, time.Minute); err != nil || !won || !reflect.DeepEqual(cur, a2) {
			t.Fatalf("renewal: %+v %v %v", cur, won, err)
		}
		// Only the owner releases it.
		if err := e.s.ReleaseSandbox(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if got, err = e.s.Sandbox(ctx); err != nil || got.Owner != "a" {
			t.Fatalf("after b's release: %+v %v", got, err)
		}
		if err := e.s.ReleaseSandbox(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Sandbox(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after a's release: err %v, want ErrNotFound", err)
		}
		if _, won, err = e.s.ClaimSandbox(ctx, b, time.Minute); err != nil || !won {
			t.Fatalf("claim after release: %v %v", won, err)
		}
		if !e.real() {
			e.db.Mini.FastForward(time.Minute + time.Millisecond)
			if _, err := e.s.Sandbox(ctx); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after its ttl: err %v, want ErrNotFound", err)
			}
		}
	})
}

// TestSandboxRecordInvalid: records that could not be read back are refused.
func TestSandboxRecordInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, redistest.Mini(t), Options{})
	ctx := context.Background()
	ok := SandboxRecord{URL: "http://127.0.0.1:9000", AppID: "1400000000", SignNames: []string{"Sandbox"}, Owner: "a"}
	for name, mut := range map[string]func(*SandboxRecord){
		"no url":          func(r *SandboxRecord) { r.URL = "" },
		"no owner":        func(r *SandboxRecord) { r.Owner = "" },
		"no app":          func(r *SandboxRecord) { r.AppID = "" },
		"newline in sign": func(r *SandboxRecord) { r.SignNames = []string{"a\nb"} },
	} {
		r := ok
		r.SignNames = append([]string(nil), ok.SignNames...)
		mut(&r)
		if _, _, err := e.s.ClaimSandbox(ctx, r, time.Minute); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := e.s.ClaimSandbox(ctx, ok, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("ttl 0: err %v, want ErrInvalid", err)
	}
}
