package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/recipients"
	"github.com/smsdispatch/smsdispatch/store"
)

// Default reasons of suppress add and suppress import.
const (
	defaultAddReason    = "manual"
	defaultImportReason = "import"
)

// importChunk is how many numbers suppress import writes at a time (memory stays bounded).
const importChunk = 1000

func (a *app) suppressCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "suppress add|remove|list|import",
		Short: "Manage the suppression list: numbers that never get another message",
		Long: "The suppression list holds numbers that must never get another message, each with a reason and the\n" +
			"time it was added. Workers leave them out of every send: such a number counts `suppressed` in its\n" +
			"job's status (not failed, not pending). Numbers Tencent refuses as blocklisted\n" +
			"(FailedOperation.PhoneNumberInBlacklist) are added by the workers themselves, and unsubscribe replies\n" +
			"too. The list never expires. A number already on the list keeps its first reason and time.\n\n" +
			"Numbers are normalised like send's (written without + they are read in --country, default CN).",
		Args: exactArgs(0, "a subcommand: add, remove, list or import"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.suppressAddCommand(), a.suppressRemoveCommand(), a.suppressListCommand(), a.suppressImportCommand())
	return cmd
}

// suppressStore opens Redis and returns its store and a function closing it.
func (a *app) suppressStore(ctx context.Context) (*store.Store, func(), error) {
	c, closeFn, err := a.connect(ctx, client.Options{})
	if err != nil {
		return nil, nil, err
	}
	return c.Store(), closeFn, nil
}

// normalizeArgs normalises NUMBER arguments to E.164; a bad one is a usage error naming it.
func normalizeArgs(cmdName string, args []string, country string) ([]string, error) {
	if !recipients.ValidRegion(country) {
		return nil, usagef("--country: %q is not a region code such as CN or US", country)
	}
	out := make([]string, 0, len(args))
	for _, raw := range args {
		n, err := recipients.Normalize(raw, country)
		if err != nil {
			return nil, usagef("%s: %q: %v", cmdName, raw, err)
		}
		out = append(out, n.String())
	}
	return out, nil
}

// addCounted suppresses numbers with reason and returns how many were not on the list before.
func addCounted(ctx context.Context, st *store.Store, numbers []string, reason string) (int, error) {
	before, err := st.Suppressed(ctx, numbers)
	if err != nil {
		return 0, err
	}
	if err := st.Suppress(ctx, numbers, reason); err != nil {
		return 0, err
	}
	added := 0
	for _, on := range before {
		if !on {
			added++
		}
	}
	return added, nil
}

// numbersCommand is a suppress subcommand over NUMBER arguments: it normalises them (a malformed
// one is a usage error and nothing is written), opens the store and runs do, which returns the
// line to print.
func (a *app) numbersCommand(use, short, long string,
	do func(ctx context.Context, st *store.Store, numbers []string) (string, error)) *cobra.Command {
	var country string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s: want at least one NUMBER", cmd.Name())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			numbers, err := normalizeArgs(cmd.Name(), args, country)
			if err != nil {
				return err
			}
			st, closeFn, err := a.suppressStore(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			line, err := do(cmd.Context(), st, numbers)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, line)
			return nil
		},
	}
	cmd.Flags().StringVar(&country, "country", "CN", "region of numbers written without +")
	return cmd
}

func (a *app) suppressAddCommand() *cobra.Command {
	var reason string
	cmd := a.numbersCommand("add NUMBER... [--reason R]", "Add numbers to the suppression list",
		"add puts numbers on the suppression list with --reason (default \""+defaultAddReason+"\"). A malformed\n"+
			"number is refused (exit 2) and nothing is added. A number already on the list keeps its first reason.",
		func(ctx context.Context, st *store.Store, numbers []string) (string, error) {
			added, err := addCounted(ctx, st, numbers, reason)
			return fmt.Sprintf("added %d numbers to the suppression list (%d already on it)", added, len(numbers)-added), err
		})
	cmd.Flags().StringVar(&reason, "reason", defaultAddReason, "why the numbers must get no message")
	return cmd
}

func (a *app) suppressRemoveCommand() *cobra.Command {
	return a.numbersCommand("remove NUMBER...", "Remove numbers from the suppression list",
		"remove takes numbers off the suppression list: later jobs send to them again. Only do this with the\n"+
			"recipient's consent. A malformed number is refused (exit 2) and nothing is removed.",
		func(ctx context.Context, st *store.Store, numbers []string) (string, error) {
			n, err := st.Unsuppress(ctx, numbers)
			return fmt.Sprintf("removed %d numbers from the suppression list (%d were not on it)", n, len(numbers)-n), err
		})
}

