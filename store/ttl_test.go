package store

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

func TestAddSat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b, want time.Duration
	}{
		{time.Hour, time.Minute, time.Hour + time.Minute},
		{72 * time.Hour, maxDuration, maxDuration},
		{maxDuration, 1, maxDuration},
		{maxDuration - 1, 1, maxDuration},
		{0, maxDuration, maxDuration},
		{time.Hour, -time.Minute, 59 * time.Minute},
		{math.MinInt64, -1, math.MinInt64},
	}
	for _, tt := range tests {
		if got := addSat(tt.a, tt.b); got != tt.want {
			t.Errorf("addSat(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestTTLArgNeverDeletes(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		time.Second: "1000", 0: "1", -time.Hour: "1", time.Microsecond: "1", maxDuration: "9223372036854",
	} {
		if got := ttlMs(d); got != want {
			t.Errorf("ttlMs(%v) = %s, want %s", d, got, want)
		}
	}
}

// TestCreateJobFarFutureSendAt: a send time centuries ahead (whose distance saturates
// time.Time.Sub) plus the retention used to wrap the TTL negative, so the job hash was deleted as
// it was written and CreateJob answered "already exists". The TTL saturates instead.
func TestCreateJobFarFutureSendAt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		retention time.Duration
		sendAt    time.Time
	}{
		{"year 2500", 0, time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year 9999 and a century of retention", 100 * 365 * 24 * time.Hour, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"next week", 0, redistest.T0.Add(7 * 24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			backendsOpts(t, Options{Retention: tc.retention}, func(t *testing.T, e *env) {
				ctx := context.Background()
				job := testJob("far")
				job.SendAt = tc.sendAt
				created, err := e.s.CreateJob(ctx, job, [][]string{{"1"}}, batchesOf(nums(0, 3), 2), 0)
				if err != nil || !created {
					t.Fatalf("CreateJob = %v, %v; want created", created, err)
				}
				got, err := e.s.Job(ctx, "far")
				if err != nil || !got.SendAt.Equal(tc.sendAt) {
					t.Fatalf("Job = %+v, %v", got, err)
				}
				e.wantCounts(t, "far", counts{State: StateScheduled, Total: 3, Pending: 3})
				want := e.s.opts.Retention
				for _, k := range []string{jobKey("far"), paramsKey("far"), batchKey("far", 0), batchKey("far", 1)} {
					// -1 (no TTL) is fine too: the job must just not be doomed.
					if ttl := e.rdb.PTTL(ctx, k).Val(); ttl != -1 && ttl < want {
						t.Errorf("%s: TTL %v, want at least %v", k, ttl, want)
					}
				}
			})
		})
	}
}

func TestCreateJobTimesOutOfRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(j *Job)
		want string
	}{
		{"send time after 9999", func(j *Job) { j.SendAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "send time"},
		{"expiry before 1970", func(j *Job) { j.ExpiresAt = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, "expiry"},
		{"creation year 20000", func(j *Job) { j.CreatedAt = time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC) }, "creation time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, redistest.Mini(t), Options{})
			job := testJob("j")
			tc.edit(&job)
			created, err := e.s.CreateJob(context.Background(), job, nil, batchesOf(nums(0, 1), 1), 0)
			if created || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateJob = %v, %v; want ErrInvalid naming the %s", created, err, tc.want)
			}
			if n := len(e.db.Mini.Keys()); n != 0 {
				t.Fatalf("wrote %d keys", n)
			}
		})
	}
}

// TestCreateJobFingerprint: the producer's request fingerprint is kept as given and read back by
// Job; a job created without one reads back with none.
func TestCreateJobFingerprint(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		job := testJob("fp")
		job.Fingerprint = `{"v":1,"TemplateID":"1001"}`
		e.create(t, job, 2, 2)
		got, err := e.s.Job(ctx, "fp")
		if err != nil || got.Fingerprint != job.Fingerprint {
			t.Fatalf("Job = %+v, %v; want fingerprint %q", got, err, job.Fingerprint)
		}
		e.create(t, testJob("none"), 2, 2)
		if got, err := e.s.Job(ctx, "none"); err != nil || got.Fingerprint != "" {
			t.Fatalf("Job = %+v, %v; want no fingerprint", got, err)
		}
		long := testJob("long")
		long.Fingerprint = strings.Repeat("x", maxFingerprintLen+1)
		if created, err := e.s.CreateJob(ctx, long, nil, batchesOf(nums(0, 1), 1), 0); created || !errors.Is(err, ErrInvalid) {
			t.Fatalf("long fingerprint: %v, %v", created, err)
		}
	})
}
