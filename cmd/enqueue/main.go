// Command enqueue sends SMS jobs to smsdispatch's workers through Redis and follows them:
//
//	enqueue send --template ID [--param V]... [--sign NAME] [--app ID] [--priority otp|normal|bulk]
//	    [--at RFC3339] [--expire DURATION] [--id JOB_ID] [--country CN] [--defer-daily-limit]
//	    (--to NUMBER... | --file PATH | --file -) [--encoding utf-8|gb18030]
//	    [--window HH:MM-HH:MM [--tz ZONE]] [--json] [--rejects FILE] [--strict] [--no-check]
//	    [--dry-run [--content TEXT]]
//	enqueue status JOB_ID [--json] [--wait [--interval D] [--timeout D] [--exit-status]]
//	enqueue list [--state S]... [--app ID] [--limit N] [--json]
//	enqueue report JOB_ID [--format csv|json] [--state S]... [--bom]
//	enqueue cancel JOB_ID [--json]
//	enqueue resume [--app ID]
//	enqueue suppress add NUMBER... [--reason R] [--country CN]
//	enqueue suppress remove NUMBER... [--country CN]
//	enqueue suppress list [--json]
//	enqueue suppress import FILE [--reason R] [--country CN] [--encoding utf-8|gb18030]
//	enqueue template add --name N --content C --type otp|notification|marketing [--international] [--remark R] [--json]
//	enqueue template list [--id ID]... [--json]
//	enqueue template show ID [--json]
//	enqueue stats --from yyyymmddhh --to yyyymmddhh [--app ID] [--json]
//	enqueue balance [--app ID] [--json]
//	enqueue --version
//
// Redis is REDIS_URL (default redis://127.0.0.1:6379/0) or REDIS_CLUSTER_NODES, each also a flag
// (--redis-url, --redis-cluster-nodes; flags win), read like the worker reads them;
// SMS_SDK_APP_ID and SMS_SIGN_NAME are the defaults of --app and --sign. Without either app,
// send uses the app a running worker advertises, and says so once per app (remembered under
// the user's cache directory, smsdispatch/). The template check of send, template, stats and
// balance call Tencent with TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY, TENCENTCLOUD_REGION
// and SMS_ENDPOINT (environment only); with none set, the sandbox a zero-setup worker advertises.
//
// Exit status:
//
//	0  success
//	1  the operation failed; status --wait --exit-status: the job ended failed or cancelled, or
//	   is paused; status --wait --timeout: the time ran out
//	2  bad usage: an unknown command, a malformed flag, argument, job id or setting
//	3  the job was not found (never created, or expired after its retention)
//	4  Redis is unreachable
//	5  send --id names a job that was created by a different request (nothing sent)
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	quietRedisLogs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// quietRedisLogs silences go-redis's process-wide logger: its dial retries would print lines
// between enqueue's own messages, which already carry the error.
func quietRedisLogs() { redis.SetLogger(discardLogger{}) }

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}
