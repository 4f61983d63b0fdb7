package ratelimit_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/smsdispatch/smsdispatch/ratelimit"
)

// Every worker process builds the same Limiter on the shared Redis; together they never make more
// than 3000 SendSms calls in any sliding second.
func ExampleLimiter() {
	m, err := miniredis.Run() // production: the Redis every worker shares
	if err != nil {
		panic(err)
	}
	defer m.Close()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()

	lim, err := ratelimit.New(rdb, ratelimit.Key("SendSms", "ap-guangzhou", "AKID..."), 3000)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := lim.Wait(ctx); err != nil { // blocks until this process may call
			panic(err)
		}
		// client.SendSms(ctx, req)
	}
	fmt.Println("3 calls granted, at least", lim.Interval().Round(1000), "apart")
	// Output: 3 calls granted, at least 351µs apart
}
