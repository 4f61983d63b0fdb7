package client_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
	"github.com/smsdispatch/smsdispatch/store"
)

// ExampleClient_Report writes the CSV report of a job (nothing sent yet, so every number is
// pending) and lists the recent jobs.
func ExampleClient_Report() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	c, err := client.New(rdb, client.Options{AppID: "1400000000"})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if _, err := c.Send(ctx, client.Request{JobID: "report-demo", TemplateID: "1000002", Params: []string{"Friend"},
		Recipients: []client.Recipient{{Number: "13800138000"}, {Number: "13800138001"}}}); err != nil {
		panic(err)
	}

	var out strings.Builder
	w, err := client.NewReportWriter(&out, client.ReportCSV, false)
	if err != nil {
		panic(err)
	}
	if err := c.Report(ctx, "report-demo", client.ReportFilter{}, w.Write); err != nil {
		panic(err)
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n")) // RFC 4180 ends lines with CRLF

	jobs, err := c.List(ctx, client.ListFilter{States: []store.JobState{store.StateRunning}})
	if err != nil {
		panic(err)
	}
	for _, st := range jobs {
		fmt.Println(st.ID, st.State, st.Total, st.Pending)
	}
	// Output:
	// number,state,serial_no,code,meaning,fee,receipt_status,receipt_description,sent_at,received_at
	// +8613800138000,pending,,,,,,,,
	// +8613800138001,pending,,,,,,,,
	// report-demo running 2 2
}
