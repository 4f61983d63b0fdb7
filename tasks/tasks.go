// Package tasks owns smsdispatch's asynq task type names, queue names, payload structs, and their
// constructors and parsers. It holds no business logic.
//
// Type and queue names are stable strings stored in Redis: never rename one once deployed.
// Payloads carry ids only (job id, batch index, app id), never phone numbers, so every payload is a
// few dozen bytes however large the job (asynq rewrites active payloads every 5 s).
package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
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

// Priorities a job may have.
const (
	PriorityOTP    = "otp"
	PriorityNormal = "normal"
	PriorityBulk   = "bulk"
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

// NewSendBatchTask returns the task that sends batch p.Batch of job p.Job on the queue of
// priority. Its TaskID is deterministic (send:<job>:<batch>), so enqueueing it twice while the
// first is still queued is refused by asynq with asynq.ErrTaskIDConflict; the batch record, not
// the task, decides what is sent.
func NewSendBatchTask(p SendBatch, priority string, opts ...asynq.Option) (*asynq.Task, error) {
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
	defaults := []asynq.Option{
		asynq.Queue(queue),
		asynq.TaskID(fmt.Sprintf("send:%s:%d", p.Job, p.Batch)),
		asynq.MaxRetry(25),
		asynq.Timeout(2 * time.Minute),
	}
	return asynq.NewTask(TypeSendBatch, payload, append(defaults, opts...)...), nil
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

// NewReconcileTask returns the task that reconciles batch p.Batch of job p.Job. Its TaskID is
// reconcile:<job>:<batch>:<attempt>, one per unknown attempt.
func NewReconcileTask(p Reconcile, attempt int, opts ...asynq.Option) (*asynq.Task, error) {
	if err := validateRef(p.Job, p.Batch); err != nil {
		return nil, err
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: marshal reconcile: %w", err)
	}
	defaults := []asynq.Option{
		asynq.Queue(QueueMaint),
		asynq.TaskID(fmt.Sprintf("reconcile:%s:%d:%d", p.Job, p.Batch, attempt)),
		asynq.MaxRetry(25),
		asynq.Timeout(5 * time.Minute),
	}
	return asynq.NewTask(TypeReconcile, payload, append(defaults, opts...)...), nil
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

// NewProbeTask returns the task that probes halted app p.App at its probe time.
func NewProbeTask(p Probe, opts ...asynq.Option) (*asynq.Task, error) {
	if p.App == "" {
		return nil, fmt.Errorf("%w: probe: empty app", ErrInvalidPayload)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("tasks: marshal probe: %w", err)
	}
	defaults := []asynq.Option{asynq.Queue(QueueMaint), asynq.MaxRetry(3), asynq.Timeout(time.Minute)}
	return asynq.NewTask(TypeProbe, payload, append(defaults, opts...)...), nil
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
