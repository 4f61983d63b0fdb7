// Package tasks owns smsdispatch's asynq task type names, queue names, TaskIDs, payload structs,
// their constructors and parsers, and the one way to enqueue them (Enqueuer). It holds no business
// logic.
//
// Type and queue names and TaskIDs are stable strings stored in Redis: never change one once
// deployed. Payloads carry ids only (job id, batch index, app id), never phone numbers, so every
// payload is a few dozen bytes however large the job (asynq rewrites active payloads every 5 s).
package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/smsdispatch/smsdispatch/store"
)

// Task type names.
const (
	// TypeSendBatch sends one batch (at most 200 numbers) of a job.
	TypeSendBatch = "sms:send_batch"
	// TypeReconcile settles a batch's numbers whose send outcome is unknown.
	TypeReconcile = "sms:reconcile"
	// TypeProbe lets one batch of a halted app through to learn whether the halt has ended.
	TypeProbe = "sms:probe"
)

// Queue names. OTP has its own queue, served by its own worker slots.
const (
	QueueOTP    = "sms-otp"
	QueueNormal = "sms-normal"
	QueueBulk   = "sms-bulk"
	QueueMaint  = "sms-maint"
)

// Priorities a job may have: the store's (store.Job.Priority), which owns them; each names its
// queue (QueueFor).
const (
	PriorityOTP    = store.PriorityOTP
	PriorityNormal = store.PriorityNormal
	PriorityBulk   = store.PriorityBulk
)

// ErrInvalidPayload is wrapped by every parse error.
var ErrInvalidPayload = errors.New("tasks: invalid payload")

// ErrInvalidPriority is returned for a priority other than otp, normal or bulk.
var ErrInvalidPriority = errors.New("tasks: invalid priority")

// QueueFor returns the queue of a priority: otp, normal or bulk.
func QueueFor(priority string) (string, error) {
	switch priority {
	case PriorityOTP:
		return QueueOTP, nil
	case PriorityNormal, "":
		return QueueNormal, nil
	case PriorityBulk:
		return QueueBulk, nil
	}
	return "", fmt.Errorf("%w %q (want otp, normal or bulk)", ErrInvalidPriority, priority)
}

// SendBatch is the payload of TypeSendBatch.
type SendBatch struct {
	Job   string `json:"job"`
	Batch int    `json:"batch"`
}

// Reconcile is the payload of TypeReconcile.
type Reconcile struct {
	Job   string `json:"job"`
	Batch int    `json:"batch"`
}

// Probe is the payload of TypeProbe.
type Probe struct {
	App string `json:"app"`
}

// Task is an asynq task built by this package, with the queue and TaskID it is enqueued under
// (which asynq.Task does not expose): Enqueuer needs them to look the task up after a TaskID
// conflict. Handlers and parsers take the embedded *asynq.Task.
type Task struct {
	*asynq.Task
	queue, id string
}

// Queue returns the queue the task is enqueued on (options given at enqueue time may override it).
func (t *Task) Queue() string { return t.queue }

// ID returns the task's TaskID (options given at enqueue time may override it).
func (t *Task) ID() string { return t.id }

// newTask builds a task whose defaults are queue and id, then opts; the last Queue and TaskID
// option wins, as in asynq.
func newTask(typ string, payload []byte, queue, id string, defaults, opts []asynq.Option) *Task {
	all := append([]asynq.Option{asynq.Queue(queue), asynq.TaskID(id)}, defaults...)
	all = append(all, opts...)
	t := &Task{Task: asynq.NewTask(typ, payload, all...)}
	t.queue, t.id = locate(queue, id, opts)
	return t
}

// locate returns the queue and TaskID a task enqueued with opts goes under: the last Queue and
// TaskID options, else queue and id.
func locate(queue, id string, opts []asynq.Option) (string, string) {
	for _, o := range opts {
		switch o.Type() {
		case asynq.QueueOpt:
			queue, _ = o.Value().(string)
		case asynq.TaskIDOpt:
			id, _ = o.Value().(string)
		}
	}
	return queue, id
}

// SendBatchTaskID is the TaskID of the send task of batch batch of job: send:<job>:<batch>.
func SendBatchTaskID(job string, batch int) string {
	return "send:" + job + ":" + strconv.Itoa(batch)
}

// ReconcileTaskID is the TaskID of the reconcile task of one unknown attempt of a batch:
// reconcile:<job>:<batch>:<attempt>.
func ReconcileTaskID(job string, batch, attempt int) string {
	return "reconcile:" + job + ":" + strconv.Itoa(batch) + ":" + strconv.Itoa(attempt)
}

