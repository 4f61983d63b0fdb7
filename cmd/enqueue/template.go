package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// templateJSON is a template as template list/show --json print it.
type templateJSON struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Content       string `json:"content"`
	International int    `json:"international"` // 0 domestic, 1 international, 3 both
	Region        string `json:"region"`        // "domestic", "international" or "both"
	StatusCode    int    `json:"status_code"`   // Tencent's StatusCode: 0 approved, 1 in review, -1 rejected, 2 approved pending
	Status        string `json:"status"`
	ReviewReply   string `json:"review_reply"`
	Params        int    `json:"params"`
	Created       string `json:"created,omitempty"` // RFC 3339
}

func templateView(t tencentsms.Template) templateJSON {
	v := templateJSON{ID: t.ID, Name: t.Name, Content: t.Content, International: t.International,
		Region: regionText(t), StatusCode: int(t.Status), Status: statusText(t), ReviewReply: t.ReviewReply, Params: t.Params()}
	if !t.CreateTime.IsZero() {
		v.Created = t.CreateTime.Local().Format(time.RFC3339)
	}
	return v
}

func regionText(t tencentsms.Template) string {
	switch {
	case t.Domestic() && t.Abroad():
		return "both"
	case t.Abroad():
		return "international"
	}
	return "domestic"
}

// templateTypes maps --type to Tencent's SmsType.
var templateTypes = map[string]tencentsms.SmsType{
	"otp":          tencentsms.SmsVerificationCode,
	"notification": tencentsms.SmsNotification,
	"marketing":    tencentsms.SmsMarketing,
}

func (a *app) templateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "template add|list|show",
		Short: "Submit SMS templates for review and show them with their review status",
		Long: "template adds templates (AddSmsTemplate) and lists or shows them with their review status\n" +
			"(DescribeSmsTemplateList). Calls stay under Tencent's limits (AddSmsTemplate 2 per second,\n" +
			"DescribeSmsTemplateList 20 per second), shared by every enqueue on this Redis.",
		Args: exactArgs(0, "a subcommand: add, list or show"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("template: want a subcommand: add, list or show")
		},
	}
	cmd.AddCommand(a.templateAddCommand(), a.templateListCommand(), a.templateShowCommand())
	return cmd
}

