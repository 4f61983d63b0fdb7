package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/store"
)

func (a *app) listCommand() *cobra.Command {
	var states []string
	var appID string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--state S]... [--app ID] [--limit N] [--json]",
		Short: "List recent jobs with their counts, newest first",
		Long: "list prints the jobs whose records are still kept (running ones, and settled ones until their\n" +
			"retention ends), newest first, with their state and counts. --state keeps jobs in the given states\n" +
			"(repeat it or separate with commas), --app the jobs of one SmsSdkAppId (default: every app), --limit\n" +
			"at most N jobs (default " + fmt.Sprint(store.DefaultJobListLimit) + "). --json prints one JSON array of the objects status --json prints.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var js []store.JobState
			for _, s := range states {
				if !slices.ContainsFunc(store.JobStates, func(i store.JobStateInfo) bool { return string(i.State) == s }) {
					return usagef("--state: %q is not a job state (see enqueue status --help)", s)
				}
				js = append(js, store.JobState(s))
			}
			if limit < 0 {
				return usagef("--limit: %d is negative", limit)
			}
			if appID != "" && strings.Trim(appID, "0123456789") != "" {
				return usagef("--app: %q is not a numeric SmsSdkAppId", appID)
			}
			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			sts, err := c.List(cmd.Context(), client.ListFilter{App: appID, States: js, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				for i := range sts {
					if sts[i].FailedByCode == nil {
						sts[i].FailedByCode = map[string]int64{}
					}
				}
				if sts == nil {
					sts = []store.Status{}
				}
				return json.NewEncoder(a.stdout).Encode(sts)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSTATE\tCREATED\tAPP\tTOTAL\tSENT\tFAILED\tCANCELLED\tSUPPRESSED\tPENDING\tDELIVERED\tFEE")
			for _, st := range sts {
				created := ""
				if !st.CreatedAt.IsZero() {
					created = st.CreatedAt.Local().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", st.ID, st.State, created, st.AppID,
					st.Total, st.Sent, st.Failed, st.Cancelled, st.Suppressed, st.Pending, st.Delivered, st.Fee)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only jobs in this state")
	cmd.Flags().StringVar(&appID, "app", "", "only jobs of this SmsSdkAppId (default: every app)")
	cmd.Flags().IntVar(&limit, "limit", store.DefaultJobListLimit, "at most this many jobs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON array")
	return cmd
}
