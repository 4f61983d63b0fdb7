package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func statusIDs(sts []Status) []string {
	ids := make([]string, len(sts))
	for i, st := range sts {
		ids[i] = st.ID
	}
	return ids
}

// TestRecentJobs: newest first, filtered by app and state, limited; jobs whose records are gone
// leave the index.
func TestRecentJobs(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for i, id := range []string{"a1", "b1", "a2", "a3"} {
			job := testJob(id)
			job.CreatedAt = e.clock.Now()
			if id[0] == 'b' {
				job.AppID = "1400000002"
			}
			e.create(t, job, 2, 2)
			if i == 2 {
				c := e.mustClaim(t, id, 0, "t")
				e.commit(t, id, 0, "t", allSent(id, 0, c))
			}
			e.advance(time.Second)
		}
		cases := []struct {
			name string
			f    JobFilter
			want []string
		}{
			{"all", JobFilter{}, []string{"a3", "a2", "b1", "a1"}},
			{"limit", JobFilter{Limit: 2}, []string{"a3", "a2"}},
			{"app", JobFilter{App: testApp}, []string{"a3", "a2", "a1"}},
			{"other app", JobFilter{App: "1400000002"}, []string{"b1"}},
			{"state", JobFilter{States: []JobState{StateDelivering, StateDone}}, []string{"a2"}},
			{"state and app", JobFilter{App: "1400000002", States: []JobState{StateRunning}}, []string{"b1"}},
			{"none", JobFilter{App: "1400000009"}, nil},
		}
		for _, c := range cases {
			got, err := e.s.RecentJobs(ctx, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if ids := statusIDs(got); !slices.Equal(ids, c.want) {
				t.Errorf("%s: %v, want %v", c.name, ids, c.want)
			}
		}
		all, _ := e.s.RecentJobs(ctx, JobFilter{})
		if all[1].Sent != 2 || all[1].Total != 2 || all[0].Pending != 2 {
			t.Errorf("counts: %+v / %+v", countsOf(all[1]), countsOf(all[0]))
		}

		// a1's records go: RecentJobs prunes it; CreateJob prunes what is older than retention.
		if err := e.rdb.Del(ctx, e.jobKeysOf(t, "a1")...).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := e.s.RecentJobs(ctx, JobFilter{})
		if err != nil || !slices.Equal(statusIDs(got), []string{"a3", "a2", "b1"}) {
			t.Fatalf("after a1 went: %v, %v", statusIDs(got), err)
		}
		if n := e.rdb.ZCard(ctx, recentKey).Val(); n != 3 {
			t.Errorf("index holds %d members, want 3", n)
		}
		if err := e.rdb.Del(ctx, e.jobKeysOf(t, "b1")...).Err(); err != nil {
			t.Fatal(err)
		}
		e.advance(DefaultRetention + time.Hour)
		job := testJob("new")
		job.CreatedAt = e.clock.Now()
		e.create(t, job, 1, 1)
		members := e.rdb.ZRange(ctx, recentKey, 0, -1).Val()
		if !slices.Equal(members, []string{"a2", "a3", "new"}) {
			t.Errorf("index after CreateJob pruned: %v, want [a2 a3 new]", members)
		}
		if ttl := e.rdb.PTTL(ctx, recentKey).Val(); ttl != -1 {
			t.Errorf("index TTL %v, want none", ttl)
		}
	})
}

