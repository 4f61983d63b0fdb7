package client

import (
	"context"
	"fmt"
	"slices"

	"github.com/smsdispatch/smsdispatch/store"
)

// ListFilter selects the jobs List returns. The zero value lists the newest
// store.DefaultJobListLimit jobs of every app.
type ListFilter struct {
	App    string           // only jobs of this SmsSdkAppId
	States []store.JobState // only jobs in one of these states
	Limit  int              // at most this many (0: store.DefaultJobListLimit)
}

// List returns the recent jobs (those whose records have not expired) with their counts, newest
// first. The error wraps ErrInvalidRequest for an unknown state or a negative limit.
func (c *Client) List(ctx context.Context, f ListFilter) ([]store.Status, error) {
	for _, s := range f.States {
		if !slices.ContainsFunc(store.JobStates, func(i store.JobStateInfo) bool { return i.State == s }) {
			return nil, &FieldError{Field: "state", Reason: fmt.Sprintf("%q is not a job state", s)}
		}
	}
	if f.Limit < 0 {
		return nil, &FieldError{Field: "limit", Reason: fmt.Sprintf("%d is negative", f.Limit)}
	}
	sts, err := c.store.RecentJobs(ctx, store.JobFilter{App: f.App, States: f.States, Limit: f.Limit})
	if err != nil {
		return nil, fmt.Errorf("client: list jobs: %w", err)
	}
	return sts, nil
}
