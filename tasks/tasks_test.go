package tasks

import (
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestSendBatchRoundTrip(t *testing.T) {
	t.Parallel()
	task, err := NewSendBatchTask(SendBatch{Job: "j1", Batch: 7}, PriorityOTP)
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != TypeSendBatch {
		t.Fatalf("type %q", task.Type())
	}
	if len(task.Payload()) > 64 {
		t.Fatalf("payload %d bytes, want ids only", len(task.Payload()))
	}
	got, err := ParseSendBatch(task.Task)
	if err != nil {
		t.Fatal(err)
	}
	if got != (SendBatch{Job: "j1", Batch: 7}) {
		t.Fatalf("got %+v", got)
	}
}

func TestQueueFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prio, queue string }{
		{PriorityOTP, QueueOTP}, {PriorityNormal, QueueNormal}, {"", QueueNormal}, {PriorityBulk, QueueBulk},
	} {
		q, err := QueueFor(tc.prio)
		if err != nil || q != tc.queue {
			t.Errorf("QueueFor(%q) = %q, %v; want %q", tc.prio, q, err, tc.queue)
		}
	}
	if _, err := QueueFor("urgent"); !errors.Is(err, ErrInvalidPriority) {
		t.Errorf("QueueFor(urgent) err = %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]*asynq.Task{
		"wrong type":    asynq.NewTask(TypeReconcile, []byte(`{"job":"j","batch":1}`)),
		"bad json":      asynq.NewTask(TypeSendBatch, []byte(`{"job":`)),
		"empty job":     asynq.NewTask(TypeSendBatch, []byte(`{"job":"","batch":1}`)),
		"reserved char": asynq.NewTask(TypeSendBatch, []byte(`{"job":"a{b}","batch":1}`)),
		"negative":      asynq.NewTask(TypeSendBatch, []byte(`{"job":"j","batch":-1}`)),
	}
	for name, task := range cases {
		if _, err := ParseSendBatch(task); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("%s: err = %v, want ErrInvalidPayload", name, err)
		}
	}
	if _, err := ParseSendBatch(nil); !errors.Is(err, ErrInvalidPayload) {
		t.Errorf("nil task: err = %v", err)
	}
}

func TestReconcileAndProbe(t *testing.T) {
	t.Parallel()
	rt, err := NewReconcileTask(Reconcile{Job: "j", Batch: 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ParseReconcile(rt.Task); err != nil || r.Batch != 2 {
		t.Fatalf("reconcile: %+v %v", r, err)
	}
	pt, err := NewProbeTask(Probe{App: "1400000000"}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ParseProbe(pt.Task); err != nil || p.App != "1400000000" {
		t.Fatalf("probe: %+v %v", p, err)
	}
	if _, err := NewProbeTask(Probe{}, time.Now()); !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("empty probe err = %v", err)
	}
	if _, err := NewProbeTask(Probe{App: "1400000000"}, time.Time{}); !errors.Is(err, ErrInvalidPayload) {
		t.Fatalf("zero probe time err = %v", err)
	}
}

func FuzzParseSendBatch(f *testing.F) {
	f.Add([]byte(`{"job":"j","batch":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"job":"{x}","batch":-5}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		p, err := ParseSendBatch(asynq.NewTask(TypeSendBatch, payload))
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("error not wrapped: %v", err)
			}
			return
		}
		if p.Job == "" || p.Batch < 0 {
			t.Fatalf("invalid payload accepted: %+v", p)
		}
	})
}

// TestTaskLocation pins every TaskID and queue: they are stored in Redis and must never change.
func TestTaskLocation(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 0)
	mustTask := func(task *Task, err error) *Task {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	for _, tc := range []struct {
		name      string
		task      *Task
		queue, id string
	}{
		{"send otp", mustTask(NewSendBatchTask(SendBatch{Job: "j1", Batch: 7}, PriorityOTP)), QueueOTP, "send:j1:7"},
		{"send bulk", mustTask(NewSendBatchTask(SendBatch{Job: "j1", Batch: 0}, PriorityBulk)), QueueBulk, "send:j1:0"},
		{"reconcile", mustTask(NewReconcileTask(Reconcile{Job: "j", Batch: 2}, 3)), QueueMaint, "reconcile:j:2:3"},
		{"probe", mustTask(NewProbeTask(Probe{App: "1400000000"}, at)), QueueMaint, "probe:1400000000:1700000000"},
		{"queue option", mustTask(NewReconcileTask(Reconcile{Job: "j", Batch: 2}, 3, asynq.Queue(QueueOTP))), QueueOTP, "reconcile:j:2:3"},
	} {
		if tc.task.Queue() != tc.queue || tc.task.ID() != tc.id {
			t.Errorf("%s: on %q as %q, want %q as %q", tc.name, tc.task.Queue(), tc.task.ID(), tc.queue, tc.id)
		}
	}
	if id := SendBatchTaskID("j1", 7); id != "send:j1:7" {
		t.Errorf("SendBatchTaskID = %q", id)
	}
	if id := ReconcileTaskID("j", 2, 3); id != "reconcile:j:2:3" {
		t.Errorf("ReconcileTaskID = %q", id)
	}
	if id := ProbeTaskID("1400000000", at); id != "probe:1400000000:1700000000" {
		t.Errorf("ProbeTaskID = %q", id)
	}
}
