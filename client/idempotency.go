package client

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
)

// ErrIdempotencyMismatch is matched (errors.Is) by every *IdempotencyError: Request.JobID names
// a job that was created by a different request. Nothing was sent.
var ErrIdempotencyMismatch = errors.New("client: job id already used by a different request")

// Difference is one part of a request that differs from the request that created the job.
type Difference struct {
	// Field is the Request field: "TemplateID", "Params", "SignName", "AppID", "SenderID",
	// "ExtendCode", "Priority", "SendAt", "Expire", "DeferDailyLimit", "Window" (with its time
	// zone) or "Recipients".
	Field string
	// Job and Request describe the two values (for Params only that they differ; for Recipients
	// the counts of accepted recipients).
	Job, Request string
}

// IdempotencyError is Send's error when Request.JobID names an existing job whose request
// differs from this one (the rule of Stripe's idempotency keys: the same key with other
// parameters is an error, not a silent replay). Nothing new was sent.
type IdempotencyError struct {
	JobID       string
	Differences []Difference // in the order of fingerprintFields
}

// Fields returns the Request fields that differ.
func (e *IdempotencyError) Fields() []string {
	out := make([]string, len(e.Differences))
	for i, d := range e.Differences {
		out[i] = d.Field
	}
	return out
}

func (e *IdempotencyError) Error() string {
	parts := make([]string, len(e.Differences))
	for i, d := range e.Differences {
		parts[i] = d.Field + " (job: " + d.Job + "; this request: " + d.Request + ")"
	}
	return fmt.Sprintf("client: job %s already exists for a different request: %s differ; nothing new sent (send the same request to get the job, or use another job id)",
		e.JobID, strings.Join(parts, ", "))
}

// Is reports whether target is ErrIdempotencyMismatch.
func (e *IdempotencyError) Is(target error) bool { return target == ErrIdempotencyMismatch }

// fingerprintVersion is the "v" of the fingerprints Send stores.
const fingerprintVersion = "1"

// fingerprintFields are the parts of a request fingerprint, in the order differences are named.
var fingerprintFields = []string{"TemplateID", "Params", "SignName", "AppID", "SenderID", "ExtendCode",
	"Priority", "SendAt", "Expire", "DeferDailyLimit", "Window", "Recipients"}

// maxPlainPart is the longest value a fingerprint keeps as it is; longer ones are kept as a
// digest (the store bounds the whole fingerprint).
const maxPlainPart = 64

// fingerprint is the request fingerprint of a job: Request field -> value. It holds the values
// that decide what is sent, after defaults (Options' AppID, SignName, ...; the otp expiry):
// SendAt and Expire as requested (not the absolute times, which depend on when the request
// came), Params as a digest, Recipients as recipients.Set.Digest (the set of accepted numbers
// with their own params: order, notation, duplicates and rejected lines do not count).
type fingerprint map[string]string

func newFingerprint(job store.Job, req Request, expire time.Duration, recipients string) fingerprint {
	sendAt := ""
	if !req.SendAt.IsZero() {
		sendAt = req.SendAt.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
	}
	exp := "never"
	if expire > 0 {
		exp = expire.String()
	}
	fp := fingerprint{
		"v":               fingerprintVersion,
		"TemplateID":      job.TemplateID,
		"Params":          paramsDigest(req.Params),
		"SignName":        job.SignName,
		"AppID":           job.AppID,
		"SenderID":        job.SenderID,
		"ExtendCode":      job.ExtendCode,
		"Priority":        job.Priority,
		"SendAt":          sendAt,
		"Expire":          exp,
		"DeferDailyLimit": strconv.FormatBool(job.DeferDailyLimit),
		"Window":          job.Window.String(),
		"Recipients":      recipients,
	}
	for k, v := range fp {
		if len(v) > maxPlainPart {
			fp[k] = "sha256:" + shortDigest([]byte(v))
		}
	}
	return fp
}

func paramsDigest(params []string) string {
	if params == nil {
		params = []string{}
	}
	b, _ := json.Marshal(params) // a []string always marshals
	return "sha256:" + shortDigest(b)
}

func shortDigest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// encode returns the fingerprint as stored (store.Job.Fingerprint): JSON with sorted keys.
func (fp fingerprint) encode() string {
	b, _ := json.Marshal(map[string]string(fp)) // a map[string]string always marshals
	return string(b)
}

// decodeFingerprint reads a stored fingerprint; ok=false for none or one of an unknown version
// (such a job is treated as one created before fingerprints).
func decodeFingerprint(s string) (fp fingerprint, ok bool) {
	if s == "" || json.Unmarshal([]byte(s), &fp) != nil || fp["v"] != fingerprintVersion {
		return nil, false
	}
	return fp, true
}

// diff lists the parts of req that differ from job's; parts job's fingerprint lacks are not
// compared.
func (job fingerprint) diff(req fingerprint) []Difference {
	var out []Difference
	for _, f := range fingerprintFields {
		jv, ok := job[f]
		if !ok || jv == req[f] {
			continue
		}
		d := Difference{Field: f, Job: show(jv), Request: show(req[f])}
		switch f {
		case "Params":
			d.Job, d.Request = "other params", "other params"
		case "Recipients":
			d.Job, d.Request = recipientCount(jv), recipientCount(req[f])
			if d.Job == d.Request {
				d.Job, d.Request = d.Job+" (other numbers or params)", d.Request+" (other numbers or params)"
			}
		}
		out = append(out, d)
	}
	return out
}

// show renders a fingerprint value for a message.
func show(v string) string {
	switch {
	case v == "":
		return "none"
	case strings.HasPrefix(v, "sha256:"):
		return "a long value"
	}
	return strconv.Quote(v)
}

// recipientCount renders the count of a recipients digest ("<count>:<hex>").
func recipientCount(digest string) string {
	n, _, ok := strings.Cut(digest, ":")
	if !ok {
		return "other recipients"
	}
	return n + " recipients"
}