// ProbeTaskID is the TaskID of the probe of app at probe time at: probe:<app>:<at unix seconds>.
// Every handler that parks a batch of the app asks for the same probe, and only one is queued.
func ProbeTaskID(app string, at time.Time) string {
	return "probe:" + app + ":" + strconv.FormatInt(at.Unix(), 10)
}

// NewSendBatchTask returns the task that sends batch p.Batch of job p.Job on the queue of
// priority. Its TaskID is deterministic (SendBatchTaskID), so Enqueuer does not enqueue it twice
// while the first is still queued; the batch record, not the task, decides what is sent.
func NewSendBatchTask(p SendBatch, priority string, opts ...asynq.Option) (*Task, error) {
	if err := validateRef(p.Job, p.Batch); err != nil {
		return nil, err
	}
	queue, err := QueueFor(priority)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: marshal send batch: %w", err)
	}
	defaults := []asynq.Option{asynq.MaxRetry(25), asynq.Timeout(2 * time.Minute)}
	return newTask(TypeSendBatch, payload, queue, SendBatchTaskID(p.Job, p.Batch), defaults, opts), nil
}

// ParseSendBatch decodes and validates a TypeSendBatch payload.
func ParseSendBatch(t *asynq.Task) (SendBatch, error) {
	var p SendBatch
	if err := decode(t, TypeSendBatch, &p); err != nil {
		return SendBatch{}, err
	}
	if err := validateRef(p.Job, p.Batch); err != nil {
		return SendBatch{}, err
	}
	return p, nil
}

// NewReconcileTask returns the task that reconciles batch p.Batch of job p.Job on the maint queue.
// Its TaskID is ReconcileTaskID, one per unknown attempt.
func NewReconcileTask(p Reconcile, attempt int, opts ...asynq.Option) (*Task, error) {
	if err := validateRef(p.Job, p.Batch); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: marshal reconcile: %w", err)
	}
	defaults := []asynq.Option{asynq.MaxRetry(25), asynq.Timeout(5 * time.Minute)}
	return newTask(TypeReconcile, payload, QueueMaint, ReconcileTaskID(p.Job, p.Batch, attempt), defaults, opts), nil
}

// ParseReconcile decodes and validates a TypeReconcile payload.
func ParseReconcile(t *asynq.Task) (Reconcile, error) {
	var p Reconcile
	if err := decode(t, TypeReconcile, &p); err != nil {
		return Reconcile{}, err
	}
	if err := validateRef(p.Job, p.Batch); err != nil {
		return Reconcile{}, err
	}
	return p, nil
}

// NewProbeTask returns the task that probes halted app p.App at probe time at, on the maint queue.
// Its TaskID is ProbeTaskID. It does not set when the task runs: pass asynq.ProcessAt for that.
func NewProbeTask(p Probe, at time.Time, opts ...asynq.Option) (*Task, error) {
	if p.App == "" {
		return nil, fmt.Errorf("%w: probe: empty app", ErrInvalidPayload)
	}
	if at.IsZero() {
		return nil, fmt.Errorf("%w: probe: zero probe time", ErrInvalidPayload)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: marshal probe: %w", err)
	}
	defaults := []asynq.Option{asynq.MaxRetry(3), asynq.Timeout(time.Minute)}
	return newTask(TypeProbe, payload, QueueMaint, ProbeTaskID(p.App, at), defaults, opts), nil
}

// ParseProbe decodes and validates a TypeProbe payload.
func ParseProbe(t *asynq.Task) (Probe, error) {
	var p Probe
	if err := decode(t, TypeProbe, &p); err != nil {
		return Probe{}, err
	}
	if p.App == "" {
		return Probe{}, fmt.Errorf("%w: probe: empty app", ErrInvalidPayload)
	}
	return p, nil
}

func decode(t *asynq.Task, typ string, v any) error {
	if t == nil {
		return fmt.Errorf("%w: nil task", ErrInvalidPayload)
	}
	if t.Type() != typ {
		return fmt.Errorf("%w: task type %q, want %q", ErrInvalidPayload, t.Type(), typ)
	}
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidPayload, typ, err)
	}
	return nil
}

func validateRef(job string, batch int) error {
	if job == "" {
		return fmt.Errorf("%w: empty job id", ErrInvalidPayload)
	}
	if strings.ContainsAny(job, "{}|: \t\r\n") {
		return fmt.Errorf("%w: job id %q has a reserved character", ErrInvalidPayload, job)
	}
	if batch < 0 {
		return fmt.Errorf("%w: negative batch index %d", ErrInvalidPayload, batch)
	}
	return nil
}
