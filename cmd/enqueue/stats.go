package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// ownHour is this system's own counts of one Beijing-time hour (the fields of store.HourCount).
type ownHour struct {
	Hour                                      time.Time
	Sent, Failed, Delivered, Undelivered, Fee int64
}

// ownCounts returns this system's counts of app for the hours starting in [from, to), one row
// per hour (rows outside the window are ignored).
type ownCounts func(ctx context.Context, st *store.Store, app string, from, to time.Time) ([]ownHour, error)

// storeHourlyCounts is the ownCounts of the program: store.HourlyCounts, which counts every
// hour from the one holding from through the one holding to (the extra last row is ignored).
func storeHourlyCounts(ctx context.Context, st *store.Store, app string, from, to time.Time) ([]ownHour, error) {
	hs, err := st.HourlyCounts(ctx, app, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]ownHour, len(hs))
	for i, h := range hs {
		out[i] = ownHour(h)
	}
	return out, nil
}

// apiError is a refused or failed Tencent call, for --json.
type apiError struct {
	Code    string `json:"code,omitempty"` // Tencent's error code; "" for a transport failure
	Message string `json:"message"`
}

func newAPIError(err error) *apiError {
	var te *tencentsms.Error
	if errors.As(err, &te) {
		return &apiError{Code: te.Code, Message: te.Message}
	}
	return &apiError{Message: err.Error()}
}

