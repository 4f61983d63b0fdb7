package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/store"
)

func (a *app) reportCommand() *cobra.Command {
	var format string
	var states []string
	var bom bool
	cmd := &cobra.Command{
		Use:   "report JOB_ID [--format csv|json] [--state S]...",
		Short: "Print one line per recipient of a job: state, SerialNo, code, fee, receipt, times",
		Long: "report prints every recipient of a job, one line each, as it reads them from Redis (batch by batch,\n" +
			"so a report of a million recipients runs in a few megabytes). Numbers are printed in full (E.164).\n\n" +
			"Columns: " + strings.Join(client.ReportColumns, ", ") + ".\n" +
			"state is one of " + strings.Join(store.RecipientStates, ", ") + ". code is the send code\n" +
			"(Ok for an accepted number, the failure code of a failed one, the code of an unknown outcome) and\n" +
			"meaning explains it in one line. fee is the billed segments, empty when not known. sent_at (the send\n" +
			"attempt) and received_at (the receipt's receive time) are RFC 3339.\n\n" +
			"--format csv (default): RFC 4180 CSV in UTF-8 with a header line and CRLF line ends. --bom starts it\n" +
			"with a UTF-8 byte order mark, which Excel needs to show Chinese receipt descriptions; LibreOffice,\n" +
			"Numbers and CSV readers do without. --format json: JSON Lines, one object per recipient with the\n" +
			"column names as keys (fee null when not known).\n\n" +
			"--state keeps the recipients in the given states (repeat it, or separate them with commas).",
		Args: exactArgs(1, "one JOB_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != client.ReportCSV && format != client.ReportJSON {
				return usagef("--format: %q is neither csv nor json", format)
			}
			if bom && format != client.ReportCSV {
				return usagef("--bom: only with --format csv")
			}
			for _, s := range states {
				if !slices.Contains(store.RecipientStates, s) {
					return usagef("--state: %q is not one of %s", s, strings.Join(store.RecipientStates, ", "))
				}
			}
			c, closeFn, err := a.connect(cmd.Context(), client.Options{})
			if err != nil {
				return err
			}
			defer closeFn()
			w, err := client.NewReportWriter(a.stdout, format, bom)
			if err != nil {
				return err
			}
			err = c.Report(cmd.Context(), args[0], client.ReportFilter{States: states}, w.Write)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("job %s not found (never created, or expired after its retention): %w", args[0], err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", client.ReportCSV, "csv or json (JSON Lines)")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only recipients in this state ("+strings.Join(store.RecipientStates, ", ")+")")
	cmd.Flags().BoolVar(&bom, "bom", false, "start the CSV with a UTF-8 byte order mark (for Excel)")
	return cmd
}
