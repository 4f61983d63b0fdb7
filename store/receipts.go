package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Receipt is one delivery receipt pulled from Tencent (PullSmsSendStatus).
type Receipt struct {
	SerialNo, PhoneNumber, Status, Description, SessionContext string // Status "SUCCESS" | "FAIL"
	ReceivedAt                                                 time.Time
}

// ReceiptSuccess is the Status of a delivered receipt; any other status counts as undelivered.
const ReceiptSuccess = "SUCCESS"

// receiptJSON is the stored form of a Receipt (compact, deterministic: equal receipts encode
// equally, so the per-number evidence set deduplicates them).
type receiptJSON struct {
	SerialNo       string `json:"sn,omitempty"`
	PhoneNumber    string `json:"ph"`
	Status         string `json:"st"`
	Description    string `json:"d,omitempty"`
	SessionContext string `json:"sc,omitempty"`
	ReceivedAt     int64  `json:"t"` // unix ms
}

func toJSON(r Receipt) receiptJSON {
	return receiptJSON{r.SerialNo, r.PhoneNumber, r.Status, r.Description, r.SessionContext, msOf(r.ReceivedAt)}
}

func fromJSON(r receiptJSON) Receipt {
	return Receipt{r.SerialNo, r.PhoneNumber, r.Status, r.Description, r.SessionContext, timeOf(r.ReceivedAt)}
}

// SaveReceiptPage persists a raw pulled page (one write) before it is applied. The page id sorts
// by save time. A saved page does not expire: it stays until ApplyReceiptPage has applied it.
func (s *Store) SaveReceiptPage(ctx context.Context, app string, page []Receipt) (pageID string, err error) {
	if err := checkID("app id", app); err != nil {
		return "", err
	}
	recs := make([]receiptJSON, len(page))
	for i, r := range page {
		recs[i] = toJSON(r)
	}
	b, err := json.Marshal(recs)
	if err != nil {
		return "", fmt.Errorf("store: save receipt page of %s: %w", app, err)
	}
	pageID = fmt.Sprintf("%013d-%s", s.now().UnixMilli(), newToken()[:16])
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, inboxKey(app), pageID, b)
		p.Persist(ctx, inboxKey(app)) // a page is kept until applied; the hash goes when empty
		return nil
	})
	if err != nil {
		return "", wrap("save receipt page of "+app, err)
	}
	return pageID, nil
}

// SavedPage is a receipt page saved and not yet applied.
type SavedPage struct {
	ID       string
	Receipts []Receipt
}