func (e *apiError) String() string {
	if e.Code == "" {
		return e.Message
	}
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// ownTotals are this system's counts summed over the window, with the hours.
type ownTotals struct {
	Available   bool          `json:"available"`
	Reason      string        `json:"reason,omitempty"` // why not available
	Sent        int64         `json:"sent"`
	Failed      int64         `json:"failed"`
	Delivered   int64         `json:"delivered"`
	Undelivered int64         `json:"undelivered"`
	Fee         int64         `json:"fee"`
	Hours       []ownHourJSON `json:"hours"`
}

type ownHourJSON struct {
	Hour        string `json:"hour"` // yyyymmddhh, Beijing time
	Sent        int64  `json:"sent"`
	Failed      int64  `json:"failed"`
	Delivered   int64  `json:"delivered"`
	Undelivered int64  `json:"undelivered"`
	Fee         int64  `json:"fee"`
}

// statsReport is the output of stats: Tencent's two statistics (each, or the error that refused
// it) and this system's own counts.
type statsReport struct {
	App           string                         `json:"app"`
	From          string                         `json:"from"` // yyyymmddhh, Beijing time, inclusive
	To            string                         `json:"to"`   // yyyymmddhh, Beijing time, inclusive
	Send          *tencentsms.SendStatistics     `json:"send"`
	SendError     *apiError                      `json:"send_error,omitempty"`
	Callback      *tencentsms.CallbackStatistics `json:"callback"`
	CallbackError *apiError                      `json:"callback_error,omitempty"`
	Ours          ownTotals                      `json:"ours"`
}

// parseHour parses a yyyymmddhh flag in Beijing time.
func parseHour(flag, v string) (time.Time, error) {
	t, err := time.ParseInLocation(tencentsms.HourLayout, strings.TrimSpace(v), tencentsms.Beijing)
	if err != nil {
		return time.Time{}, usagef("--%s: %q is not an hour yyyymmddhh (Beijing time), e.g. 2026120409", flag, v)
	}
	return t, nil
}

func (a *app) statsCommand() *cobra.Command {
	var from, to, appID string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --from yyyymmddhh --to yyyymmddhh [--app ID]",
		Short: "Tencent's send and receipt statistics for some hours, beside this system's own counts",
		Long: "stats prints Tencent's SendStatusStatistics (numbers submitted, accepted, billed segments) and\n" +
			"CallbackStatusStatistics (receipts: delivered, failed and why) for the hours --from to --to, both\n" +
			"included, in Beijing time as Tencent counts them, beside this system's own counts of the same hours\n" +
			"(sent, failed, delivered, fee). When Tencent refuses one of the two (an account without the\n" +
			"permission), the other is printed with the refusal; only when both fail is the exit status 1.\n" +
			"Calls stay under Tencent's limit of 10 per second per action, shared by every enqueue on this Redis.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if !f.Changed("from") || !f.Changed("to") {
				return usagef("--from and --to: required (hours yyyymmddhh, Beijing time)")
			}
			begin, err := parseHour("from", from)
			if err != nil {
				return err
			}
			end, err := parseHour("to", to)
			if err != nil {
				return err
			}
			if end.Before(begin) {
				return usagef("--to: %s is before --from %s", to, from)
			}
			ctx := cmd.Context()
			s, err := a.openSession(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			app, err := a.resolveApp(ctx, s, appID, f.Changed("app"))
			if err != nil {
				return err
			}
			rep := a.stats(ctx, s, app, begin, end)
			if asJSON {
				if err := json.NewEncoder(a.stdout).Encode(rep); err != nil {
					return err
				}
			} else if err := writeStats(a.stdout, rep); err != nil {
				return err
			}
			if rep.SendError != nil && rep.CallbackError != nil {
				return fmt.Errorf("stats: Tencent refused both statistics: SendStatusStatistics: %s; CallbackStatusStatistics: %s",
					rep.SendError, rep.CallbackError)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "first hour, yyyymmddhh in Beijing time (required)")
	f.StringVar(&to, "to", "", "last hour, yyyymmddhh in Beijing time, included (required)")
	f.StringVar(&appID, "app", "", "SmsSdkAppId (default SMS_SDK_APP_ID, or the app a worker advertises)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// stats gathers the report of the hours [begin, end] (hour starts, Beijing time).
func (a *app) stats(ctx context.Context, s *tencentSession, app string, begin, end time.Time) statsReport {
	rep := statsReport{App: app, From: begin.Format(tencentsms.HourLayout), To: end.Format(tencentsms.HourLayout)}
	r := tencentsms.StatisticsRequest{AppID: app, Begin: begin, End: end}
	if err := s.api.wait(ctx, "SendStatusStatistics"); err != nil {
		rep.SendError = newAPIError(err)
	} else if rep.Send, err = s.api.c.SendStatusStatistics(ctx, r); err != nil {
		rep.SendError = newAPIError(err)
	}
	if err := s.api.wait(ctx, "CallbackStatusStatistics"); err != nil {
		rep.CallbackError = newAPIError(err)
	} else if rep.Callback, err = s.api.c.CallbackStatusStatistics(ctx, r); err != nil {
		rep.CallbackError = newAPIError(err)
	}
	rep.Ours = a.ownTotals(ctx, s.st, app, begin, end.Add(time.Hour))
	return rep
}

// ownTotals sums this system's counts of the hours starting in [from, to).
func (a *app) ownTotals(ctx context.Context, st *store.Store, app string, from, to time.Time) ownTotals {
	out := ownTotals{Hours: []ownHourJSON{}}
	if a.ownCounts == nil {
		out.Reason = "this system's hourly counts are not available in this version"
		return out
	}
	rows, err := a.ownCounts(ctx, st, app, from, to)
	if err != nil {
		out.Reason = err.Error()
		return out
	}
	out.Available = true
	for _, h := range rows {
		if h.Hour.Before(from) || !h.Hour.Before(to) {
			continue
		}
		out.Sent += h.Sent
		out.Failed += h.Failed
		out.Delivered += h.Delivered
		out.Undelivered += h.Undelivered
		out.Fee += h.Fee
		out.Hours = append(out.Hours, ownHourJSON{Hour: h.Hour.In(tencentsms.Beijing).Format(tencentsms.HourLayout), Sent: h.Sent,
			Failed: h.Failed, Delivered: h.Delivered, Undelivered: h.Undelivered, Fee: h.Fee})
	}
	return out
}

// writeStats prints the report: a table with a Tencent and an "ours" column, and the refusals.
func writeStats(w io.Writer, rep statsReport) error {
	fmt.Fprintf(w, "app %s, hours %s to %s (Beijing time)\n\n", rep.App, rep.From, rep.To)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	na := "-"
	tc := func(ok bool, v int) string {
		if !ok {
			return na
		}
		return fmt.Sprint(v)
	}
	ours := func(v int64) string {
		if !rep.Ours.Available {
			return na
		}
		return fmt.Sprint(v)
	}
	send, cb := rep.Send != nil, rep.Callback != nil
	var s tencentsms.SendStatistics
	var c tencentsms.CallbackStatistics
	if send {
		s = *rep.Send
	}
	if cb {
		c = *rep.Callback
	}
	fmt.Fprintln(tw, "\ttencent\tours")
	fmt.Fprintf(tw, "submitted\t%s\t%s\n", tc(send, s.RequestCount), na)
	fmt.Fprintf(tw, "sent (accepted)\t%s\t%s\n", tc(send, s.RequestSuccessCount), ours(rep.Ours.Sent))
	fmt.Fprintf(tw, "failed\t%s\t%s\n", tc(send, s.RequestCount-s.RequestSuccessCount), ours(rep.Ours.Failed))
	fmt.Fprintf(tw, "fee (segments)\t%s\t%s\n", tc(send, s.FeeCount), ours(rep.Ours.Fee))
	fmt.Fprintf(tw, "receipts\t%s\t%s\n", tc(cb, c.CallbackCount), ours(rep.Ours.Delivered+rep.Ours.Undelivered))
	fmt.Fprintf(tw, "delivered\t%s\t%s\n", tc(cb, c.CallbackSuccessCount), ours(rep.Ours.Delivered))
	fmt.Fprintf(tw, "undelivered\t%s\t%s\n", tc(cb, c.CallbackFailCount), ours(rep.Ours.Undelivered))
	if cb {
		for _, row := range []struct {
			name string
			n    int
		}{
			{"  carrier error", c.InternalErrorCount}, {"  invalid number", c.InvalidNumberCount},
			{"  number shut down", c.ShutdownErrorCount}, {"  blacklisted", c.BlackListCount},
			{"  frequency limit", c.FrequencyLimitCount},
		} {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", row.name, row.n, na)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.SendError != nil {
		fmt.Fprintf(w, "\nSendStatusStatistics refused: %s\n", rep.SendError)
	}
	if rep.CallbackError != nil {
		fmt.Fprintf(w, "\nCallbackStatusStatistics refused: %s\n", rep.CallbackError)
	}
	if !rep.Ours.Available {
		fmt.Fprintf(w, "\nours: not available: %s\n", rep.Ours.Reason)
	}
	return nil
}
