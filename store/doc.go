// Package store keeps smsdispatch's records in Redis: jobs, their batches with per-number send
// state, delivery receipts, app halts and leases. The key layout and every Lua script live here
// and nowhere else; other packages use the Store methods.
//
// # Claims
//
// The invariants these methods keep are listed in docs/DESIGN.md. In short: Claim reserves a
// batch's pending numbers for one run (a token; Busy when another run holds it, Done once
// committed), Launch turns the reservation into the attempt that may call SendSms (re-checking
// cancel, job failure and expiry, counting the attempt), and Commit, by that token only, writes
// every number's outcome and the job counters in one script. Release and Requeue give a claim
// up without a call. A reservation older than Options.ClaimLease gives its numbers back to
// pending; a launched claim that old turns them unknown (Unresolved), and only SettleUnknown
// (with evidence) or ResendUnknown changes an unknown number. A late Commit from the attempt
// that held the expired claim is still accepted as evidence.
//
// # Key layout
//
// Every key of one job carries the hash tag {<job>} and every key of one app {<app>}, so each
// script touches one slot and runs unchanged on Redis Cluster. Job ids and app ids therefore may
// not contain '{', '}', '|' or whitespace.
//
//	sms:{J}:job            hash  spec: app sign tpl sender ext prio send_at expires_at created
//	                             defer_daily (times in unix ms), fp (the request's fingerprint),
//	                             win tz (send window "from-to" minutes and its zone), ttype
//	                             (template type); counters: total sent failed
//	                             cancelled unknown suppressed delivered undelivered rejected fee
//	                             batches, fc:<code> failed by code, h:<hour>:<s|f|d|u|e> sent,
//	                             failed, delivered, undelivered, fee per hour since the epoch
//	                             (HourlyCounts, recent.go); flags: cancel, fail (job-fatal code),
//	                             lc (last commit ms), ready (0 while being created), cn (creator),
//	                             xs (1 while its keys get their retention TTL once settled, 2 done)
//	sms:{J}:params         list  JSON param sets; batches refer to them by index
//	sms:{J}:b:<n>          hash  num: packed numbers, 8-byte big-endian uint64 of the E.164 digits
//	                             each; st: one state byte per number; pi: param index; intl: "1"
//	                             for international; s: pending|inflight|unknown|done|cancelled;
//	                             a: attempt (launched claims only); tok: claim token; at: claim
//	                             ms (the reservation's, then the launch's); rv: "1" while the
//	                             claim is a reservation not launched yet; nb: not-before ms;
//	                             cm/rb/hu: the committed result (replayed to a repeated Commit);
//	                             fc: failure code of numbers failed as a whole (expiry, job fail);
//	                             lr/lx/ln: receipt lookup rounds done, progress, next due (lookups.go);
//	                             sr/rc/fd: per-number send results and receipts, one line per
//	                             number, and the common fee (results.go; Recipients reads them)
//	sms:{J}:codes          hash  "<batch>:<idx>" -> failure code of numbers that failed on send
//	sms:sn:{sn<h>}:<yyyymmdd>
//	                       hash  the serial index: Tencent SerialNo -> "<job>|<batch>|<idx>"
//	                             (receipts), one hash per UTC day and shard h (2 hex digits:
//	                             FNV-1a of the serial mod 16); see below
//	sms:supp:{sp<hh>}      hash  the suppression list: E.164 number -> "<ms>|<reason>", one hash
//	                             per shard hh (2 hex digits: FNV-1a of the number mod 256); no
//	                             TTL (a record of consent; suppress.go)
//	sms:rcpt:{A}:inbox     hash  page id -> raw receipt page (JSON), saved before it is applied;
//	                             no TTL (a page stays until applied; the hash goes when empty)
//	sms:rcpt:{A}:unmatched str   count of receipts that matched no send, each counted once
//	sms:rcpt:{A}:umseen    set   identities (SerialNo, else number|time) of the receipts counted
//	                             in unmatched, so a receipt pushed and pulled counts once
//	sms:rcpt:{A}:pulling   str   ms a pull started, cleared once its page is saved (pullmark.go)
//	sms:rcpt:loss          str   ms before which pulled receipts may be lost (a pull mark left)
//	sms:um:<e164>          set   unmatched receipts of a number (JSON): evidence for unknowns
//	sms:halt:{A}           hash  code since probe_at; no TTL while batches are parked
//	sms:halt:{A}:parked    set   "<job>|<batch>" parked while the app is halted; no TTL
//	sms:halt:apps          set   apps ever halted (Halts lists from it); no TTL
//	sms:apps               zset  app -> last use ms (Apps: receipt pulling; CreateJob and Apps write it)
//	sms:lease:<name>       str   owner token, PX ttl
//	sms:tpl:<acct>:<id>    str   JSON TemplateRecord: a Tencent template cached for the check at send, PX ttl (templates.go)
//	sms:tpltype:<acct>     hash  template id -> otp|notification|marketing, recorded when the template
//	                             was added here (Tencent's template list does not say); no TTL
//	sms:jobs:active        zset  job -> created ms, jobs not finished (the sweeper's list); no TTL
//	sms:jobs:recent        zset  job -> created ms, every job whose records exist (RecentJobs,
//	                             HourlyCounts; recent.go); no TTL, members of gone jobs pruned
//	sms:sandbox            hash  owner url app signs: the zero-setup sandbox a second worker
//	                             shares (sandboxrec.go); PX ttl, renewed by its owner
//	sms:defaults           hash  app sign: the defaults the newest worker advertised (defaults.go)
//
// The serial index is written once per accepted number, so it is laid out for the send path: a
// batch's serials go to the day's buckets of their shards, at most 16 HSETs (and PEXPIREs) in one
// pipeline, not a key per serial. Its hash tag is the shard alone, so every day of one shard is
// one slot: IndexEvidenceSerials checks all days and writes (set if absent) in one script. A
// lookup probes the shard's buckets newest first (the newest entry wins), from the day after the
// receipt's (clock skew; every live bucket when the receipt has no time) back to the oldest bucket
// not expired, all serials of a page in one pipeline of HMGETs. A bucket expires at the end of
// its day plus Retention, so an entry lives between Retention and Retention plus one day.
//
// Number state bytes: p pending, i in flight, s sent (accepted), f failed, u unknown,
// c cancelled, r moved to a retry batch, D delivered, U undelivered, x suppressed (on the
// suppression list when its batch was claimed: never sent, final). A queued number costs its
// 8 packed bytes, one state byte and its share of the batch hash (about 12 bytes per number in
// all at 200 numbers per batch on Redis 7; see TestMemoryPerNumber).
//
// # Retention
//
// Retention counts from when a job settles, and nothing a job that has not settled needs expires
// before that, however long it runs, waits for its send_at or sits halted:
//
//   - While a job is being created its keys expire after Options.Retention, so a creation nobody
//     completes leaves nothing behind. Once it is ready (createFinish) they lose that TTL
//     (persistScript, a chunk of batches per call, the job hash last; ActiveJobs repeats it for a
//     ready job whose hash still has a TTL, as after a crash in between or for keys an older
//     version wrote).
//   - A job that has not settled has no key with a TTL. The scripts' touch only extends keys that
//     already expire and never gives a TTL to one without, so retry batches and the codes hash of
//     such a job start without one.
//   - When Status or ActiveJobs (the sweeper, every minute) finds a job settled (done, or
//     cancelled/failed with nothing pending or unknown: settled is final) it gives every key of
//     the job Retention (ExpireSettled: expireScript, a chunk of batches per call; xs marks the
//     progress), and only then drops it from sms:jobs:active. Writes after that (late receipts)
//     extend the TTLs to at least Retention.
//   - Records of work not done carry no TTL either: sms:jobs:active, a halt with parked batches
//     and its parked set (PopParked gives the halt its TTL back when it takes the last one;
//     Resume deletes both), sms:halt:apps, and the receipt inbox (a page stays until applied).
//   - Other app records expire Retention after their last write: a halt with nothing parked,
//     sms:apps, the unmatched counter, sms:um:<e164>. Serial index buckets expire at the end of
//     their day + Retention (every write sets that), so an entry lives at least Retention from
//     its send (see the serial index above), not until its job settles.
//
// Leases have their own TTL.
//
// # Scripts
//
// Scripts are loaded with redis.NewScript (EVALSHA, falling back to EVAL) and stay within what
// both Redis 7 and miniredis v2.40 (gopher-lua) provide: no bit, struct or cmsgpack library, no
// BITFIELD. State bytes are Lua strings: read per number with the prelude's st_bytes, written
// back with st_string, moved from one state to another in bulk with string.gsub; job counters
// change through the prelude's count. Each script's comment lists its KEYS, ARGV and Output,
// and TestScriptContracts checks those lists against the script and its callers. Work per script
// is bounded: Cancel and FailJob set their flag first (claims stop at once), then sweep the
// batches in chunks, a script per chunk; both are idempotent and resumable.
package store
