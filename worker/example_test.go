package worker_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/smsdispatch/smsdispatch/sandbox"
	"github.com/smsdispatch/smsdispatch/tencentsms"
	"github.com/smsdispatch/smsdispatch/worker"
)

// A worker against an in-memory Redis and a local sandbox of the Tencent API: build, start, and
// shut down gracefully. The caller owns (and closes) the Redis client.
func ExampleNew() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	sb, _ := sandbox.New(sandbox.DefaultConfig())
	tencent := httptest.NewServer(sb)
	defer tencent.Close()

	w, err := worker.New(worker.Config{
		Redis: rdb,
		Tencent: tencentsms.Config{
			SecretID:  sandbox.DefaultSecretID,
			SecretKey: sandbox.DefaultSecretKey,
			Endpoint:  tencent.URL,
		},
		AppID:       sandbox.DefaultAppID,
		SignName:    sandbox.DefaultSignName,
		RateLimit:   100,
		MetricsAddr: "127.0.0.1:0", // /metrics, /healthz, /readyz on a free port
	}, zap.NewNop(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	// ... the worker sends every job enqueued in Redis (see package client) ...
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println(w.Shutdown(ctx))
	// Output: <nil>
}
