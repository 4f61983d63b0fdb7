package client

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDryRun(t *testing.T) {
	var rejected []int
	req := Request{TemplateID: "1000002", Params: []string{"Ada"},
		Reader:   strings.NewReader("13800138000\n13800138001,Bob\nbad\n+86 138 0013 8000\n+1 650 253 0000\n+44 20 7031 3000\n13800138002\n"),
		OnReject: func(le LineError) { rejected = append(rejected, le.Line) }}
	p, err := DryRun(context.Background(), req, Options{MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.Accepted != 5 || p.Duplicates != 1 || p.Rejected != 1 || p.Batches != 5 || len(rejected) != 1 || rejected[0] != 3 {
		t.Fatalf("plan %+v, rejected lines %v", p, rejected)
	}
	want := []PlanGroup{
		{Params: []string{"Ada"}, Numbers: 2, Batches: 2},
		{Params: []string{"Ada"}, Intl: true, Numbers: 2, Batches: 2},
		{Params: []string{"Bob"}, Numbers: 1, Batches: 1},
	}
	if len(p.Groups) != len(want) {
		t.Fatalf("groups %+v", p.Groups)
	}
	for i, g := range p.Groups {
		if g.Intl != want[i].Intl || g.Numbers != want[i].Numbers || g.Batches != want[i].Batches || strings.Join(g.Params, ",") != strings.Join(want[i].Params, ",") {
			t.Fatalf("group %d = %+v, want %+v", i, g, want[i])
		}
	}
}

func TestDryRunErrors(t *testing.T) {
	_, err := DryRun(context.Background(), Request{TemplateID: "x", Reader: strings.NewReader("13800138000\n")}, Options{})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "TemplateID" {
		t.Fatalf("bad template: %v", err)
	}
	p, err := DryRun(context.Background(), Request{TemplateID: "1", Reader: strings.NewReader("bad\n12\n")}, Options{})
	if !errors.As(err, &fe) || fe.Field != "Recipients" || p.Rejected != 2 {
		t.Fatalf("nothing valid: %+v, %v", p, err)
	}
	_, err = DryRun(context.Background(), Request{TemplateID: "1", Reader: strings.NewReader("13800138000,\xd5\xc5\n")}, Options{})
	if !errors.As(err, &fe) || fe.Field != "Encoding" {
		t.Fatalf("gbk as utf-8: %v", err)
	}
}