func (a *app) templateAddCommand() *cobra.Command {
	var name, content, typ, remark string
	var intl, asJSON bool
	cmd := &cobra.Command{
		Use:   "add --name N --content C --type otp|notification|marketing [--international] [--remark R]",
		Short: "Submit a template for review; prints its id",
		Long: "add submits a template for Tencent's review and prints its id alone on stdout. Params are written\n" +
			"{1}, {2}, ... in --content. Domestic marketing templates must end with an opt-out such as 拒收请回复R.\n" +
			"The template can be sent once approved: see enqueue template show ID.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case strings.TrimSpace(name) == "":
				return usagef("--name: required")
			case strings.TrimSpace(content) == "":
				return usagef("--content: required")
			}
			st, ok := templateTypes[typ]
			if !ok {
				return usagef("--type: %q is not otp, notification or marketing", typ)
			}
			ctx := cmd.Context()
			s, err := a.openSession(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			if err := s.api.wait(ctx, "AddSmsTemplate"); err != nil {
				return err
			}
			id, err := s.api.c.AddSmsTemplate(ctx, tencentsms.AddTemplateRequest{
				Name: name, Content: content, Type: st, International: intl, Remark: remark})
			if err != nil {
				return fmt.Errorf("template add: %w", err)
			}
			// Tencent's template list does not say a template's type: remember it, so that the
			// check at send knows a marketing template (its jobs get the regulated window).
			if err := s.st.RecordTemplateType(ctx, s.api.account, id, strings.ToLower(typ)); err != nil {
				fmt.Fprintf(a.stderr, "enqueue: template %s added, but its type was not recorded: %v\n", id, err)
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(map[string]string{"id": id})
			}
			fmt.Fprintln(a.stdout, id)
			fmt.Fprintf(a.stderr, "enqueue: template %s submitted for review: enqueue template show %s\n", id, id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "template name (required)")
	f.StringVar(&content, "content", "", "template text with params {1}, {2}, ... (required)")
	f.StringVar(&typ, "type", "", "otp, notification or marketing (required)")
	f.BoolVar(&intl, "international", false, "a template for numbers outside mainland China")
	f.StringVar(&remark, "remark", "", "why, or where it is used: shown to the reviewer")
	f.BoolVar(&asJSON, "json", false, `print {"id": ...}`)
	return cmd
}

func (a *app) templateListCommand() *cobra.Command {
	var ids []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--id ID]...",
		Short: "List the account's templates (domestic and international) with their review status",
		Args:  exactArgs(0, "no arguments (template ids go in --id)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, id := range ids {
				if !isDigits(id) {
					return usagef("--id: %q is not a template id (digits)", id)
				}
			}
			ctx := cmd.Context()
			s, err := a.openSession(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			ts, err := s.api.listTemplates(ctx, ids)
			if err != nil {
				return fmt.Errorf("template list: %w", err)
			}
			return a.printTemplates(ts, asJSON)
		},
	}
	cmd.Flags().StringSliceVar(&ids, "id", nil, "only these template ids; repeat or separate with commas")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func (a *app) templateShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one template: content, params, region and review status",
		Args:  exactArgs(1, "one template ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !isDigits(id) {
				return usagef("show: %q is not a template id (digits)", id)
			}
			ctx := cmd.Context()
			s, err := a.openSession(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			t, err := s.api.findTemplate(ctx, id)
			if err != nil {
				return fmt.Errorf("template show: %w", err)
			}
			if t == nil {
				return fmt.Errorf("template %s not found (neither domestic nor international)", id)
			}
			v := templateView(*t)
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(v)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "id\t%s\n", v.ID)
			fmt.Fprintf(tw, "name\t%s\n", v.Name)
			fmt.Fprintf(tw, "status\t%s\n", v.Status)
			if v.ReviewReply != "" {
				fmt.Fprintf(tw, "review reply\t%s\n", v.ReviewReply)
			}
			fmt.Fprintf(tw, "region\t%s\n", v.Region)
			fmt.Fprintf(tw, "params\t%d\n", v.Params)
			if v.Created != "" {
				fmt.Fprintf(tw, "created\t%s\n", v.Created)
			}
			fmt.Fprintf(tw, "content\t%s\n", v.Content)
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// listTemplates returns the templates ids (all when ids is empty), domestic then international.
func (t *tencentAPI) listTemplates(ctx context.Context, ids []string) ([]tencentsms.Template, error) {
	var out []tencentsms.Template
	for _, intl := range []bool{false, true} {
		if len(ids) > 0 {
			for i := 0; i < len(ids); i += tencentsms.MaxTemplateIDs {
				ts, err := t.describeTemplates(ctx, tencentsms.TemplateListRequest{International: intl,
					TemplateIDs: ids[i:min(i+tencentsms.MaxTemplateIDs, len(ids))]})
				if err != nil {
					return nil, err
				}
				out = append(out, ts...)
			}
			continue
		}
		for offset := 0; ; offset += tencentsms.MaxTemplateIDs {
			ts, err := t.describeTemplates(ctx, tencentsms.TemplateListRequest{International: intl,
				Limit: tencentsms.MaxTemplateIDs, Offset: offset})
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
			if len(ts) < tencentsms.MaxTemplateIDs {
				break
			}
		}
	}
	return out, nil
}

// printTemplates writes ts as a JSON array or a table.
func (a *app) printTemplates(ts []tencentsms.Template, asJSON bool) error {
	views := make([]templateJSON, len(ts))
	for i, t := range ts {
		views[i] = templateView(t)
	}
	if asJSON {
		return json.NewEncoder(a.stdout).Encode(views)
	}
	return writeTemplateTable(a.stdout, views)
}

func writeTemplateTable(w io.Writer, views []templateJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tREGION\tSTATUS\tPARAMS\tCONTENT")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", v.ID, v.Name, v.Region, v.Status, v.Params, clipText(v.Content, 40))
	}
	return tw.Flush()
}

// clipText shortens s to n characters, with "..." when cut, on one line.
func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-3]) + "..."
}
