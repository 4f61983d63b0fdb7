package store_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/store"
)

// ExampleStore_IndexEvidenceSerials shows how reconcile checks a receipt found for a number whose
// send outcome is unknown: a serial indexed to another send is that send's receipt, and indexing
// evidence never takes a serial over.
func ExampleStore_IndexEvidenceSerials() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	st := store.New(rdb, store.Options{})

	// Job A's send learned its serial from the SendSms reply.
	if err := st.IndexSerials(ctx, "job-a", 0, []store.NumberResult{{Index: 3, State: store.Sent, SerialNo: "2433:1"}}); err != nil {
		panic(err)
	}
	// Job B's reply was lost; a lookup by number found receipts 2433:1 and 2433:2.
	refs, err := st.SerialRefs(ctx, []string{"2433:1", "2433:2"})
	if err != nil {
		panic(err)
	}
	fmt.Println(refs["2433:1"].Job, refs["2433:1"].Batch, refs["2433:1"].Index)
	_, indexed := refs["2433:2"]
	fmt.Println("2433:2 indexed:", indexed)

	// Indexing evidence is set-if-absent: 2433:1 stays job A's.
	conflicts, err := st.IndexEvidenceSerials(ctx, "job-b", 0, []store.NumberResult{
		{Index: 0, State: store.Sent, SerialNo: "2433:1"},
		{Index: 1, State: store.Sent, SerialNo: "2433:2"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("conflicts:", len(conflicts), conflicts["2433:1"].Job)

	job, batch, attempt, ok := store.ParseSessionContext(store.SessionContext("job-b", 0, 2))
	fmt.Println(job, batch, attempt, ok)
	// Output:
	// job-a 0 3
	// 2433:2 indexed: false
	// conflicts: 1 job-a
	// job-b 0 2 true
}
