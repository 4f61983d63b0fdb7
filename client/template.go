package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/smsdispatch/smsdispatch/recipients"
)

// TemplateChecker looks up the template a job names, so that Send can refuse at once a job that
// Tencent would fail later (an unknown or unapproved template, numbers of the wrong region, a
// wrong number of params). Set it in Options.Templates; nil checks nothing.
type TemplateChecker interface {
	// Template returns the template templateID of the account that owns appID. An unknown
	// template is an error wrapping ErrTemplateNotFound; any other error means the check could
	// not be made (Send then refuses the job, naming the error).
	Template(ctx context.Context, appID, templateID string) (Template, error)
}

// Template is what the check before accepting a job needs to know of a template.
type Template struct {
	ID, Name string
	// Approved reports whether the template may be sent; Status words its review state for
	// messages ("approved", "in review", "rejected: <the reviewer's reply>").
	Approved bool
	Status   string
	// Domestic: it may be sent to +86 numbers; International: to numbers outside mainland China.
	Domestic, International bool
	// Params is how many params a send must carry: the highest {n} placeholder of its content.
	Params int
	// Type is "otp", "notification" or "marketing", or "" when the lookup does not say (Tencent's
	// DescribeSmsTemplateList does not).
	Type string
}

// ErrTemplateNotFound is wrapped by a TemplateChecker's error for a template the account does
// not have.
var ErrTemplateNotFound = errors.New("template not found")

// ErrTemplateRefused is matched (errors.Is) by every *TemplateError.
var ErrTemplateRefused = errors.New("client: job refused by the template check")

// TemplateError is a job Send refused before storing it, because of its template.
type TemplateError struct {
	TemplateID string
	Name       string // the template's name, when it was found
	Reason     string
	Err        error // the lookup's error, when the template could not be looked up
}

func (e *TemplateError) Error() string {
	s := "template " + e.TemplateID
	if e.Name != "" {
		s += fmt.Sprintf(" (%q)", e.Name)
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether target is ErrTemplateRefused.
func (e *TemplateError) Is(target error) bool { return target == ErrTemplateRefused }

// Unwrap returns the lookup's error.
func (e *TemplateError) Unwrap() error { return e.Err }

// lookupTemplate looks the job's template up and refuses an unknown or unapproved one.
func (c *Client) lookupTemplate(ctx context.Context, appID, templateID string) (Template, error) {
	t, err := c.opts.Templates.Template(ctx, appID, templateID)
	switch {
	case errors.Is(err, ErrTemplateNotFound):
		return Template{}, &TemplateError{TemplateID: templateID,
			Reason: "unknown: the account has no such domestic or international template"}
	case err != nil:
		return Template{}, &TemplateError{TemplateID: templateID, Reason: "cannot be looked up", Err: err}
	case !t.Approved:
		status := t.Status
		if status == "" {
			status = "not approved"
		}
		return Template{}, &TemplateError{TemplateID: templateID, Name: t.Name,
			Reason: "not approved (" + status + "): Tencent sends only approved templates"}
	}
	return t, nil
}

// checkRecipients refuses a job whose numbers the template cannot be sent to, or whose param
// sets do not match its placeholders.
func checkRecipients(t Template, set *recipients.Set) error {
	refuse := func(format string, args ...any) error {
		return &TemplateError{TemplateID: t.ID, Name: t.Name, Reason: fmt.Sprintf(format, args...)}
	}
	var domestic, intl int
	usedSets := map[int]bool{}
	var buf []uint64
	for i := range set.NumBatches() {
		b := set.PackedBatch(i, buf)
		buf = b.Packed
		if b.Intl {
			intl += len(b.Packed)
		} else {
			domestic += len(b.Packed)
		}
		usedSets[b.ParamSet] = true
	}
	switch {
	case intl > 0 && !t.International:
		return refuse("a domestic template (for +86 numbers only), but %s outside mainland China", areNumbers(intl))
	case domestic > 0 && !t.Domestic:
		return refuse("an international template (not for +86 numbers), but %s +86", areNumbers(domestic))
	}
	sets := set.ParamSets()
	for pi := range sets {
		if !usedSets[pi] || len(sets[pi]) == t.Params {
			continue
		}
		return refuse("takes %s ({1}..{%d}), but the job gives %s %s",
			count(t.Params, "param"), t.Params, count(len(sets[pi]), "param"), quoteParams(sets[pi]))
	}
	return nil
}

// areNumbers renders "1 number is", "3 numbers are".
func areNumbers(n int) string {
	if n == 1 {
		return "1 number is"
	}
	return count(n, "number") + " are"
}

// quoteParams renders params for a message: ["a", "b"], the first 5 only.
func quoteParams(ps []string) string {
	q := make([]string, 0, min(len(ps), 5))
	for _, p := range ps[:min(len(ps), 5)] {
		q = append(q, fmt.Sprintf("%q", p))
	}
	if len(ps) > 5 {
		q = append(q, "...")
	}
	return "[" + strings.Join(q, ", ") + "]"
}
