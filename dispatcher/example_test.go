package dispatcher_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/dispatcher"
	"github.com/smsdispatch/smsdispatch/ratelimit"
	"github.com/smsdispatch/smsdispatch/store"
	"github.com/smsdispatch/smsdispatch/tasks"
	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// Wiring the send handler into an asynq server: the store, the Tencent client and the fleet-wide
// limiter share one Redis; RetryDelay and IsFailure let waits retry without using up retries.
func ExampleNewSendHandler() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379"})
	client, err := tencentsms.New(tencentsms.Config{SecretID: "AKID...", SecretKey: "..."})
	if err != nil {
		panic(err)
	}
	limiter, err := ratelimit.New(rdb, ratelimit.Key("SendSms", tencentsms.DefaultRegion, "AKID..."), 3000)
	if err != nil {
		panic(err)
	}
	send, err := dispatcher.NewSendHandler(dispatcher.SendConfig{
		Store:    store.New(rdb, store.Options{}),
		Sender:   client,
		Enqueuer: tasks.NewEnqueuer(rdb),
		Limiter:  limiter,
		Logger:   zap.NewNop(),
	})
	if err != nil {
		panic(err)
	}
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeSendBatch, send)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues:         map[string]int{tasks.QueueNormal: 6, tasks.QueueBulk: 1},
		RetryDelayFunc: dispatcher.RetryDelay,
		IsFailure:      dispatcher.IsFailure,
	})
	_ = srv.Start(mux)
}

// A handler that must wait returns a *RetryAfterError: asynq runs the task again after the delay
// (rounded up to whole seconds) and does not count a failure.
func ExampleRetryAfterError() {
	err := fmt.Errorf("batch j1/0: %w", &dispatcher.RetryAfterError{Delay: 30 * time.Second, Reason: "batch not due yet"})
	fmt.Println(dispatcher.IsFailure(err), dispatcher.RetryDelay(0, err, nil) >= 30*time.Second)
	fmt.Println(dispatcher.IsFailure(errors.New("redis: connection refused")))
	// Output:
	// false true
	// true
}
