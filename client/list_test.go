package client

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/smsdispatch/smsdispatch/store"
)

// TestList: newest first, by app and state, limited; bad filters are invalid requests.
func TestList(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		var ids []string
		for i, app := range []string{testApp, "1400000002", testApp} {
			id := jobID(t, "list")
			if _, err := e.c.Send(ctx, Request{JobID: id, AppID: app, TemplateID: "1", Params: []string{"1"},
				Recipients: []Recipient{{Number: cn(i)}}}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if _, err := e.c.Cancel(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		list := func(f ListFilter) []string {
			t.Helper()
			sts, err := e.c.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]string, len(sts))
			for i, st := range sts {
				out[i] = st.ID
			}
			return out
		}
		// Jobs created within the same millisecond keep no order among themselves: compare sets
		// where the clock may not have moved.
		all := list(ListFilter{})
		if len(all) != 3 || !slices.Contains(all, ids[0]) || !slices.Contains(all, ids[1]) || !slices.Contains(all, ids[2]) {
			t.Errorf("all: %v, want %v", all, ids)
		}
		if got := list(ListFilter{App: "1400000002"}); !slices.Equal(got, ids[1:2]) {
			t.Errorf("by app: %v", got)
		}
		if got := list(ListFilter{States: []store.JobState{store.StateCancelled}}); !slices.Equal(got, ids[:1]) {
			t.Errorf("cancelled: %v", got)
		}
		if got := list(ListFilter{Limit: 1}); len(got) != 1 {
			t.Errorf("limit 1: %v", got)
		}
		if _, err := e.c.List(ctx, ListFilter{States: []store.JobState{"sleeping"}}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("bad state: %v", err)
		}
		if _, err := e.c.List(ctx, ListFilter{Limit: -1}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("negative limit: %v", err)
		}
	})
}
