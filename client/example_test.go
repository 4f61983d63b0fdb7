package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/client"
)

// Example sends a job of three recipients (one with its own params, one invalid) and reads its
// status. Workers (cmd/worker) would then send its batch.
func Example() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	c, err := client.New(rdb, client.Options{AppID: "1400000000", SignName: "Acme"})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	req := client.Request{
		JobID:      "welcome-2026-03-01",
		TemplateID: "1000002",
		Params:     []string{"Friend"},
		Recipients: []client.Recipient{
			{Number: "13800138000"},
			{Number: "+1 650 253 0000", Params: []string{"Ada"}},
			{Number: "not a number"},
		},
	}
	res, err := c.Send(ctx, req)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.JobID, res.Created, res.Accepted, res.Batches)
	for _, r := range res.Rejected {
		fmt.Printf("rejected #%d %q: %s\n", r.Line, r.Input, r.Reason)
	}

	st, err := c.Status(ctx, res.JobID)
	if err != nil {
		panic(err)
	}
	fmt.Println(st.State, st.Total, st.Pending, st.Rejected)

	// Sending the same request with the same job id again sends nothing new.
	again, err := c.Send(ctx, req)
	fmt.Println(again.Created, again.Accepted, err)

	// The same job id with a different request is refused, naming the differences.
	req.TemplateID, req.Recipients = "1000003", []client.Recipient{{Number: "13800138001"}}
	_, err = c.Send(ctx, req)
	var ie *client.IdempotencyError
	if errors.As(err, &ie) {
		fmt.Println(errors.Is(err, client.ErrIdempotencyMismatch), ie.Fields())
	}
	// Output:
	// welcome-2026-03-01 true 2 2
	// rejected #3 "not a number": not a phone number
	// running 2 2 1
	// false 2 <nil>
	// true [TemplateID Recipients]
}

// ExampleClient_Send_reader sends to a CSV list (a file or stdin in practice), reporting bad lines.
func ExampleClient_Send_reader() {
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
	list := "# number,code,minutes\n13800138000,123456,5\n13800138001,654321,5\n12345,000000,5\n13800138000,999999,5\n"
	res, err := c.Send(context.Background(), client.Request{
		JobID:      "otp-batch-1",
		TemplateID: "1000001",
		Priority:   "otp",
		Reader:     strings.NewReader(list),
		OnReject: func(le client.LineError) {
			fmt.Printf("line %d: %s\n", le.Line, le.Reason)
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Accepted, "accepted,", res.Duplicates, "duplicate,", res.RejectedCount, "rejected")
	// Output:
	// line 4: not a valid number for CN
	// 2 accepted, 1 duplicate, 1 rejected
}

// ExampleClient_Cancel cancels a scheduled job before any of it is sent.
func ExampleClient_Cancel() {
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
	if _, err := c.Send(ctx, client.Request{JobID: "promo-7", TemplateID: "1000003", Priority: "bulk",
		Recipients: []client.Recipient{{Number: "13800138000"}, {Number: "13800138001"}}}); err != nil {
		panic(err)
	}
	st, err := c.Cancel(ctx, "promo-7")
	if err != nil {
		panic(err)
	}
	fmt.Println(st.State, st.Cancelled, st.Pending, client.Settled(st))
	// Output:
	// cancelled 2 0 true
}
