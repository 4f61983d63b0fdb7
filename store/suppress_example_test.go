package store_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/store"
)

// ExampleStore_Suppress puts a number on the suppression list, looks a batch's numbers up as the
// send path does before SendSms, lists the list and takes the number off again.
func ExampleStore_Suppress() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	st := store.New(rdb, store.Options{})

	if err := st.Suppress(ctx, []string{"+8613800000002"}, "TD"); err != nil {
		panic(err)
	}
	on, err := st.Suppressed(ctx, []string{"+8613800000001", "+8613800000002"})
	if err != nil {
		panic(err)
	}
	fmt.Println(on)
	for sp, err := range st.Suppressions(ctx) {
		if err != nil {
			panic(err)
		}
		fmt.Println(sp.Number, sp.Reason)
	}
	n, err := st.Unsuppress(ctx, []string{"+8613800000002"})
	fmt.Println("removed", n, err)
	// Output:
	// [false true]
	// +8613800000002 TD
	// removed 1 <nil>
}
