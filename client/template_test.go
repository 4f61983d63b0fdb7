package client

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
)

// templates is a fake account: its templates by id, and how often it was asked.
type templates struct {
	byID  map[string]Template
	calls atomic.Int32
	err   error
}

func (ts *templates) Template(_ context.Context, _, id string) (Template, error) {
	ts.calls.Add(1)
	if ts.err != nil {
		return Template{}, ts.err
	}
	t, ok := ts.byID[id]
	if !ok {
		return Template{}, ErrTemplateNotFound
	}
	return t, nil
}

func TestTemplateCheck(t *testing.T) {
	t.Parallel()
	ts := &templates{byID: map[string]Template{
		"1001": {ID: "1001", Name: "otp", Approved: true, Status: "approved", Domestic: true, Params: 2},
		"1002": {ID: "1002", Name: "intl", Approved: true, Status: "approved", International: true, Params: 1},
		"1003": {ID: "1003", Name: "review", Approved: false, Status: "in review", Domestic: true},
		"1004": {ID: "1004", Name: "both", Approved: true, Domestic: true, International: true, Params: 0},
	}}
	cn, us := Recipient{Number: "+8613800000001"}, Recipient{Number: "+16502530001"}
	tests := []struct {
		name     string
		tpl      string
		params   []string
		rs       []Recipient
		csv      string
		wantErr  string // substring of the *TemplateError; "" = accepted
		notFound bool
	}{
		{name: "ok", tpl: "1001", params: []string{"1234", "5"}, rs: []Recipient{cn}},
		{name: "unknown", tpl: "9999", params: nil, rs: []Recipient{cn}, wantErr: "template 9999: unknown"},
		{name: "not approved", tpl: "1003", rs: []Recipient{cn}, wantErr: `template 1003 ("review"): not approved (in review)`},
		{name: "domestic to abroad", tpl: "1001", params: []string{"1", "2"}, rs: []Recipient{cn, us},
			wantErr: "a domestic template (for +86 numbers only), but 1 number is outside mainland China"},
		{name: "international to +86", tpl: "1002", params: []string{"1"}, rs: []Recipient{cn, us},
			wantErr: "an international template (not for +86 numbers), but 1 number is +86"},
		{name: "both regions", tpl: "1004", rs: []Recipient{cn, us}},
		{name: "too few params", tpl: "1001", params: []string{"1234"}, rs: []Recipient{cn},
			wantErr: `takes 2 params ({1}..{2}), but the job gives 1 param ["1234"]`},
		{name: "a line's own params", tpl: "1001", params: []string{"1", "2"}, csv: "+8613800000002\n+8613800000003,a,b,c\n",
			wantErr: `but the job gives 3 params ["a", "b", "c"]`},
		{name: "lines' own params fit", tpl: "1001", csv: "+8613800000002,a,b\n+8613800000003,c,d\n"},
	}
	backends(t, Options{Templates: ts}, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, tt := range tests {
			req := Request{JobID: jobID(t, "tpl"), TemplateID: tt.tpl, Params: tt.params, Recipients: tt.rs}
			if tt.csv != "" {
				req.Reader = strings.NewReader(tt.csv)
			}
			res, err := e.c.Send(ctx, req)
			if tt.wantErr == "" {
				if err != nil || !res.Created {
					t.Errorf("%s: Send = %+v, %v; want created", tt.name, res, err)
				}
				continue
			}
			var te *TemplateError
			if !errors.As(err, &te) || !errors.Is(err, ErrTemplateRefused) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want a *TemplateError containing %q", tt.name, err, tt.wantErr)
			}
			if _, err := e.c.Status(ctx, req.JobID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: refused job was stored (status error %v)", tt.name, err)
			}
		}
	})
}

func TestTemplateCheckLookupFails(t *testing.T) {
	t.Parallel()
	denied := errors.New("UnauthorizedOperation.RequestPermissionDeny")
	var read atomic.Bool
	backends(t, Options{Templates: &templates{err: denied}}, func(t *testing.T, e *env) {
		_, err := e.c.Send(context.Background(), Request{TemplateID: "1001",
			Reader: readerFunc(func([]byte) (int, error) { read.Store(true); return 0, errors.New("read") })})
		if !errors.Is(err, denied) || !errors.Is(err, ErrTemplateRefused) || !strings.Contains(err.Error(), "cannot be looked up") {
			t.Fatalf("error %v, want the lookup's error in a *TemplateError", err)
		}
		if read.Load() {
			t.Error("recipients were read although the template lookup had failed: refuse at once")
		}
	})
}

// TestTemplateCheckSkipsExistingJob: sending an existing job's id again returns it without a
// lookup (the job was checked when it was created).
func TestTemplateCheckSkipsExistingJob(t *testing.T) {
	t.Parallel()
	redistest.Each(t, func(t *testing.T, db *redistest.DB) {
		ts := &templates{byID: map[string]Template{"1001": {ID: "1001", Approved: true, Domestic: true, Params: 0}}}
		c, err := New(db.Client, Options{AppID: testApp, Templates: ts})
		if err != nil {
			t.Fatal(err)
		}
		e := &env{c: c}
		ctx := context.Background()
		req := Request{JobID: jobID(t, "again"), TemplateID: "1001", Recipients: []Recipient{{Number: "+8613800000001"}}}
		if _, err := e.c.Send(ctx, req); err != nil {
			t.Fatal(err)
		}
		before := ts.calls.Load()
		ts.byID = nil // the template is gone now: the existing job is still returned
		res, err := e.c.Send(ctx, req)
		if err != nil || res.Created {
			t.Fatalf("again: %+v, %v", res, err)
		}
		if ts.calls.Load() != before {
			t.Errorf("the existing job's template was looked up again")
		}
	})
}

func TestNoTemplateChecker(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		_, err := e.c.Send(context.Background(), Request{TemplateID: "9999", Params: []string{"a", "b", "c"},
			Recipients: []Recipient{{Number: "+16502530001"}}})
		if err != nil {
			t.Fatalf("without a checker any template is accepted: %v", err)
		}
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestTemplateTypeFromChecker: a marketing type the checker knows (recorded by `enqueue template
// add`) gives the job the regulated window; a type the request names wins over the checker's.
func TestTemplateTypeFromChecker(t *testing.T) {
	t.Parallel()
	ts := &templates{byID: map[string]Template{
		"2001": {ID: "2001", Approved: true, Domestic: true, Params: 0, Type: store.TemplateMarketing},
		"2002": {ID: "2002", Approved: true, Domestic: true, Params: 0},
	}}
	backends(t, Options{Templates: ts}, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, tc := range []struct {
			tpl, reqType string
			wantType     string
			want         store.Window
		}{
			{"2001", "", store.TemplateMarketing, store.MarketingWindow},
			{"2001", "notification", store.TemplateNotification, store.Window{}},
			{"2002", "", "", store.Window{}},
		} {
			id := jobID(t, "tt")
			_, err := e.c.Send(ctx, Request{JobID: id, TemplateID: tc.tpl, TemplateType: tc.reqType, Recipients: []Recipient{{Number: cn(1)}}})
			if err != nil {
				t.Fatal(err)
			}
			job, err := e.c.Store().Job(ctx, id)
			if err != nil || job.TemplateType != tc.wantType || job.Window != tc.want {
				t.Errorf("template %s, request type %q: job type %q window %+v, %v; want %q %+v",
					tc.tpl, tc.reqType, job.TemplateType, job.Window, err, tc.wantType, tc.want)
			}
		}
	})
}
