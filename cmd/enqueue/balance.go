package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// balanceLookback is how far back balance looks for packages (by creation time).
const balanceLookback = 3 * 365 * 24 * time.Hour

// packageJSON is one SMS package as balance --json prints it.
type packageJSON struct {
	ID        string `json:"id"`
	Type      string `json:"type"` // "purchased" or "gift"
	Amount    int    `json:"amount"`
	Used      int    `json:"used"`
	Left      int    `json:"left"`
	Created   string `json:"created,omitempty"` // RFC 3339
	Effective string `json:"effective,omitempty"`
	Expires   string `json:"expires,omitempty"`
	Expired   bool   `json:"expired"`
}

// balanceReport is the output of balance.
type balanceReport struct {
	App      string        `json:"app"`
	Left     int           `json:"left"` // messages left in the packages not expired
	Packages []packageJSON `json:"packages"`
}

func (a *app) balanceCommand() *cobra.Command {
	var appID string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "balance [--app ID]",
		Short: "The SMS packages of an app: amount, used, left and expiry of each",
		Long: "balance lists the SMS packages (SmsPackagesStatistics) created in the last three years: each one's\n" +
			"amount, messages used and left, and expiry; and the messages left in the packages not expired.\n" +
			"Sending stops with FailedOperation.InsufficientBalanceInSmsPackage when none are left.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.openSession(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			app, err := a.resolveApp(ctx, s, appID, cmd.Flags().Changed("app"))
			if err != nil {
				return err
			}
			pkgs, err := s.api.packages(ctx, app, time.Now())
			if err != nil {
				return fmt.Errorf("balance: %w", err)
			}
			rep := balanceOf(app, pkgs, time.Now())
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(rep)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PACKAGE\tTYPE\tAMOUNT\tUSED\tLEFT\tEXPIRES")
			for _, p := range rep.Packages {
				exp := p.Expires
				if p.Expired {
					exp += " (expired)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", p.ID, p.Type, p.Amount, p.Used, p.Left, exp)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "app %s: %d messages left in %s not expired\n", app, rep.Left, plural(countLive(rep.Packages), "package"))
			return nil
		},
	}
	cmd.Flags().StringVar(&appID, "app", "", "SmsSdkAppId (default SMS_SDK_APP_ID, or the app a worker advertises)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// packages pages through SmsPackagesStatistics for the packages created since balanceLookback.
func (t *tencentAPI) packages(ctx context.Context, app string, now time.Time) ([]tencentsms.Package, error) {
	var out []tencentsms.Package
	for offset := 0; ; offset += tencentsms.MaxPackagesLimit {
		if err := t.wait(ctx, "SmsPackagesStatistics"); err != nil {
			return nil, err
		}
		ps, err := t.c.SmsPackagesStatistics(ctx, tencentsms.PackagesRequest{AppID: app,
			Begin: now.Add(-balanceLookback), End: now.Add(time.Hour), Limit: tencentsms.MaxPackagesLimit, Offset: offset})
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
		if len(ps) < tencentsms.MaxPackagesLimit {
			return out, nil
		}
	}
}

func balanceOf(app string, pkgs []tencentsms.Package, now time.Time) balanceReport {
	rep := balanceReport{App: app, Packages: []packageJSON{}}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format(time.RFC3339)
	}
	for _, p := range pkgs {
		typ := "purchased"
		if p.Type == tencentsms.PackageGift {
			typ = "gift"
		}
		expired := !p.ExpiredTime.IsZero() && !now.Before(p.ExpiredTime)
		v := packageJSON{ID: p.ID, Type: typ, Amount: p.Amount, Used: p.CurrentUsage, Left: p.Remaining(),
			Created: stamp(p.CreateTime), Effective: stamp(p.EffectiveTime), Expires: stamp(p.ExpiredTime), Expired: expired}
		if !expired {
			rep.Left += v.Left
		}
		rep.Packages = append(rep.Packages, v)
	}
	return rep
}

func countLive(ps []packageJSON) int {
	n := 0
	for _, p := range ps {
		if !p.Expired {
			n++
		}
	}
	return n
}

// plural renders n things: "1 package", "3 packages".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