// SavedReceiptPages returns the app's pages saved but not applied yet (a puller that crashed
// between save and apply), oldest first.
func (s *Store) SavedReceiptPages(ctx context.Context, app string) ([]SavedPage, error) {
	if err := checkID("app id", app); err != nil {
		return nil, err
	}
	h, err := s.rdb.HGetAll(ctx, inboxKey(app)).Result()
	if err != nil {
		return nil, wrap("saved receipt pages of "+app, err)
	}
	out := make([]SavedPage, 0, len(h))
	for id, raw := range h {
		var recs []receiptJSON
		if err := json.Unmarshal([]byte(raw), &recs); err != nil {
			return nil, fmt.Errorf("store: saved receipt page %s of %s: %w", id, app, err)
		}
		p := SavedPage{ID: id, Receipts: make([]Receipt, len(recs))}
		for i, r := range recs {
			p.Receipts[i] = fromJSON(r)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b SavedPage) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ApplyStats counts what ApplyReceiptPage did with a page.
type ApplyStats struct{ Applied, Duplicate, Unmatched int }

// receiptTarget is a receipt matched to a job's batch.
type receiptTarget struct {
	receipt int // index in the page
	batch   int
	idx     int    // -1: find by number
	packed  string // "" when the receipt's number is not usable
}

// receiptNumber normalises a receipt's phone number to E.164 ("" when it is not a number).
func receiptNumber(s string) (e164, packed string) {
	if s != "" && s[0] != '+' {
		s = "+" + s
	}
	p, err := packedOf(s)
	if err != nil {
		return "", ""
	}
	return s, p
}

// ApplyReceiptPage applies every receipt exactly once (a second application changes nothing):
// by SerialNo index; else by SessionContext "<job>|<batch>|<attempt>" + number; else recorded as
// unmatched (counted per app, and kept by number as evidence for unknowns). Then deletes the page.
// The serial index is searched from the day after the receipt's ReceivedAt back over the
// retention (every day bucket when ReceivedAt is zero): a serial indexed more than a day after
// the day of its receipt is not found.
//
// Each step is idempotent, so concurrent or repeated appliers of one page never double-count: the
// serial lookup is a read; each job's receipts are applied by one script that moves a number's
// state byte only from sent/unknown/in-flight to delivered/undelivered (a repeat finds D/U and is
// a Duplicate); the evidence set deduplicates equal receipts; and the unmatched count is added by
// the same script that deletes the page, so only the applier that deletes it counts them.
func (s *Store) ApplyReceiptPage(ctx context.Context, app string, page SavedPage) (ApplyStats, error) {
	if err := checkID("app id", app); err != nil {
		return ApplyStats{}, err
	}
	if page.ID == "" {
		return ApplyStats{}, invalidf("receipt page of %s has no ID: save it with SaveReceiptPage first", app)
	}
	op := "apply receipt page " + page.ID + " of " + app
	var stats ApplyStats
	matched := make([]bool, len(page.Receipts))

	// Step 1: serial index lookups (pipelined HMGETs over the day buckets the serials can be in,
	// bounded by each receipt's time).
	serials := make([]string, len(page.Receipts))
	times := make([]time.Time, len(page.Receipts))
	for i, r := range page.Receipts {
		serials[i], times[i] = r.SerialNo, r.ReceivedAt
	}
	entries, err := s.lookupSerials(ctx, serials, times)
	if err != nil {
		return ApplyStats{}, wrap(op+": serial lookup", err)
	}
	byJob := map[string][]receiptTarget{}
	var jobs []string
	add := func(job string, t receiptTarget) {
		if _, ok := byJob[job]; !ok {
			jobs = append(jobs, job)
		}
		byJob[job] = append(byJob[job], t)
	}
	for i, r := range page.Receipts {
		_, packed := receiptNumber(r.PhoneNumber)
		if e := entries[i]; e.ok {
			if job, batch, idx, ok := splitRef(e.value); ok {
				add(job, receiptTarget{receipt: i, batch: batch, idx: idx, packed: packed})
				continue
			}
		}
		if job, batch, _, ok := splitRef(r.SessionContext); ok && packed != "" {
			add(job, receiptTarget{receipt: i, batch: batch, idx: -1, packed: packed})
		}
	}

	// Step 2: one script per job applies its receipts.
	for _, job := range jobs {
		ts := byJob[job]
		keys := []string{jobKey(job)}
		pos := map[int]int{}
		args := []any{s.retentionArg(), s.now().UnixMilli()}
		for _, t := range ts {
			k, ok := pos[t.batch]
			if !ok {
				keys = append(keys, batchKey(job, t.batch))
				k = len(keys)
				pos[t.batch] = k
			}
			r := page.Receipts[t.receipt]
			st := "U"
			if r.Status == ReceiptSuccess {
				st = "D"
			}
			ms := ""
			if !r.ReceivedAt.IsZero() {
				ms = strconv.FormatInt(r.ReceivedAt.UnixMilli(), 10)
			}
			args = append(args, k, t.idx, t.packed, st, ms, receiptLine(r), lineText(r.SerialNo))
		}
		v, err := receiptsScript.Run(ctx, s.rdb, keys, args...).Slice()
		if err != nil {
			return ApplyStats{}, wrap(op+": job "+job, err)
		}
		for i, t := range ts {
			switch replyInt(v[i]) {
			case 1:
				stats.Applied++
				matched[t.receipt] = true
			case 0:
				stats.Duplicate++
				matched[t.receipt] = true
			}
		}
	}

	// Step 3: unmatched receipts become evidence by number (a set: idempotent).
	unmatched := 0
	seen := []any{page.ID, s.retentionArg()} // pageDoneScript's ARGV: the identities follow
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range page.Receipts {
			if matched[i] {
				continue
			}
			unmatched++
			seen = append(seen, unmatchedIdentity(r))
			e164, _ := receiptNumber(r.PhoneNumber)
			if e164 == "" {
				continue
			}
			rec := toJSON(r)
			rec.PhoneNumber = e164
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			p.SAdd(ctx, umNumberKey(e164), b)
			p.PExpire(ctx, umNumberKey(e164), s.opts.Retention)
		}
		return nil
	}); err != nil {
		return ApplyStats{}, wrap(op+": unmatched evidence", err)
	}

	// Step 4: delete the page; the applier that deletes it counts its unmatched receipts not
	// counted before.
	res, err := pageDoneScript.Run(ctx, s.rdb, []string{inboxKey(app), unmatchedKey(app), unmatchedSeenKey(app)},
		seen...).Int64Slice()
	if err != nil || len(res) != 2 {
		return ApplyStats{}, wrap(op+": finish", errors.Join(err, replyLen(res, 2)))
	}
	stats.Unmatched = int(res[1])
	stats.Duplicate += unmatched - stats.Unmatched
	return stats, nil
}

// unmatchedIdentity names an unmatched receipt for counting it once: its SerialNo, else its
// number and receive time.
func unmatchedIdentity(r Receipt) string {
	if r.SerialNo != "" {
		return r.SerialNo
	}
	return r.PhoneNumber + "|" + strconv.FormatInt(r.ReceivedAt.UnixMilli(), 10)
}

// replyLen is an error when a script's reply does not have n elements (nil when it does or
// when there is no reply, as after an error).
func replyLen(res []int64, n int) error {
	if res == nil || len(res) == n {
		return nil
	}
	return fmt.Errorf("script reply has %d elements, want %d", len(res), n)
}

// UnmatchedReceipts returns the receipts for number that matched no send, received at or after
// since, oldest first: evidence for numbers whose send outcome is unknown.
func (s *Store) UnmatchedReceipts(ctx context.Context, number string, since time.Time) ([]Receipt, error) {
	if _, err := ParseE164(number); err != nil {
		return nil, err
	}
	members, err := s.rdb.SMembers(ctx, umNumberKey(number)).Result()
	if err != nil {
		return nil, wrap("unmatched receipts of "+MaskNumber(number), err)
	}
	var out []Receipt
	for _, m := range members {
		var r receiptJSON
		if err := json.Unmarshal([]byte(m), &r); err != nil {
			return nil, fmt.Errorf("store: unmatched receipt of %s: %w", MaskNumber(number), err)
		}
		rec := fromJSON(r)
		if !rec.ReceivedAt.Before(since) {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b Receipt) int {
		if c := a.ReceivedAt.Compare(b.ReceivedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SerialNo, b.SerialNo)
	})
	return out, nil
}

// UnmatchedCount returns how many receipts of the app matched no send.
func (s *Store) UnmatchedCount(ctx context.Context, app string) (int64, error) {
	if err := checkID("app id", app); err != nil {
		return 0, err
	}
	v, err := s.rdb.Get(ctx, unmatchedKey(app)).Result()
	if isNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("unmatched count of "+app, err)
	}
	return strconv.ParseInt(v, 10, 64)
}
