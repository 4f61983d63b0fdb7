package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStatsEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) {
		c.Faults.NumberCodes = map[string]string{"+8613900000002": "LimitExceeded.PhoneNumberThirtySecondLimit"}
	})
	numbers := cnNumbers(0, 3)
	mustSend(t, e.client, otp(numbers...))
	mustSend(t, e.client, otp(numbers[0])) // within 30 s: refused, no duplicate
	e.clock.Add(31e9)
	mustSend(t, e.client, otp(numbers[1])) // accepted again: one duplicate send

	tests := []struct {
		name, method string
		wantStatus   int
		wantBody     bool
	}{
		{"get", http.MethodGet, http.StatusOK, true},
		{"head", http.MethodHead, http.StatusOK, false},
		{"post", http.MethodPost, http.StatusMethodNotAllowed, false},
		{"delete", http.MethodDelete, http.StatusMethodNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.ts.URL+StatsPath, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if !tt.wantBody {
				if tt.method == http.MethodHead && resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("HEAD Content-Type %q", resp.Header.Get("Content-Type"))
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got Stats
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			want := e.srv.Stats()
			if got.Calls["SendSms"] != 3 || got.NumbersSent != 3 || got.DuplicateSends != 1 ||
				got.NumberErrors["LimitExceeded.PhoneNumberThirtySecondLimit"] != 2 ||
				got.ReceiptsCreated != 3 || got.LargestBatch != 3 {
				t.Errorf("stats = %s", body)
			}
			if got.NumbersSent != want.NumbersSent || got.DuplicateSends != want.DuplicateSends ||
				got.ReceiptsPending != want.ReceiptsPending || got.FeeUsed != want.FeeUsed {
				t.Errorf("JSON %+v differs from Stats() %+v", got, want)
			}
			if len(got.Calls) != 1 {
				t.Errorf("the stats request counted as an API call: Calls = %v", got.Calls)
			}
		})
	}
}
