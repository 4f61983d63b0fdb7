package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/retry"
	"github.com/smsdispatch/smsdispatch/store"
)

// reportJob sends a job of four mainland numbers (one batch) and one international (a second
// batch), then gives the first batch every outcome: +8613800000001 sent, 2 failed, 3 unknown,
// 4 sent and undelivered with a description that needs CSV quoting, 5 sent and delivered. The
// international batch is cancelled.
func reportJob(t *testing.T, e *env) (id string, received time.Time) {
	t.Helper()
	ctx := context.Background()
	id = jobID(t, "report")
	res, err := e.c.Send(ctx, Request{JobID: id, TemplateID: "1001", Params: []string{"1"},
		Recipients: []Recipient{{Number: cn(1)}, {Number: cn(2)}, {Number: cn(3)}, {Number: cn(4)}, {Number: cn(5)},
			{Number: "+16502000001"}}})
	if err != nil || res.Batches != 2 {
		t.Fatalf("send: %+v, %v", res, err)
	}
	s := e.c.Store()
	batch := -1
	var claim store.ClaimResult
	for b := range 2 {
		c, err := s.Claim(ctx, id, b, "tok")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Intl {
			batch, claim = b, c
			break
		}
		if err := s.Release(ctx, id, b, "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Launch(ctx, id, batch, "tok"); err != nil {
		t.Fatal(err)
	}
	var rs []store.NumberResult
	for i, num := range claim.Numbers {
		r := store.NumberResult{Index: claim.Indexes[i], State: store.Sent, SerialNo: "2640:" + num[1:], Fee: 1}
		switch num {
		case "+86" + cn(2):
			r = store.NumberResult{Index: r.Index, State: store.Failed, Code: "FailedOperation.PhoneNumberInBlacklist"}
		case "+86" + cn(3):
			r = store.NumberResult{Index: r.Index, State: store.Unknown, Code: "InternalError.Timeout"}
		}
		rs = append(rs, r)
	}
	if err := s.IndexSerials(ctx, id, batch, rs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, id, batch, "tok", rs); err != nil {
		t.Fatal(err)
	}
	recv := time.Now().Add(time.Minute).Truncate(time.Second)
	page, err := s.SaveReceiptPage(ctx, testApp, []store.Receipt{
		{SerialNo: "2640:86" + cn(4), PhoneNumber: "86" + cn(4), Status: "FAIL", Description: `空号 "MK:0012", retry`, ReceivedAt: recv},
		{SerialNo: "2640:86" + cn(5), PhoneNumber: "86" + cn(5), Status: "SUCCESS", Description: "用户短信送达成功", ReceivedAt: recv},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyReceiptPage(ctx, testApp, store.SavedPage{ID: page, Receipts: mustPage(t, e, page)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id, recv
}

func mustPage(t *testing.T, e *env, id string) []store.Receipt {
	t.Helper()
	pages, err := e.c.Store().SavedReceiptPages(context.Background(), testApp)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if p.ID == id {
			return p.Receipts
		}
	}
	t.Fatalf("page %s not saved", id)
	return nil
}

func (e *env) report(t *testing.T, id, format string, bom bool, f ReportFilter) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewReportWriter(&buf, format, bom)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Report(context.Background(), id, f, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReportCSV: the CSV parses back (encoding/csv) to one row per recipient with every column,
// quoting a description with quotes and commas; with bom it starts with the UTF-8 BOM.
func TestReportCSV(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		id, received := reportJob(t, e)
		out := e.report(t, id, ReportCSV, false, ReportFilter{Meaning: func(c string) string { return "means " + c }})
		if !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Errorf("lines do not end in CRLF (RFC 4180)")
		}
		recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], ReportColumns) {
			t.Fatalf("header %v", recs[0])
		}
		byNum := map[string][]string{}
		for _, r := range recs[1:] {
			byNum[r[0]] = r
		}
		if len(recs) != 7 || len(byNum) != 6 {
			t.Fatalf("%d lines, want header + 6: %q", len(recs), out)
		}
		want := map[string][]string{
			"+86" + cn(1):  {"sent", "2640:86" + cn(1), "Ok", "means Ok", "1", "", ""},
			"+86" + cn(2):  {"failed", "", "FailedOperation.PhoneNumberInBlacklist", "means FailedOperation.PhoneNumberInBlacklist", "", "", ""},
			"+86" + cn(3):  {"unknown", "", "InternalError.Timeout", "means InternalError.Timeout", "", "", ""},
			"+86" + cn(4):  {"undelivered", "2640:86" + cn(4), "Ok", "means Ok", "1", "FAIL", `空号 "MK:0012", retry`},
			"+86" + cn(5):  {"delivered", "2640:86" + cn(5), "Ok", "means Ok", "1", "SUCCESS", "用户短信送达成功"},
			"+16502000001": {"cancelled", "", "", "", "", "", ""},
		}
		for num, w := range want {
			g := byNum[num]
			if g == nil || !slices.Equal(g[1:8], w) {
				t.Errorf("%s: %q, want %q", num, g, w)
				continue
			}
			sent, recv := g[8], g[9]
			if (w[0] == "cancelled" || w[0] == "failed") != (sent == "") {
				t.Errorf("%s: sent_at %q", num, sent)
			}
			if sent != "" {
				if _, err := time.Parse(time.RFC3339, sent); err != nil {
					t.Errorf("%s: sent_at %q: %v", num, sent, err)
				}
			}
			if (w[5] == "") != (recv == "") {
				t.Errorf("%s: received_at %q", num, recv)
			}
			if recv != "" {
				if ts, err := time.Parse(time.RFC3339, recv); err != nil || !ts.Equal(received) {
					t.Errorf("%s: received_at %q: %v", num, recv, err)
				}
			}
		}

		bom := e.report(t, id, ReportCSV, true, ReportFilter{States: []string{store.RecipientDelivered}})
		body, ok := bytes.CutPrefix(bom, []byte("\xef\xbb\xbf"))
		if !ok {
			t.Fatalf("no BOM: %q", bom[:min(3, len(bom))])
		}
		recs, err = csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil || len(recs) != 2 || recs[1][0] != "+86"+cn(5) {
			t.Errorf("delivered only, with BOM: %q, %v", recs, err)
		}
	})
}

