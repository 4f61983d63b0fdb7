package store

import (
	"context"
)

// ActiveSummary sums the active jobs (the members of the active set whose state is not final),
// for metrics. Jobs still being created, and final jobs the sweeper has not dropped yet, are not
// counted.
type ActiveSummary struct {
	// Members is the size of the active set, read or not (see SummarizeActive's limit).
	Members int64
	// Read is how many members were read.
	Read int64
	// Jobs counts the jobs read by state; every non-final state has an entry, zero or not.
	Jobs map[JobState]int64
	// Unknown is the sum of the jobs' unknown numbers (sent or not: reconcile must tell).
	Unknown int64
	// Outstanding is the sum of the jobs' sent numbers without a receipt yet
	// (sent - delivered - undelivered).
	Outstanding int64
}

// summaryChunk is how many job hashes SummarizeActive reads per round trip.
const summaryChunk = 500

// SummarizeActive reads the oldest limit members of the active set (all when limit <= 0) and
// sums them. Unlike ActiveJobs and Status it only reads: it changes no TTL and removes nothing.
func (s *Store) SummarizeActive(ctx context.Context, limit int) (ActiveSummary, error) {
	sum := ActiveSummary{Jobs: map[JobState]int64{}}
	for _, info := range JobStates {
		if !info.Final {
			sum.Jobs[info.State] = 0
		}
	}
	n, err := s.rdb.ZCard(ctx, activeKey).Result()
	if err != nil {
		return sum, wrap("summarize active jobs", err)
	}
	sum.Members = n
	if limit > 0 && int64(limit) < n {
		n = int64(limit)
	}
	halted := map[string]bool{}
	halts, err := s.Halts(ctx)
	if err != nil {
		return sum, err
	}
	for _, h := range halts {
		halted[h.App] = true
	}
	for from := int64(0); from < n; from += summaryChunk {
		ids, err := s.rdb.ZRange(ctx, activeKey, from, min(from+summaryChunk, n)-1).Result()
		if err != nil {
			return sum, wrap("summarize active jobs", err)
		}
		hs, err := s.jobHashes(ctx, ids)
		if err != nil {
			return sum, wrap("summarize active jobs", err)
		}
		sum.Read += int64(len(ids))
		for i, id := range ids {
			h := hs[i]
			if len(h) == 0 || h["ready"] != "1" {
				continue
			}
			st := s.deriveStatus(id, h, halted[h["app"]])
			if st.Final {
				continue
			}
			sum.Jobs[st.State]++
			sum.Unknown += st.Unknown
			sum.Outstanding += max(0, st.Sent-st.Delivered-st.Undelivered)
		}
		if len(ids) < summaryChunk {
			break
		}
	}
	return sum, nil
}
