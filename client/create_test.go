package client

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/store"
)

// TestCreateJobPackedMatchesStrings: the packed stream Send writes with holds, batch for batch,
// what CreateJob writes for the same set rendered as E.164 strings (more batches than one
// store write chunk, several param sets, domestic and international).
func TestCreateJobPackedMatchesStrings(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		b, err := recipients.NewBuilder(recipients.Options{Params: []string{"job"}, MaxBatch: 3})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2500 {
			num := recipients.Number(8613800000000 + uint64(i))
			if i%4 == 1 {
				num = recipients.Number(16502530000 + uint64(i))
			}
			var params []string
			if i%5 == 0 {
				params = []string{"own", fmt.Sprint(i % 3)}
			}
			if err := b.AddNumber(num, params); err != nil {
				t.Fatal(err)
			}
		}
		set := b.Finish()
		packedID, strID := jobID(t, "packed"), jobID(t, "strings")
		job := store.Job{AppID: testApp, TemplateID: "1001", Priority: store.PriorityBulk}
		job.ID = packedID
		if created, err := e.c.createJob(ctx, job, set, 2); err != nil || !created {
			t.Fatalf("createJob = %v, %v", created, err)
		}
		var batches []store.NewBatch
		for bt := range set.Batches() {
			batches = append(batches, store.NewBatch(bt))
		}
		job.ID = strID
		if created, err := e.c.Store().CreateJob(ctx, job, set.ParamSets(), batches, 2); err != nil || !created {
			t.Fatalf("CreateJob = %v, %v", created, err)
		}
		a, _ := e.c.Status(ctx, packedID)
		if a.Total != 2500 || a.Batches != int64(len(batches)) || a.Rejected != 2 || len(batches) <= 500 {
			t.Fatalf("status %+v (%d batches)", a, len(batches))
		}
		for i := range batches {
			p, err1 := e.c.Store().Claim(ctx, packedID, i, "tok")
			s, err2 := e.c.Store().Claim(ctx, strID, i, "tok")
			if err1 != nil || err2 != nil || p.Outcome != store.Claimed || s.Outcome != store.Claimed {
				t.Fatalf("claim %d: %v %v %v %v", i, p.Outcome, err1, s.Outcome, err2)
			}
			if !slices.Equal(p.Numbers, s.Numbers) || !slices.Equal(p.Params, s.Params) || p.Intl != s.Intl ||
				!slices.Equal(p.Indexes, s.Indexes) || !slices.Equal(p.Numbers, batches[i].Numbers) {
				t.Fatalf("batch %d: packed %+v, strings %+v", i, p, s)
			}
		}
	})
}
