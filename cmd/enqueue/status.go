package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
)

// waitJob polls the job's status every interval, calling show with each, until its state is final
// or, with exitStatus, paused; timeout (0: none) bounds the wait. It returns the last status and:
// a jobFailedError when exitStatus is set and the job ended failed or cancelled, or is paused; a
// timeout error when timeout passed first; ctx's error when ctx ended.
func waitJob(ctx context.Context, c *client.Client, id string, every, timeout time.Duration, exitStatus bool,
	show func(store.Status)) (store.Status, error) {
	wctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var last store.Status
	stopped := func() (store.Status, error) {
		if ctx.Err() == nil && timeout > 0 { // the timeout, not the caller, ended the wait
			return last, fmt.Errorf("--timeout %v passed: job %s is still %s", timeout, id, last.State)
		}
		return last, fmt.Errorf("stopped waiting: %w", ctx.Err())
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := c.Status(wctx, id)
		switch {
		case err != nil && wctx.Err() != nil && last.ID != "":
			return stopped()
		case err != nil:
			return last, err
		}
		last = st
		show(st)
		switch {
		case exitStatus && (st.State == store.StateFailed || st.State == store.StateCancelled):
			return st, jobFailedError{fmt.Errorf("job %s ended %s", id, st.State)}
		case st.State.Final():
			return st, nil
		case exitStatus && st.State == store.StatePaused:
			return st, jobFailedError{fmt.Errorf("job %s is paused: its app %s is halted (enqueue resume --app %s ends the halt)", id, st.AppID, st.AppID)}
		}
		select {
		case <-wctx.Done():
			return stopped()
		case <-t.C:
		}
	}
}

// printWhy explains the state of a job after its counts: the halt of its app, when it is (or was)
// to be sent and when it expires, its template and sign, and the code that stopped it.
func (a *app) printWhy(ctx context.Context, s *store.Store, st store.Status) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	job, err := s.Job(ctx, st.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		fmt.Fprintf(tw, "template\t%s\tsign %s\n", job.TemplateID, orNone(job.SignName))
		if !job.SendAt.IsZero() {
			fmt.Fprintf(tw, "send at\t%s\n", job.SendAt.Local().Format(time.RFC3339))
		}
		if !job.ExpiresAt.IsZero() {
			fmt.Fprintf(tw, "expires\t%s\t(numbers not sent by then fail with Expired)\n", job.ExpiresAt.Local().Format(time.RFC3339))
		}
	}
	if st.FatalCode != "" {
		fmt.Fprintf(tw, "stopped by\t%s\t%s\n", st.FatalCode, retry.Meaning(st.FatalCode))
	}
	if st.AppID != "" && !st.State.Final() {
		h, err := s.HaltOf(ctx, st.AppID)
		if err != nil {
			return err
		}
		if h != nil {
			fmt.Fprintf(tw, "app halted\t%s\t%s\n", h.Code, retry.Meaning(h.Code))
			fmt.Fprintf(tw, "  since\t%s\n", h.Since.Local().Format(time.RFC3339))
			if !h.ProbeAt.IsZero() {
				fmt.Fprintf(tw, "  next probe\t%s\t(or enqueue resume --app %s)\n", h.ProbeAt.Local().Format(time.RFC3339), st.AppID)
			}
		}
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// topFailureCodes is how many codes status lists under "failed by code" (--json lists all).
const topFailureCodes = 8

// printFailedByCode lists the most frequent failure codes, each with its count and meaning.
func printFailedByCode(w io.Writer, byCode map[string]int64) error {
	if len(byCode) == 0 {
		return nil
	}
	codes := sortedKeys(byCode)
	slices.SortStableFunc(codes, func(x, y string) int { return cmp.Compare(byCode[y], byCode[x]) })
	fmt.Fprintln(w, "failed by code:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, code := range codes[:min(len(codes), topFailureCodes)] {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", code, byCode[code], retry.Meaning(code))
	}
	if n := len(codes) - topFailureCodes; n > 0 {
		fmt.Fprintf(tw, "  (%d more codes: status --json lists every one)\n", n)
	}
	return tw.Flush()
}
