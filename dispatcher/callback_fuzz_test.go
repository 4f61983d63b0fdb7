package dispatcher

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

// FuzzParseStatusCallback: no input panics; a refused body is ErrMalformedCallback; an accepted
// one re-encoded in Tencent's form parses to the same receipts.
func FuzzParseStatusCallback(f *testing.F) {
	f.Add([]byte(goodStatusBody))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"sid":"1","nationcode":"1","mobile":"4155550100","report_status":"fail","ext":"job|0|1"}]`))
	f.Add([]byte(`[{"sid":"1","nationcode":"86","mobile":"1","report_status":"SUCCESS","ext":{"a":1}}]`))
	f.Add([]byte(`[{"sid":"1","nationcode":"86","mobile":"1","report_status":"SUCCESS","user_receive_time":"2026-13-01 00:00:00"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := ParseStatusCallback(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedCallback) || rs != nil {
				t.Fatalf("refused body: %v, %v", rs, err)
			}
			return
		}
		items := make([]statusItem, len(rs))
		for i, r := range rs {
			ext, _ := json.Marshal(r.SessionContext)
			// Any split of the digits names the same number: after the first.
			items[i] = statusItem{NationCode: r.PhoneNumber[1:2], Mobile: r.PhoneNumber[2:], ReportStatus: r.Status,
				Description: r.Description, SID: r.SerialNo, Ext: ext}
			if !r.ReceivedAt.IsZero() {
				items[i].UserReceiveTime = r.ReceivedAt.In(beijing.Time).Format(callbackTime)
			}
		}
		b, err := json.Marshal(items)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseStatusCallback(b)
		if err != nil {
			t.Fatalf("re-encoded body refused: %v\n%s", err, b)
		}
		for i := range rs {
			if !rs[i].ReceivedAt.Equal(again[i].ReceivedAt) {
				t.Fatalf("receipt %d time %v -> %v", i, rs[i].ReceivedAt, again[i].ReceivedAt)
			}
			rs[i].ReceivedAt, again[i].ReceivedAt = again[i].ReceivedAt, rs[i].ReceivedAt
		}
		if !reflect.DeepEqual(rs, again) {
			t.Fatalf("round trip:\n%+v\n%+v", rs, again)
		}
	})
}

// FuzzParseReplyCallback: no input panics; a refused body is ErrMalformedCallback; an accepted
// one re-encoded parses to the same replies.
func FuzzParseReplyCallback(f *testing.F) {
	f.Add([]byte(`{"extend":"","mobile":"13800000001","nationcode":"86","sign":"腾讯云","text":"TD","time":1767225600}`))
	f.Add([]byte(`[{"mobile":"4155550100","nationcode":"1","text":"STOP","time":"1767225600"}]`))
	f.Add([]byte(`{"mobile":"13800000001","nationcode":"86","time":null}`))
	f.Add([]byte(`{"mobile":"13800000001","nationcode":"86","time":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := ParseReplyCallback(body)
		if err != nil {
			if !errors.Is(err, ErrMalformedCallback) || rs != nil {
				t.Fatalf("refused body: %v, %v", rs, err)
			}
			return
		}
		items := make([]replyItem, len(rs))
		for i, r := range rs {
			items[i] = replyItem{Extend: r.Extend, NationCode: r.Number[1:2], Mobile: r.Number[2:], Sign: r.Sign, Text: r.Text,
				Time: json.RawMessage("0")}
			if !r.At.IsZero() {
				items[i].Time = json.RawMessage(strconv.FormatInt(r.At.Unix(), 10))
			}
		}
		b, err := json.Marshal(items)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseReplyCallback(b)
		if err != nil {
			t.Fatalf("re-encoded body refused: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(rs, again) {
			t.Fatalf("round trip:\n%+v\n%+v", rs, again)
		}
	})
}