// TestHourlyCounts: sends, failures, fees and receipts are counted in the Beijing hour of their
// send, per app, summed over jobs; hours without activity are zero rows.
func TestHourlyCounts(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		h0 := redistest.T0.Truncate(time.Hour) // 09:00 UTC, 17:00 Beijing
		for _, id := range []string{"j1", "j2", "other"} {
			job := testJob(id)
			job.CreatedAt = e.clock.Now()
			if id == "other" {
				job.AppID = "1400000002"
			}
			e.create(t, job, 6, 3)
		}
		// j1 batch 0 in hour 0: two sent (fee 1, 2), one failed.
		c := e.mustClaim(t, "j1", 0, "t")
		rs := []NumberResult{
			{Index: c.Indexes[0], State: Sent, SerialNo: "s0", Fee: 1},
			{Index: c.Indexes[1], State: Sent, SerialNo: "s1", Fee: 2},
			{Index: c.Indexes[2], State: Failed, Code: "X"},
		}
		if err := e.s.IndexSerials(ctx, "j1", 0, rs); err != nil {
			t.Fatal(err)
		}
		e.commit(t, "j1", 0, "t", rs)
		// j2 batch 0 in hour 0 too; the other app's likewise.
		for _, id := range []string{"j2", "other"} {
			c := e.mustClaim(t, id, 0, "t")
			e.commit(t, id, 0, "t", allSent(id, 0, c))
		}
		// An hour and a half later: j1 batch 1 sent with an unknown, and receipts for hour 0.
		e.advance(90 * time.Minute)
		c = e.mustClaim(t, "j1", 1, "t")
		e.commit(t, "j1", 1, "t", []NumberResult{
			{Index: 0, State: Sent, SerialNo: "s3", Fee: 1},
			{Index: 1, State: Unknown},
			{Index: 2, State: Sent, SerialNo: "s5", Fee: 1},
		})
		e.saveAndApply(t, []Receipt{
			{SerialNo: "s0", PhoneNumber: nums(0, 1)[0], Status: ReceiptSuccess, ReceivedAt: e.clock.Now()},
			{SerialNo: "s1", PhoneNumber: nums(1, 1)[0], Status: "FAIL", ReceivedAt: e.clock.Now()},
		})
		// Reconcile settles the unknown later: it counts in the hour it was sent (hour 1).
		e.advance(2 * time.Hour)
		if err := e.s.SettleUnknown(ctx, "j1", 1, []NumberResult{{Index: 1, State: Sent, Fee: 3}}); err != nil {
			t.Fatal(err)
		}

		got, err := e.s.HourlyCounts(ctx, testApp, h0.Add(-time.Hour), h0.Add(2*time.Hour+time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want := []HourCount{
			{Hour: h0.Add(-time.Hour)},
			{Hour: h0, Sent: 2 + 3, Failed: 1, Delivered: 1, Undelivered: 1, Fee: 3 + 3},
			{Hour: h0.Add(time.Hour), Sent: 3, Fee: 1 + 1 + 3},
			{Hour: h0.Add(2 * time.Hour)},
		}
		if len(got) != len(want) {
			t.Fatalf("%d hours, want %d: %+v", len(got), len(want), got)
		}
		for i := range want {
			g := got[i]
			if !g.Hour.Equal(want[i].Hour) || g.Hour.Location() != Beijing {
				t.Errorf("hour %d: %v, want %v in Beijing time", i, g.Hour, want[i].Hour)
			}
			g.Hour = want[i].Hour
			if g != want[i] {
				t.Errorf("hour %d:\n got %+v\nwant %+v", i, g, want[i])
			}
		}
		if got[1].Hour.Hour() != 17 {
			t.Errorf("hour 1 starts at %v, want 17:00 Beijing", got[1].Hour)
		}
		all, err := e.s.HourlyCounts(ctx, "", h0, h0)
		if err != nil || len(all) != 1 || all[0].Sent != 2+3+3 {
			t.Errorf("every app: %+v, %v; want 8 sent", all, err)
		}
		other, err := e.s.HourlyCounts(ctx, "1400000002", h0, h0)
		if err != nil || len(other) != 1 || other[0].Sent != 3 || other[0].Failed != 0 {
			t.Errorf("other app: %+v, %v; want 3 sent", other, err)
		}
		if _, err := e.s.HourlyCounts(ctx, "", h0, h0.Add(-time.Hour)); err == nil {
			t.Error("to before from: no error")
		}
		if _, err := e.s.HourlyCounts(ctx, "", h0, h0.Add(63*24*time.Hour)); err == nil {
			t.Error("63 days: no error")
		}
	})
}
