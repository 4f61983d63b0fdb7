package store_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/store"
)

// Example shows one batch's life: the producer creates the job, a worker claims the batch
// (the durable record written before SendSms), sends, and commits the per-number outcomes.
func Example() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	st := store.New(rdb, store.Options{})

	// Producer.
	job := store.Job{ID: "job-42", AppID: "1400000001", SignName: "Acme", TemplateID: "1001", Priority: store.PriorityOTP}
	batches := []store.NewBatch{{ParamSet: 0, Numbers: []string{"+8613800000001", "+8613800000002"}}}
	if _, err := st.CreateJob(ctx, job, [][]string{{"123456"}}, batches, 0); err != nil {
		panic(err)
	}

	// Worker: claim, send (SessionContext identifies the attempt), commit.
	claim, err := st.Claim(ctx, "job-42", 0, "worker-a/attempt-token")
	if err != nil {
		panic(err)
	}
	fmt.Println(claim.Outcome, claim.Attempt, claim.Numbers, claim.Params, store.SessionContext("job-42", 0, claim.Attempt))
	results := []store.NumberResult{
		{Index: claim.Indexes[0], State: store.Sent, SerialNo: "2433:1", Fee: 1},
		{Index: claim.Indexes[1], State: store.Failed, Code: "FailedOperation.PhoneNumberInBlacklist"},
	}
	if err := st.IndexSerials(ctx, "job-42", 0, results); err != nil {
		panic(err)
	}
	res, err := st.Commit(ctx, "job-42", 0, "worker-a/attempt-token", results)
	if err != nil {
		panic(err)
	}
	fmt.Println("applied:", res.Applied)

	// A redelivered task finds the batch done.
	again, _ := st.Claim(ctx, "job-42", 0, "worker-b/other-token")
	fmt.Println(again.Outcome)

	status, _ := st.Status(ctx, "job-42")
	fmt.Println(status.State, status.Total, status.Sent, status.Failed, status.FailedByCode)
	// Output:
	// Claimed 1 [+8613800000001 +8613800000002] [123456] job-42|0|1
	// applied: true
	// Done
	// delivering 2 1 1 map[FailedOperation.PhoneNumberInBlacklist:1]
}

// ExampleParseE164 shows the packed form of a number and the masked form used in logs and errors.
func ExampleParseE164() {
	v, err := store.ParseE164("+8613812345678")
	fmt.Println(v, err, store.FormatE164(v), store.MaskNumber("+8613812345678"))
	_, err = store.ParseE164("13812345678")
	fmt.Println(err)
	// Output:
	// 8613812345678 <nil> +8613812345678 +86138****5678
	// store: invalid input: number 138****5678 is not E.164: it must start with '+' and a digit
}

// ExampleStore_CreateJobStream writes a job whose batches are pulled one at a time, with their
// numbers packed (the E.164 digits as integers): a producer never holds the whole job as strings.
func ExampleStore_CreateJobStream() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	st := store.New(rdb, store.Options{})

	// 1,000 numbers from +8613800000000 in batches of 200, generated on demand into one buffer.
	const n, size = 1000, store.MaxBatchSize
	var buf []uint64
	batch := func(i int) (store.NewBatch, error) {
		buf = buf[:0]
		for k := i * size; k < min((i+1)*size, n); k++ {
			buf = append(buf, 8613800000000+uint64(k))
		}
		return store.NewBatch{ParamSet: 0, Packed: buf}, nil
	}
	job := store.Job{ID: "job-43", AppID: "1400000001", SignName: "Acme", TemplateID: "1001"}
	created, err := st.CreateJobStream(ctx, job, [][]string{{"spring"}}, (n+size-1)/size, batch, 0)
	fmt.Println(created, err)
	created, err = st.CreateJobStream(ctx, job, [][]string{{"spring"}}, (n+size-1)/size, batch, 0)
	fmt.Println(created, err) // the job exists: nothing written

	claim, _ := st.Claim(ctx, "job-43", 4, "token")
	fmt.Println(claim.Outcome, len(claim.Numbers), claim.Numbers[0], claim.Params)
	status, _ := st.Status(ctx, "job-43")
	fmt.Println(status.Total, status.Batches)
	// Output:
	// true <nil>
	// false <nil>
	// Claimed 200 +8613800000800 [spring]
	// 1000 5
}
