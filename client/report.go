package client

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
)

// ReportFilter selects the rows of Report. The zero value selects every recipient.
type ReportFilter struct {
	// States keeps the recipients in one of these states (store.RecipientStates); empty: all.
	States []string
	// Meaning explains a send code in one line (ReportRow.Meaning); nil: retry.Meaning.
	Meaning func(code string) string
}

// ReportRow is one recipient of a job's report.
type ReportRow struct {
	store.RecipientRecord
	// Meaning is a one-line explanation of Code ("" when Code is "").
	Meaning string
}

// Report calls fn with every recipient of the job that passes the filter, batch by batch as
// store.Recipients reads them, so a report of any size runs in bounded memory: nothing is
// collected. fn's error stops it and is returned. The error wraps store.ErrNotFound for an
// unknown (or expired) job and ErrInvalidRequest for an unknown state in the filter.
func (c *Client) Report(ctx context.Context, jobID string, f ReportFilter, fn func(ReportRow) error) error {
	for _, s := range f.States {
		if !slices.Contains(store.RecipientStates, s) {
			return &FieldError{Field: "state", Reason: fmt.Sprintf("%q is not a recipient state (%s)", s,
				strings.Join(store.RecipientStates, ", "))}
		}
	}
	meaning := f.Meaning
	if meaning == nil {
		meaning = retry.Meaning
	}
	err := c.store.Recipients(ctx, jobID, func(r store.RecipientRecord) error {
		if len(f.States) > 0 && !slices.Contains(f.States, r.State) {
			return nil
		}
		row := ReportRow{RecipientRecord: r}
		if r.Code != "" {
			row.Meaning = meaning(r.Code)
		}
		return fn(row)
	})
	if err != nil {
		return fmt.Errorf("client: report of %s: %w", jobID, err)
	}
	return nil
}

// Report formats.
const (
	ReportCSV  = "csv"  // RFC 4180 CSV, UTF-8, a header line first
	ReportJSON = "json" // JSON Lines: one object per recipient
)

// ReportColumns are the CSV header of a report, in order; the JSON objects use the same names.
var ReportColumns = []string{"number", "state", "serial_no", "code", "meaning", "fee", "receipt_status",
	"receipt_description", "sent_at", "received_at"}

// ReportWriter writes report rows as CSV or JSON Lines, buffered: call Flush at the end.
type ReportWriter struct {
	bw     *bufio.Writer
	csv    *csv.Writer
	enc    *json.Encoder
	header bool
	rec    []string
}

// NewReportWriter returns a writer of format (ReportCSV or ReportJSON) to w. bom writes a UTF-8
// byte order mark first (CSV only), which Excel needs to read UTF-8 (a Chinese receipt
// description) instead of the system's code page; other spreadsheets and csv readers do not.
func NewReportWriter(w io.Writer, format string, bom bool) (*ReportWriter, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	rw := &ReportWriter{bw: bw}
	switch format {
	case ReportCSV:
		if bom {
			if _, err := bw.WriteString("\ufeff"); err != nil {
				return nil, err
			}
		}
		rw.csv = csv.NewWriter(bw)
		rw.csv.UseCRLF = true // RFC 4180
		rw.header = true
		rw.rec = make([]string, len(ReportColumns))
	case ReportJSON:
		if bom {
			return nil, &FieldError{Field: "bom", Reason: "a byte order mark is for CSV only"}
		}
		rw.enc = json.NewEncoder(bw)
		rw.enc.SetEscapeHTML(false)
	default:
		return nil, &FieldError{Field: "format", Reason: fmt.Sprintf("%q is neither %s nor %s", format, ReportCSV, ReportJSON)}
	}
	return rw, nil
}

// reportJSON is a row as JSON Lines: the names of ReportColumns; times RFC 3339, fee null when
// not known, empty strings and zero times as "" (every object has every key).
type reportJSON struct {
	Number             string `json:"number"`
	State              string `json:"state"`
	SerialNo           string `json:"serial_no"`
	Code               string `json:"code"`
	Meaning            string `json:"meaning"`
	Fee                *int64 `json:"fee"`
	ReceiptStatus      string `json:"receipt_status"`
	ReceiptDescription string `json:"receipt_description"`
	SentAt             string `json:"sent_at"`
	ReceivedAt         string `json:"received_at"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// Write writes one row (the CSV header before the first).
func (w *ReportWriter) Write(r ReportRow) error {
	if w.enc != nil {
		j := reportJSON{Number: r.Number, State: r.State, SerialNo: r.SerialNo, Code: r.Code, Meaning: r.Meaning,
			ReceiptStatus: r.ReceiptStatus, ReceiptDescription: r.ReceiptDescription,
			SentAt: rfc3339(r.SentAt), ReceivedAt: rfc3339(r.ReceivedAt)}
		if r.FeeKnown {
			j.Fee = &r.Fee
		}
		return w.enc.Encode(j)
	}
	if w.header {
		w.header = false
		if err := w.csv.Write(ReportColumns); err != nil {
			return err
		}
	}
	fee := ""
	if r.FeeKnown {
		fee = strconv.FormatInt(r.Fee, 10)
	}
	rec := w.rec
	rec[0], rec[1], rec[2], rec[3], rec[4] = r.Number, r.State, r.SerialNo, r.Code, r.Meaning
	rec[5], rec[6], rec[7], rec[8], rec[9] = fee, r.ReceiptStatus, r.ReceiptDescription, rfc3339(r.SentAt), rfc3339(r.ReceivedAt)
	return w.csv.Write(rec)
}

// Flush writes what is buffered (and the CSV header of a report without rows).
func (w *ReportWriter) Flush() error {
	if w.csv != nil {
		if w.header {
			w.header = false
			if err := w.csv.Write(ReportColumns); err != nil {
				return err
			}
		}
		w.csv.Flush()
		if err := w.csv.Error(); err != nil {
			return err
		}
	}
	return w.bw.Flush()
}
