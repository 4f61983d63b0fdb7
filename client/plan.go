package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsdispatch/smsdispatch/recipients"
)

// Plan is what Send would store for a request, found without storing or enqueueing anything:
// the recipients normalised, deduplicated and batched exactly as Send does.
type Plan struct {
	Accepted, Duplicates, Rejected int
	Batches                        int
	// Groups are the accepted numbers by param set and by domestic (+86) or international, in
	// batch order: what a segment estimate needs.
	Groups []PlanGroup
}

// PlanGroup is the accepted numbers of a plan that share one param set and one side (domestic or
// international).
type PlanGroup struct {
	Params  []string // the template params these numbers are sent with
	Intl    bool
	Numbers int
	Batches int
}

// DryRun validates req and builds its batches like Send, without Redis: nothing is stored or
// enqueued, and an existing job under req.JobID is not looked up. The app id may be left empty
// (a plan does not need it). req.OnReject is called for every rejected line, as by Send. Errors
// are those of Send's validation: a *FieldError ("Recipients" when no recipient is valid, with
// the Plan counting the rejections; "Encoding" when some input is not valid text in its
// encoding), or a read error of req.Reader.
func DryRun(ctx context.Context, req Request, opts Options) (Plan, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return Plan{}, err
	}
	c := &Client{opts: opts, now: time.Now}
	if req.AppID == "" && opts.AppID == "" {
		req.AppID = "0" // a plan sends nothing: any app id passes validation
	}
	sp, err := c.job(req, c.now())
	if err != nil {
		return Plan{}, err
	}
	b, err := recipients.NewBuilder(recipients.Options{
		Region: sp.region, Params: req.Params, MaxBatch: opts.MaxBatch, MaxRecipients: opts.MaxRecipients,
		Encoding: sp.encoding,
	})
	if err != nil {
		return Plan{}, fmt.Errorf("client: %w", err)
	}
	var p Plan
	badText, first := 0, ""
	onErr := func(le LineError) {
		p.Rejected++
		if errors.Is(le.Err, recipients.ErrEncoding) {
			if badText == 0 {
				first = fmt.Sprintf("%d is %s", le.Line, le.Reason)
			}
			badText++
		}
		if req.OnReject != nil {
			req.OnReject(le)
		}
	}
	if len(req.Recipients) > 0 {
		if err := b.AddRecipients(ctx, req.Recipients, onErr); err != nil {
			return p, recipientsErr(err)
		}
	}
	if req.Reader != nil {
		if err := b.AddCSV(ctx, req.Reader, onErr); err != nil {
			return p, recipientsErr(err)
		}
	}
	if badText > 0 {
		return p, &FieldError{Field: "Encoding", Reason: fmt.Sprintf("line %s (%s): the input is in another encoding",
			first, count(badText, "such line"))}
	}
	stats := b.Stats()
	p.Accepted, p.Duplicates = stats.Accepted, stats.Duplicates
	set := b.Finish()
	if stats.Accepted == 0 {
		return p, &FieldError{Field: "Recipients", Reason: fmt.Sprintf("no valid recipients (%d rejected, %d duplicates)", stats.Rejected, stats.Duplicates)}
	}
	p.Batches = set.NumBatches()
	params := set.ParamSets()
	var buf []uint64
	lastSet := -1
	for i := range p.Batches {
		bt := set.PackedBatch(i, buf)
		buf = bt.Packed
		if n := len(p.Groups); n == 0 || p.Groups[n-1].Intl != bt.Intl || lastSet != bt.ParamSet {
			p.Groups = append(p.Groups, PlanGroup{Params: params[bt.ParamSet], Intl: bt.Intl})
			lastSet = bt.ParamSet
		}
		g := &p.Groups[len(p.Groups)-1]
		g.Numbers += len(bt.Packed)
		g.Batches++
	}
	return p, nil
}
