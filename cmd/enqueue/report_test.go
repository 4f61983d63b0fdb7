package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/smsdispatch/smsdispatch/store"
)

// sendOne sends a job to two numbers with id and commits them: +8613800138000 sent with
// SerialNo "2640:1", +8613800138001 failed.
func (h *harness) sendOne(id string) {
	h.t.Helper()
	if r := h.run("", "send", "--template", "1000002", "--id", id, "--to", "13800138000,13800138001"); r.code != 0 {
		h.t.Fatalf("send: %+v", r)
	}
	ctx := context.Background()
	s := store.New(h.rdb, store.Options{})
	c, err := s.Claim(ctx, id, 0, "t")
	if err == nil {
		_, err = s.Launch(ctx, id, 0, "t")
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var rs []store.NumberResult
	for i, n := range c.Numbers {
		r := store.NumberResult{Index: c.Indexes[i], State: store.Sent, SerialNo: "2640:1", Fee: 1}
		if n == "+8613800138001" {
			r = store.NumberResult{Index: c.Indexes[i], State: store.Failed, Code: "InvalidParameterValue.IncorrectPhoneNumber"}
		}
		rs = append(rs, r)
	}
	if _, err := s.Commit(ctx, id, 0, "t", rs); err != nil {
		h.t.Fatal(err)
	}
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sendOne("rep")

	r := h.run("", "report", "rep")
	if r.code != 0 {
		t.Fatalf("report: %+v", r)
	}
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv %q: %v", r.stdout, err)
	}
	rows := map[string][]string{recs[1][0]: recs[1], recs[2][0]: recs[2]}
	if g := rows["+8613800138000"]; g == nil || g[1] != "sent" || g[2] != "2640:1" || g[3] != "Ok" || g[5] != "1" || g[8] == "" {
		t.Errorf("sent row %q", g)
	}
	if g := rows["+8613800138001"]; g == nil || g[1] != "failed" || g[3] != "InvalidParameterValue.IncorrectPhoneNumber" || g[5] != "" {
		t.Errorf("failed row %q", g)
	}

	r = h.run("", "report", "rep", "--format", "json", "--state", "failed")
	var m map[string]any
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || json.Unmarshal([]byte(r.stdout), &m) != nil || m["state"] != "failed" {
		t.Errorf("json failed only: %+v", r)
	}
	r = h.run("", "report", "rep", "--bom", "--state", "sent,delivered")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "\ufeffnumber,") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("bom: %+v", r)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"report", "nope"}, exitNotFound},
		{[]string{"report", "rep", "--format", "xml"}, exitUsage},
		{[]string{"report", "rep", "--state", "lost"}, exitUsage},
		{[]string{"report", "rep", "--format", "json", "--bom"}, exitUsage},
		{[]string{"report"}, exitUsage},
	} {
		if r := h.run("", tc.args...); r.code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, r.code, tc.code, r.stderr)
		}
	}
	if r := h.run("", "report", "nope"); !strings.Contains(r.stderr, "not found") {
		t.Errorf("unknown job: %q", r.stderr)
	}
}

func TestListCommand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.sendOne("first")
	if r := h.run("", "send", "--template", "1000002", "--id", "second", "--app", "1400000002", "--to", "13800138009"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	r := h.run("", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "JOB ") || !strings.Contains(r.stdout, "first") || !strings.Contains(r.stdout, "second") {
		t.Fatalf("list: %+v", r)
	}
	r = h.run("", "list", "--app", "1400000002", "--json")
	var sts []store.Status
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sts) != nil || len(sts) != 1 || sts[0].ID != "second" || sts[0].Total != 1 {
		t.Fatalf("list --app --json: %+v", r)
	}
	r = h.run("", "list", "--state", "partial,delivering", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &sts) != nil || len(sts) != 1 || sts[0].ID != "first" {
		t.Fatalf("list --state: %+v", r)
	}
	r = h.run("", "list", "--state", "done", "--json")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("none: %+v", r)
	}
	for _, args := range [][]string{{"list", "--state", "asleep"}, {"list", "--limit", "-1"}, {"list", "--app", "x1"}, {"list", "extra"}} {
		if r := h.run("", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
}