// TestReportJSON: JSON Lines, one object per row with every key, fee null when not known.
func TestReportJSON(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		id, _ := reportJob(t, e)
		out := e.report(t, id, ReportJSON, false, ReportFilter{States: []string{store.RecipientSent, store.RecipientUnknown}})
		sc := bufio.NewScanner(bytes.NewReader(out))
		var rows []map[string]any
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if len(m) != len(ReportColumns) {
				t.Errorf("keys %v, want %v", m, ReportColumns)
			}
			rows = append(rows, m)
		}
		if len(rows) != 2 {
			t.Fatalf("%d rows, want 2: %s", len(rows), out)
		}
		for _, m := range rows {
			switch m["state"] {
			case "sent":
				if m["fee"] != 1.0 || m["serial_no"] != "2640:86"+cn(1) || m["meaning"] != retry.Meaning("Ok") {
					t.Errorf("sent row %v", m)
				}
			case "unknown":
				if m["fee"] != nil || m["code"] != "InternalError.Timeout" {
					t.Errorf("unknown row %v", m)
				}
			default:
				t.Errorf("row %v not asked for", m)
			}
		}
	})
}

// TestReportErrors: an unknown state and format are invalid requests; an unknown job is
// store.ErrNotFound; a write error stops the report.
func TestReportErrors(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		nop := func(ReportRow) error { return nil }
		if err := e.c.Report(ctx, "nope", ReportFilter{States: []string{"gone"}}, nop); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("unknown state: %v", err)
		}
		if err := e.c.Report(ctx, "nope", ReportFilter{}, nop); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown job: %v", err)
		}
		if _, err := NewReportWriter(&bytes.Buffer{}, "xml", false); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("unknown format: %v", err)
		}
		id, _ := reportJob(t, e)
		stop := fmt.Errorf("disk full")
		n := 0
		err := e.c.Report(ctx, id, ReportFilter{}, func(ReportRow) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("write error: %v after %d rows", err, n)
		}
		// An empty report is still a header.
		out := e.report(t, id, ReportCSV, false, ReportFilter{States: []string{store.RecipientPending}})
		if strings.TrimSpace(string(out)) != strings.Join(ReportColumns, ",") {
			t.Errorf("empty report %q", out)
		}
	})
}
