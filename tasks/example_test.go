package tasks_test

import (
	"fmt"

	"github.com/smsdispatch/smsdispatch/tasks"
)

// A producer builds the task of one batch; the worker's handler parses it back. The payload holds
// ids only, whatever the size of the job.
func ExampleNewSendBatchTask() {
	task, err := tasks.NewSendBatchTask(tasks.SendBatch{Job: "greetings-2027", Batch: 41}, tasks.PriorityBulk)
	if err != nil {
		panic(err)
	}
	fmt.Println(task.Type(), string(task.Payload()))

	fmt.Println(task.Queue(), task.ID())

	p, err := tasks.ParseSendBatch(task.Task)
	fmt.Println(p.Job, p.Batch, err)
	// Output:
	// sms:send_batch {"job":"greetings-2027","batch":41}
	// sms-bulk send:greetings-2027:41
	// greetings-2027 41 <nil>
}
