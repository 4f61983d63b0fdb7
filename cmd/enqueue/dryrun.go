package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/recipients"
)

// dryRunReport is send --dry-run's output (--json prints it as one object).
type dryRunReport struct {
	DryRun        bool `json:"dry_run"` // always true: nothing was stored
	Recipients    int  `json:"recipients"`
	Domestic      int  `json:"domestic"`
	International int  `json:"international"`
	Batches       int  `json:"batches"`
	Rejected      int  `json:"rejected"`
	Duplicates    int  `json:"duplicates"`
	// The estimate from --content; absent without it.
	DomesticSegments      *segmentRange `json:"domestic_segments,omitempty"`
	InternationalSegments *segmentRange `json:"international_segments,omitempty"`
	// Segments is the estimated fee: the billed segments of every recipient, added up.
	Segments *int64 `json:"segments,omitempty"`
}

// segmentRange is the segments (and billed characters) per number of one side, from the
// smallest to the largest message (params differ between recipients).
type segmentRange struct {
	Min      int  `json:"min"`
	Max      int  `json:"max"`
	MinChars int  `json:"min_chars"`
	MaxChars int  `json:"max_chars"`
	GSM      bool `json:"gsm"` // every message of the side is GSM-7
}

func (r *segmentRange) add(c recipients.SegmentCount) *segmentRange {
	if r == nil {
		return &segmentRange{Min: c.Segments, Max: c.Segments, MinChars: c.Chars, MaxChars: c.Chars, GSM: c.GSM}
	}
	r.Min, r.Max = min(r.Min, c.Segments), max(r.Max, c.Segments)
	r.MinChars, r.MaxChars = min(r.MinChars, c.Chars), max(r.MaxChars, c.Chars)
	r.GSM = r.GSM && c.GSM
	return r
}

func (r *segmentRange) String() string {
	span := func(a, b int) string {
		if a == b {
			return strconv.Itoa(a)
		}
		return fmt.Sprintf("%d-%d", a, b)
	}
	enc := "UCS-2"
	if r.GSM {
		enc = "GSM-7"
	}
	unit := "segment"
	if r.Max > 1 {
		unit += "s"
	}
	return fmt.Sprintf("%s %s per number (%s characters, %s)", span(r.Min, r.Max), unit, span(r.MinChars, r.MaxChars), enc)
}

// newDryRunReport summarises a plan; with content (the template's text, {1}... for its params)
// it estimates the segments of each message, the sign in front of domestic ones.
func newDryRunReport(p client.Plan, sign, content string) dryRunReport {
	r := dryRunReport{DryRun: true, Recipients: p.Accepted, Batches: p.Batches, Rejected: p.Rejected, Duplicates: p.Duplicates}
	var total int64
	for _, g := range p.Groups {
		if g.Intl {
			r.International += g.Numbers
		} else {
			r.Domestic += g.Numbers
		}
		if content == "" {
			continue
		}
		c := recipients.Segments(recipients.MessageText(sign, fillTemplate(content, g.Params), g.Intl), g.Intl)
		total += int64(c.Segments) * int64(g.Numbers)
		if g.Intl {
			r.InternationalSegments = r.InternationalSegments.add(c)
		} else {
			r.DomesticSegments = r.DomesticSegments.add(c)
		}
	}
	if content != "" {
		r.Segments = &total
	}
	return r
}

// fillTemplate puts params into a template's {1}, {2}, ... placeholders.
func fillTemplate(content string, params []string) string {
	if len(params) == 0 {
		return content
	}
	pairs := make([]string, 0, 2*len(params))
	for i, p := range params {
		pairs = append(pairs, "{"+strconv.Itoa(i+1)+"}", p)
	}
	return strings.NewReplacer(pairs...).Replace(content)
}

// print writes the report as JSON or as an aligned summary.
func (r dryRunReport) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "dry run\tnothing stored, nothing sent\n")
	fmt.Fprintf(tw, "recipients\t%d\t(%d domestic, %d international)\n", r.Recipients, r.Domestic, r.International)
	fmt.Fprintf(tw, "batches\t%d\n", r.Batches)
	fmt.Fprintf(tw, "rejected\t%d\n", r.Rejected)
	fmt.Fprintf(tw, "duplicates\t%d\n", r.Duplicates)
	if r.Segments == nil {
		fmt.Fprintf(tw, "segments\tunknown\t(pass --content with the template's text for an estimate)\n")
		return tw.Flush()
	}
	if r.DomesticSegments != nil {
		fmt.Fprintf(tw, "domestic\t%s\n", r.DomesticSegments)
	}
	if r.InternationalSegments != nil {
		fmt.Fprintf(tw, "international\t%s\n", r.InternationalSegments)
	}
	fmt.Fprintf(tw, "fee estimate\t%d\tsegments (billed segments of every recipient, added up)\n", *r.Segments)
	return tw.Flush()
}
