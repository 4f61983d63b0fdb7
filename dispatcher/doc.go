// Package dispatcher holds smsdispatch's asynq task handlers and background loops:
//
//   - SendHandler (tasks.TypeSendBatch) sends one batch: store.Claim (a reservation), the app's
//     halt check, the fleet-wide rate limiter, store.Launch (the attempt that may send), one
//     SendSms call, retry.Decide for the call and for every
//     number, store.IndexSerials and store.Commit, then the follow-up tasks (retry batches,
//     reconcile).
//   - ReconcileHandler (tasks.TypeReconcile) settles numbers whose send outcome is unknown:
//     evidence (a receipt, or PullSmsSendStatusByPhoneNumber over the send window) settles them
//     as sent; numbers without evidence after ReconcileWindow are resent (otp jobs at once). A
//     receipt is evidence only if it can be this batch's: its serial is not indexed to another
//     number, its SessionContext (if any) names this job and batch, and it was received no earlier
//     than the launch time minus a clock-skew margin (EvidenceSlack, 5 s). Its serial is indexed
//     set-if-absent (store.IndexEvidenceSerials), never taken from another send.
//   - ProbeHandler (tasks.TypeProbe) lets one parked batch of a halted app through and resumes
//     the app when Tencent accepts it.
//   - Puller pulls delivery receipts for every app in use, one puller per app across all workers
//     (a Redis lease), saving each page before applying it.
//   - Sweeper re-enqueues batches whose task is gone (or archived, or completed), reconciles of
//     unknown batches and probes of halted apps, under a lease.
//
// RetryDelay and IsFailure wire the handlers' *RetryAfterError into asynq.Config, so that waits
// (a claim held by another run, a send-at in the future, a throttled call, an open reconcile
// window, a rate-limiter wait cut short) do not use up a task's retries.
//
// # Sending at most once
//
// The handlers keep the invariants of docs/DESIGN.md: the batch record in Redis, not the task,
// decides what is sent, and a number whose outcome may have been sent is resent only after
// reconcile found no evidence for it. Once SendSms has been called the handler writes its results
// even if its context has ended (under CommitTimeout), since dropping them would turn accepted
// numbers into unknowns.
//
// # Dependencies
//
// The package depends on small interfaces it declares (SendStore, ReconcileStore, ReceiptStore,
// SweepStore, ProbeStore, Sender, StatusPuller, PhoneStatusPuller, Limiter, Enqueuer), satisfied
// by *store.Store, *tencentsms.Client, *ratelimit.Limiter and *tasks.Enqueuer. Logs go to an
// injected zap logger with constant messages; phone numbers are masked. Metrics go to an
// injected prometheus.Registerer (NewMetrics).
package dispatcher