// listEntry is one line of suppress list --json.
type listEntry struct {
	Number string    `json:"number"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func (a *app) suppressListCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "Print the suppression list",
		Long: "list prints every number on the suppression list, in no particular order, one per line: the number\n" +
			"(unmasked), the time it was added (RFC 3339) and the reason, separated by tabs. --json prints one JSON\n" +
			"object per line instead (JSON Lines): {\"number\", \"reason\", \"at\"}. The list is read a few thousand\n" +
			"entries at a time, so memory stays small however long it is.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, closeFn, err := a.suppressStore(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			return writeSuppressions(cmd.Context(), a.stdout, st, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	return cmd
}

// writeSuppressions streams the suppression list to w.
func writeSuppressions(ctx context.Context, w io.Writer, st *store.Store, asJSON bool) error {
	enc := json.NewEncoder(w)
	for sp, err := range st.Suppressions(ctx) {
		if err != nil {
			return err
		}
		if asJSON {
			if err := enc.Encode(listEntry(sp)); err != nil {
				return err
			}
			continue
		}
		at := ""
		if !sp.At.IsZero() {
			at = sp.At.Local().Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(w, "%s\t%s\t%s\n", sp.Number, at, oneLine(sp.Reason)); err != nil {
			return err
		}
	}
	return nil
}

// oneLine replaces control characters (tabs, line breaks) with spaces, so a reason stays one field.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func (a *app) suppressImportCommand() *cobra.Command {
	var reason, country, encoding string
	cmd := &cobra.Command{
		Use:   "import FILE [--reason R]",
		Short: "Add the numbers of a file to the suppression list",
		Long: "import reads FILE (- for stdin), one number per line with an optional reason after a comma\n" +
			"(NUMBER or NUMBER,REASON; CSV, quotes allowed); lines without a reason take --reason (default\n" +
			"\"" + defaultImportReason + "\"). Blank lines and # comments are skipped; bad lines are reported on stderr with\n" +
			"their line number and the rest is still imported (exit 0; exit 1 when no line was good). The file\n" +
			"is read as a stream: a file of millions of numbers needs little memory.",
		Args: exactArgs(1, "one FILE (- for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !recipients.ValidRegion(country) {
				return usagef("--country: %q is not a region code such as CN or US", country)
			}
			if _, err := recipients.CanonicalEncoding(encoding); err != nil {
				return usagef("--encoding: %q is not utf-8 or gb18030", encoding)
			}
			var r io.Reader = a.stdin
			if args[0] != "-" {
				fh, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer fh.Close()
				r = fh
			}
			st, closeFn, err := a.suppressStore(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			res, err := a.importSuppressions(cmd.Context(), st, r, importOptions{reason: reason, country: country, encoding: encoding})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "imported %d numbers: %d added to the suppression list, %d already on it; "+
				"%d repeated lines skipped, %d lines rejected\n", res.numbers, res.added, res.numbers-res.added, res.repeated, res.rejected)
			if res.numbers == 0 && res.rejected > 0 {
				return errors.New("import: no valid number in the file")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&reason, "reason", defaultImportReason, "reason of lines that give none")
	f.StringVar(&country, "country", "CN", "region of numbers written without +")
	f.StringVar(&encoding, "encoding", recipients.EncodingUTF8, "encoding of FILE: utf-8 or gb18030")
	return cmd
}

type importOptions struct{ reason, country, encoding string }

// importResult counts an import: numbers written (added: not on the list before), lines repeating
// a number of the same chunk (skipped), lines rejected.
type importResult struct{ numbers, added, repeated, rejected int }

// importSuppressions reads suppression lines from r and adds them, importChunk numbers at a time.
// Bad lines go to stderr with their line number.
func (a *app) importSuppressions(ctx context.Context, st *store.Store, r io.Reader, o importOptions) (importResult, error) {
	var res importResult
	lines, err := recipients.LinesIn(r, o.encoding)
	if err != nil {
		return res, usageError{fmt.Errorf("--encoding: %w", err)}
	}
	pending := map[string][]string{} // reason -> numbers not written yet
	seen := map[string]bool{}        // the numbers in pending: a repeated one keeps its first reason
	queued := 0
	flush := func() error {
		for reason, numbers := range pending {
			added, err := addCounted(ctx, st, numbers, reason)
			if err != nil {
				return err
			}
			res.added += added
		}
		clear(pending)
		clear(seen)
		queued = 0
		return nil
	}
	for rec, err := range lines {
		var le *recipients.LineError
		switch {
		case errors.As(err, &le):
			fmt.Fprintf(a.stderr, "line %d: %s: %q\n", le.Line, le.Reason, le.Input)
			res.rejected++
			continue
		case err != nil:
			return res, fmt.Errorf("import: %w", err)
		}
		n, err := recipients.Normalize(rec.Number, o.country)
		if err != nil {
			fmt.Fprintf(a.stderr, "line %d: %v: %q\n", rec.Line, err, rec.Number)
			res.rejected++
			continue
		}
		reason := strings.TrimSpace(strings.Join(rec.Params, ","))
		if reason == "" {
			reason = o.reason
		}
		e164 := n.String()
		if seen[e164] {
			res.repeated++
			continue
		}
		seen[e164] = true
		res.numbers++
		pending[reason] = append(pending[reason], e164)
		if queued++; queued >= importChunk {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}
