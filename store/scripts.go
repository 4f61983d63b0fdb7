package store

import "github.com/redis/go-redis/v9"

// All scripts run on Redis 7 and on miniredis v2.40 (gopher-lua): only the base, string, table
// and math libraries, no bit/struct/cmsgpack, no BITFIELD. Every script declares in KEYS keys of
// a single hash tag; the only keys a script builds itself are new retry batches of the same job
// (ARGV batch-key prefix "sms:{<job>}:b:"), which share that tag and so that slot.
//
// Times are unix milliseconds passed in ARGV (Options.Now, so tests control the clock). Big
// numbers are stored from the ARGV strings, never formatted by Lua.
//
// Per-number state bytes: p pending, i in flight, s sent, f failed, u unknown, c cancelled,
// r moved to a retry batch, D delivered, U undelivered, x suppressed.

// prelude is prepended to every job script.
//
// touch extends the TTL of a key that expires to at least ttl ms and never gives a TTL to a key
// that has none: the keys of a job that has not settled carry no TTL (see ExpireSettled), and a
// key a script creates for such a job (a retry batch, the codes hash) starts without one.
// expire_min is touch for keys that always expire (app records): it also gives a TTL to a key
// that has none.
const prelude = `
local function touch(key, ttl)
  local t = redis.call('PTTL', key)
  if t >= 0 and t < tonumber(ttl) then
    redis.call('PEXPIRE', key, ttl)
  end
end
local function expire_min(key, ttl)
  local t = redis.call('PTTL', key)
  if t == -1 or (t >= 0 and t < tonumber(ttl)) then
    redis.call('PEXPIRE', key, ttl)
  end
end
local function str(v)
  if v then return v end
  return ''
end
local function num(v)
  if v then return tonumber(v) end
  return 0
end
-- A batch record's 'st' field holds one state byte per number, index 0 first. st_bytes is the one
-- way scripts read it to look at single numbers: a table of byte values (st[idx + 1] is number
-- idx), compared with the constants of ST (ST.u is the byte of 'u'); st_string turns such a table
-- back into the field's string. Moving every number of one state to another is a string.gsub
-- over the field ('p' -> 'i' on a claim), which also counts them.
local ST = {}
for c in string.gmatch('pisfucrDUx', '.') do ST[c] = string.byte(c) end
local function st_bytes(s) return {string.byte(s, 1, -1)} end
local function st_string(t) return string.char(unpack(t)) end
-- count adds to the job's counters (total, sent, failed, unknown, cancelled, suppressed, fee,
-- nofee, delivered, undelivered, fc:<code>): its arguments after the job key are field, delta pairs,
-- applied in order; a zero delta writes nothing.
local function count(jobkey, ...)
  local a = {...}
  for i = 1, select('#', ...), 2 do
    if a[i + 1] ~= 0 then redis.call('HINCRBY', jobkey, a[i], a[i + 1]) end
  end
end
-- A failure code tally: fail_code counts n more numbers failed with code, count_codes adds the
-- tally to the job's fc:<code> counters in the order the codes were first seen.
local function fail_codes() return {n = {}, order = {}} end
local function fail_code(t, code, n)
  if not t.n[code] then t.n[code] = 0; t.order[#t.order + 1] = code end
  t.n[code] = t.n[code] + n
end
local function count_codes(jobkey, t)
  for _, code in ipairs(t.order) do count(jobkey, 'fc:' .. code, t.n[code]) end
end
-- new_batch appends a pending batch with the numbers at idxs (0-based) of the packed blob. a is
-- the attempt count it starts from (the parent batch's), so retries keep counting up.
local function new_batch(jobkey, prefix, blob, idxs, pi, intl, nb, ttl, a)
  local n = redis.call('HINCRBY', jobkey, 'batches', 1) - 1
  local parts = {}
  for k, idx in ipairs(idxs) do parts[k] = string.sub(blob, idx * 8 + 1, idx * 8 + 8) end
  local key = prefix .. n
  redis.call('HSET', key, 'num', table.concat(parts), 'st', string.rep('p', #idxs), 'pi', pi, 's', 'pending', 'nb', nb)
  if intl == '1' then redis.call('HSET', key, 'intl', '1') end
  if num(a) > 0 then redis.call('HSET', key, 'a', a) end
  touch(key, ttl)
  return n
end
`

// outcomeCodes reads the ClaimOutcome codes that claimScript and launchScript answer with from
// ARGV[5..12] (outcomeCodeArgs), so the scripts never depend on the order of a Go iota.
const outcomeCodes = `
local C = {claimed = tonumber(ARGV[5]), done = tonumber(ARGV[6]), busy = tonumber(ARGV[7]),
  cancelled = tonumber(ARGV[8]), expired = tonumber(ARGV[9]), notyet = tonumber(ARGV[10]),
  unresolved = tonumber(ARGV[11]), jobfailed = tonumber(ARGV[12])}
`

// createBeginScript claims a job id for creation. A job that is not ready (its creator died
// midway, or is still writing) is taken over: the nonce changes, so the earlier creator's
// remaining writes are refused.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// ARGV[1] -> TTL ms of the job hash while it is created (Options.Retention)
// ARGV[2] -> creator nonce, a random token
// ARGV[3..] -> the job spec, field/value pairs (app, sign, tpl, sender, ext, prio, send_at,
// expires_at, created, defer_daily, fp, win, tz, ttype)
// Output:
// Returns 1 if the caller may write the job (new, or taken over)
// Returns 0 if the job already exists (ready)
var createBeginScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'ready') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'ready', '0', 'cn', ARGV[2], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// createWriteScript writes a chunk of param sets and/or batch records of a job being created,
// only while the caller's creation is current.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:params, the list of param sets
// KEYS[3..] -> sms:{<job>}:b:<n>, the batch records to write, in order
// ARGV[1] -> creator nonce (createBeginScript's ARGV[2])
// ARGV[2] -> TTL ms of the keys written (Options.Retention)
// ARGV[3] -> params mode: 'd' deletes the params list first, then appends; 'a' appends
// ARGV[4] -> np, the number of param sets that follow
// ARGV[5..] -> np param sets (JSON arrays of strings), then 4 per batch of KEYS[3..]: packed
// numbers (8 bytes each, see pack.go), state bytes (all 'p'), param set index, intl ('1' or '0')
// Output:
// Returns 1 if written
// Returns 0 if the job is already ready
// Returns -1 if the creation was taken over (the nonce changed)
var createWriteScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'ready', 'cn')
if v[1] == '1' then return 0 end
if v[2] ~= ARGV[1] then return -1 end
local np = tonumber(ARGV[4])
if ARGV[3] == 'd' then redis.call('DEL', KEYS[2]) end
if np > 0 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 5, 4 + np))
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
local i = 5 + np
for k = 3, #KEYS do
  redis.call('DEL', KEYS[k])
  redis.call('HSET', KEYS[k], 'num', ARGV[i], 'st', ARGV[i + 1], 'pi', ARGV[i + 2], 's', 'pending')
  if ARGV[i + 3] == '1' then redis.call('HSET', KEYS[k], 'intl', '1') end
  redis.call('PEXPIRE', KEYS[k], ARGV[2])
  i = i + 4
end
return 1
`)

// createFinishScript makes a job visible (claimable) once its batches are written. The job's
// keys keep their creation TTL until persistScript has run over them (CreateJobStream runs it
// right after; ActiveJobs again for a ready job whose hash still has a TTL).
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// ARGV[1] -> creator nonce (createBeginScript's ARGV[2])
// ARGV[2] -> total, the number of numbers in the job
// ARGV[3] -> batches, the number of batch records
// ARGV[4] -> rejected, the number of recipients rejected before the job was stored
// Output:
// Returns 1 if this call finished the job
// Returns 0 if the job was already ready
// Returns -1 if the creation was taken over by another creator (or the job hash vanished)
var createFinishScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'ready', 'cn')
if v[1] == '1' then return 0 end
if v[1] ~= '0' or v[2] ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'total', ARGV[2], 'batches', ARGV[3], 'rejected', ARGV[4], 'ready', '1')
redis.call('HDEL', KEYS[1], 'cn')
return 1
`)

// Modes of touchAddScript.
const (
	addZSet   = "zadd"
	raiseZSet = "zraise"
	addSet    = "sadd"
)

// touchAddScript adds a member to a zset or a set and extends the key's TTL to at least ttl;
// ttl "0" removes the key's TTL instead (sets that list unfinished work: the active jobs, the
// halted apps).
//
// Input:
// KEYS[1] -> the zset or set (sms:jobs:active, sms:apps, sms:halt:apps)
// ARGV[1] -> mode: addZSet (ZADD), raiseZSet (ZADD only when it raises the member's score) or
// addSet (SADD)
// ARGV[2] -> the member
// ARGV[3] -> its score, ms (zset modes; ignored by addSet)
// ARGV[4] -> TTL ms the key gets at least, or "0": no TTL
// Output:
// Returns 1
var touchAddScript = redis.NewScript(prelude + `
if ARGV[1] == 'zadd' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
elseif ARGV[1] == 'zraise' then
  local cur = redis.call('ZSCORE', KEYS[1], ARGV[2])
  if not cur or tonumber(cur) < tonumber(ARGV[3]) then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2]) end
else
  redis.call('SADD', KEYS[1], ARGV[2])
end
if ARGV[4] == '0' then
  redis.call('PERSIST', KEYS[1])
else
  expire_min(KEYS[1], ARGV[4])
end
return 1
`)

// claimScript: see Store.Claim. A claim is a reservation (field rv = 1) until launchScript
// launches it; a reservation whose lease ran out gives its numbers back to pending (nothing left
// the process), a launched claim whose lease ran out turns them unknown. The attempt of a
// reservation is the one it will have once launched (the count is not raised yet).
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:b:<n>, the batch record
// KEYS[3] -> sms:{<job>}:params, the list of param sets
// ARGV[1] -> now, unix ms
// ARGV[2] -> claim token
// ARGV[3] -> claim lease, ms (Options.ClaimLease)
// ARGV[4] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[5..12] -> the ClaimOutcome codes claimed, done, busy, cancelled, expired, notyet,
// unresolved, jobfailed (outcomeCodeArgs)
// Output:
// Returns {claimed, attempt, packed numbers, state bytes (the claimed numbers are the 'i' ones),
// params JSON, intl, 0, job fields} if claimed (again for the token that holds the claim)
// Returns {busy, attempt, "", "", "", "", lease end ms, job fields} if another live claim holds the
// batch
// Returns {notyet, attempt, "", "", "", "", send_at or not-before ms, job fields} if it is too
// early
// Returns {done | cancelled | unresolved | expired | jobfailed, attempt, "", "", "", "", 0, job
// fields} otherwise (the pending numbers of a cancelled, failed or expired job are settled so)
// Returns {-1} if the job is not found (or not ready)
// Returns {-2} if the batch is not found
// The job fields are send_at, expires_at, app, sign, tpl, sender, ext, prio, created, defer_daily,
// win, tz, ttype (the send window is checked in Go, where time zones are known: see
// store.Window).
var claimScript = redis.NewScript(prelude + outcomeCodes + `
local now = tonumber(ARGV[1])
local jf = redis.call('HMGET', KEYS[1], 'ready', 'cancel', 'fail', 'send_at', 'expires_at',
  'app', 'sign', 'tpl', 'sender', 'ext', 'prio', 'created', 'defer_daily', 'win', 'tz', 'ttype')
if jf[1] ~= '1' then return {-1} end
local job = {}
for i = 4, 16 do job[#job + 1] = str(jf[i]) end
local b = redis.call('HMGET', KEYS[2], 's', 'a', 'tok', 'at', 'nb', 'pi', 'intl', 'cm', 'st', 'num', 'rv')
local state = b[1]
if not state then return {-2} end
local attempt = num(b[2])
local st = b[9]
local function reply(code, retry)
  return {code, attempt, '', '', '', '', retry or 0, job}
end
local function save(fields)
  redis.call('HSET', KEYS[2], unpack(fields))
  touch(KEYS[2], ARGV[4])
  touch(KEYS[1], ARGV[4])
end
local function claimed(states)
  -- the numbers claimed are those in flight ('i'): the caller finds them in states
  return {C.claimed, attempt, b[10], states, str(redis.call('LINDEX', KEYS[3], b[6])), str(b[7]), 0, job}
end

if state == 'done' then return reply(C.done) end
if state == 'cancelled' then return reply(C.cancelled) end
if state == 'unknown' then return reply(C.unresolved) end
if state == 'inflight' then
  if b[3] == ARGV[2] and b[8] ~= '1' then
    if b[11] == '1' then attempt = attempt + 1 end
    return claimed(st) -- the caller already holds this claim (a retried Claim call)
  end
  local expires = num(b[4]) + tonumber(ARGV[3])
  if now < expires then return reply(C.busy, expires) end
  if b[11] == '1' then
    -- a reservation that was never launched: nothing left the process, the numbers are pending
    st = string.gsub(st, 'i', 'p')
    redis.call('HSET', KEYS[2], 'st', st, 's', 'pending')
    redis.call('HDEL', KEYS[2], 'tok', 'at', 'rv')
  else
    -- the attempt died between launch and commit: what it had in flight may have been sent
    local st2, n = string.gsub(st, 'i', 'u')
    if n == 0 then
      save({'s', 'done'}) -- receipts settled every number
      return reply(C.done)
    end
    save({'st', st2, 's', 'unknown'})
    count(KEYS[1], 'unknown', n)
    return reply(C.unresolved)
  end
end
-- pending
local function settle_pending(to, s, counter, code)
  local st2, n = string.gsub(st, 'p', to)
  if code then save({'st', st2, 's', s, 'fc', code}) else save({'st', st2, 's', s}) end
  count(KEYS[1], counter, n)
  if code then count(KEYS[1], 'fc:' .. code, n) end
end
if jf[2] == '1' then
  settle_pending('c', 'cancelled', 'cancelled', nil)
  return reply(C.cancelled)
end
if jf[3] then
  settle_pending('f', 'done', 'failed', jf[3])
  return reply(C.jobfailed)
end
local exp = num(jf[5])
if exp > 0 and now >= exp then
  settle_pending('f', 'done', 'failed', 'Expired')
  return reply(C.expired)
end
local sendAt = num(jf[4])
if sendAt > now then return reply(C.notyet, sendAt) end
local nb = num(b[5])
if nb > now then return reply(C.notyet, nb) end
local st2, n = string.gsub(st, 'p', 'i')
if n == 0 then
  save({'s', 'done'})
  return reply(C.done)
end
attempt = attempt + 1
redis.call('HDEL', KEYS[2], 'cm', 'rb', 'hu')
save({'st', st2, 's', 'inflight', 'tok', ARGV[2], 'at', ARGV[1], 'rv', '1'})
return claimed(st2)
`)

// launchScript: see Store.Launch.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:b:<n>, the batch record
// ARGV[1] -> now, unix ms
// ARGV[2] -> claim token
// ARGV[3] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[4] -> failure code of an expired job (ExpiredCode)
// ARGV[5..12] -> the ClaimOutcome codes (outcomeCodeArgs, as in claimScript)
// Output:
// Returns {claimed, attempt} if launched (again for a launched claim of the same token)
// Returns {busy, attempt} if the token no longer holds the claim
// Returns {cancelled | jobfailed | expired, attempt} if the job was cancelled, failed or expired
// while the reservation waited (its numbers are settled so)
// Returns {-1} if the job is not found (or not ready)
// Returns {-2} if the batch is not found
var launchScript = redis.NewScript(prelude + outcomeCodes + `
local now = tonumber(ARGV[1])
local jf = redis.call('HMGET', KEYS[1], 'ready', 'cancel', 'fail', 'expires_at')
if jf[1] ~= '1' then return {-1} end
local b = redis.call('HMGET', KEYS[2], 's', 'a', 'tok', 'cm', 'st', 'rv')
if not b[1] then return {-2} end
local attempt = num(b[2])
if b[1] ~= 'inflight' or b[3] ~= ARGV[2] or b[4] == '1' then return {C.busy, attempt} end
if b[6] ~= '1' then return {C.claimed, attempt} end
local function settle(to, s, counter, code)
  local st2, n = string.gsub(b[5], 'i', to)
  local f = {'st', st2, 's', s}
  if code then f[#f + 1] = 'fc'; f[#f + 1] = code end
  redis.call('HSET', KEYS[2], unpack(f))
  redis.call('HDEL', KEYS[2], 'tok', 'at', 'rv')
  count(KEYS[1], counter, n)
  if code then count(KEYS[1], 'fc:' .. code, n) end
  touch(KEYS[2], ARGV[3])
  touch(KEYS[1], ARGV[3])
end
if jf[2] == '1' then
  settle('c', 'cancelled', 'cancelled', nil)
  return {C.cancelled, attempt}
end
if jf[3] then
  settle('f', 'done', 'failed', jf[3])
  return {C.jobfailed, attempt}
end
local exp = num(jf[4])
if exp > 0 and now >= exp then
  settle('f', 'done', 'failed', ARGV[4])
  return {C.expired, attempt}
end
attempt = redis.call('HINCRBY', KEYS[2], 'a', 1)
redis.call('HSET', KEYS[2], 'at', ARGV[1])
redis.call('HDEL', KEYS[2], 'rv')
return {C.claimed, attempt}
`)

// releaseScript gives a claim back: its numbers return to pending. A launched claim's attempt
// stays counted only when ARGV[3] is '1' (the call was made and refused); otherwise the launch's
// count is taken back (nothing left, or the answer said nothing was sent).
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:b:<n>, the batch record
// ARGV[1] -> claim token
// ARGV[2] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[3] -> keep the attempt counted: '1' or '0'
// Output:
// Returns 1 if released
// Returns 0 if not (the token does not hold the claim, it was committed, or nothing is in flight or
// unknown)
var releaseScript = redis.NewScript(prelude + `
local b = redis.call('HMGET', KEYS[2], 's', 'tok', 'cm', 'st', 'rv', 'a')
if not b[1] or b[2] ~= ARGV[1] or b[3] == '1' then return 0 end
if b[5] ~= '1' and ARGV[3] ~= '1' and num(b[6]) > 0 then redis.call('HINCRBY', KEYS[2], 'a', -1) end
local st2, n
if b[1] == 'inflight' then
  st2, n = string.gsub(b[4], 'i', 'p')
elseif b[1] == 'unknown' then
  -- the claim had expired into unknown, but its holder says nothing was sent
  st2, n = string.gsub(b[4], 'u', 'p')
  count(KEYS[1], 'unknown', -n)
  touch(KEYS[1], ARGV[2])
else
  return 0
end
redis.call('HSET', KEYS[2], 'st', st2, 's', 'pending')
redis.call('HDEL', KEYS[2], 'tok', 'at', 'rv')
touch(KEYS[2], ARGV[2])
return 1
`)

// commitScript: see Store.Commit. (The compact form of the results: the common batch, all sent
// at one fee, costs two arguments in all instead of five per number.)
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:b:<n>, the batch record
// KEYS[3] -> sms:{<job>}:codes, the hash "<batch>:<idx>" -> failure code
// ARGV[1] -> now, unix ms
// ARGV[2] -> claim token
// ARGV[3] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[4] -> batch key prefix sms:{<job>}:b: (for new retry batches)
// ARGV[5] -> the batch's index n
// ARGV[6] -> the results by position, one byte per number from index 0: '.' (no result) or the
// state (s|f|u|r|x)
// ARGV[7] -> the fee of a sent number
// ARGV[8] -> the sr lines by position ('\n'-separated, one per byte of ARGV[6]; see results.go),
// written for the numbers this commit makes sent or unknown
// ARGV[9..] -> 4 per result that needs more (failed: its code; retry: its retry-at; sent with
// another fee): index, code, fee, retry-at ms (rounded to the second: the grouping key)
// Output:
// Returns {1, "batch:at,...", hasUnknown} if applied (or replayed): the retry batches made with
// their not-before ms, and 1 if the batch still has unknown numbers, else 0
// Returns {0} if the token does not hold the claim
// Returns {-2} if the batch is not found
// Returns {-3, index} if a result's index is beyond the batch
var commitScript = redis.NewScript(prelude + resultsLua + `
local b = redis.call('HMGET', KEYS[2], 's', 'tok', 'cm', 'rb', 'hu', 'st', 'pi', 'intl', 'a', 'sr', 'at')
if not b[1] then return {-2} end
if b[2] ~= ARGV[2] then return {0} end
if b[3] == '1' then return {1, str(b[4]), num(b[5])} end -- same commit again: replay its result
-- the state bytes as locals, the cheapest form for ~200 numbers; the results are read the same way
local I, U, S, F, R, C, D, UD, X, DOT = ST.i, ST.u, ST.s, ST.f, ST.r, ST.c, ST.D, ST.U, ST.x, string.byte('.')
local st = st_bytes(b[6])
local rv = st_bytes(ARGV[6])
for p = #st + 1, #rv do
  if rv[p] ~= DOT then return {-3, p - 1} end
end
local extra = {}
for i = 9, #ARGV, 4 do extra[tonumber(ARGV[i]) + 1] = i end
local dfee = tonumber(ARGV[7])
local jf = redis.call('HMGET', KEYS[1], 'cancel', 'fail')
local sent, failed, unknown, cancelled, suppressed, fee = 0, 0, 0, 0, 0, 0
local lines, sr, srdirty, refused = lines_of(ARGV[8], #rv), lines_of(b[10], #st), false, 0
local fc, codes = fail_codes(), {}
local groups, gorder = {}, {}
for p = 1, #rv do
  local r = rv[p]
  if r ~= DOT then
    local code, f, at = '', dfee, '0'
    local x = extra[p]
    if x then code, f, at = ARGV[x + 1], tonumber(ARGV[x + 2]), ARGV[x + 3] end
    local cur = st[p]
    if cur == I or cur == U then
      if cur == U then unknown = unknown - 1 end
      if r == S then
        st[p] = S; sent = sent + 1; fee = fee + f
        sr[p] = lines[p]; srdirty = true
      elseif r == F then
        st[p] = F; failed = failed + 1; fail_code(fc, code, 1); refused = refused + 1
        codes[#codes + 1] = ARGV[5] .. ':' .. (p - 1); codes[#codes + 1] = code
      elseif r == R then
        if jf[1] == '1' then
          st[p] = C; cancelled = cancelled + 1
        elseif jf[2] then
          st[p] = F; failed = failed + 1; fail_code(fc, jf[2], 1)
        else
          st[p] = R
          if not groups[at] then groups[at] = {}; gorder[#gorder + 1] = at end
          local g = groups[at]; g[#g + 1] = p - 1
        end
      elseif r == X then
        st[p] = X; suppressed = suppressed + 1 -- on the suppression list: not sent, final
      else
        st[p] = U; unknown = unknown + 1
        if lines[p] ~= '' then sr[p] = lines[p]; srdirty = true end
      end
    elseif (cur == S or cur == D or cur == UD) and r == S then
      fee = fee + f -- settled by a receipt or by reconcile before this late reply: only the fee is new
      sr[p] = lines[p]; srdirty = true -- and the reply is the authority on its serial and fee
    end
  end
end
local hu = 0
for p = 1, #st do
  if st[p] == I then st[p] = U; unknown = unknown + 1 end -- no result given: outcome unknown
  if st[p] == U then hu = 1 end
end
table.sort(gorder, function(x, y) return tonumber(x) < tonumber(y) end)
local rb = {}
if #gorder > 0 then
  local blob = redis.call('HGET', KEYS[2], 'num')
  for _, at in ipairs(gorder) do
    local n = new_batch(KEYS[1], ARGV[4], blob, groups[at], str(b[7]), str(b[8]), at, ARGV[3], b[9])
    rb[#rb + 1] = n .. ':' .. at
  end
end
local rbs = table.concat(rb, ',')
local state = 'done'
if hu == 1 then state = 'unknown' end
redis.call('HSET', KEYS[2], 'st', st_string(st), 's', state, 'cm', '1', 'rb', rbs, 'hu', hu)
if srdirty then redis.call('HSET', KEYS[2], 'sr', lines_field(sr), 'fd', ARGV[7]) end
touch(KEYS[2], ARGV[3])
count(KEYS[1], 'sent', sent, 'failed', failed, 'unknown', unknown, 'cancelled', cancelled, 'suppressed', suppressed,
  'fee', fee)
count_codes(KEYS[1], fc)
local h, hat = hours(), b[11] or ARGV[1]
hadd(h, hat, 's', sent); hadd(h, hat, 'f', refused); hadd(h, hat, 'e', fee)
hflush(KEYS[1], h)
if #codes > 0 then
  redis.call('HSET', KEYS[3], unpack(codes))
  touch(KEYS[3], ARGV[3])
end
redis.call('HSET', KEYS[1], 'lc', ARGV[1])
touch(KEYS[1], ARGV[3])
return {1, rbs, hu}
`)

// settleScript applies reconcile evidence to unknown numbers; numbers no longer unknown are
// left alone.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:b:<n>, the batch record
// KEYS[3] -> sms:{<job>}:codes, the hash "<batch>:<idx>" -> failure code
// ARGV[1] -> now, unix ms
// ARGV[2] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[3] -> the batch's index n
// ARGV[4..] -> 5 per result: index, state (s|f), failure code, fee, sr line (see results.go)
// Output:
// Returns the count of numbers settled (0: none was unknown)
// Returns -2 if the batch is not found
var settleScript = redis.NewScript(prelude + resultsLua + `
local b = redis.call('HMGET', KEYS[2], 's', 'st', 'sr', 'at')
if not b[1] then return -2 end
local st = st_bytes(b[2])
local sr, srdirty = lines_of(b[3], #st), false
local sent, failed, fee, nofee, n = 0, 0, 0, 0, 0
local fc, codes = fail_codes(), {}
for i = 4, #ARGV, 5 do
  local p = tonumber(ARGV[i]) + 1
  local r, code = ARGV[i + 1], ARGV[i + 2]
  if st[p] == ST.u then
    n = n + 1
    if r == 's' then
      st[p] = ST.s; sent = sent + 1; fee = fee + tonumber(ARGV[i + 3])
      if tonumber(ARGV[i + 3]) == 0 then nofee = nofee + 1 end
      sr[p] = ARGV[i + 4]; srdirty = true
    else
      st[p] = ST.f; failed = failed + 1
      fail_code(fc, code, 1)
      codes[#codes + 1] = ARGV[3] .. ':' .. (p - 1); codes[#codes + 1] = code
    end
  end
end
if n == 0 then return 0 end
local s2 = st_string(st)
local state = b[1]
if state == 'unknown' and not string.find(s2, 'u', 1, true) then state = 'done' end
redis.call('HSET', KEYS[2], 'st', s2, 's', state)
if srdirty then redis.call('HSET', KEYS[2], 'sr', lines_field(sr)) end
touch(KEYS[2], ARGV[2])
count(KEYS[1], 'unknown', -n, 'sent', sent, 'failed', failed, 'fee', fee, 'nofee', nofee)
count_codes(KEYS[1], fc)
local h, hat = hours(), b[4] or ARGV[1]
hadd(h, hat, 's', sent); hadd(h, hat, 'f', failed); hadd(h, hat, 'e', fee)
hflush(KEYS[1], h)
if #codes > 0 then
  redis.call('HSET', KEYS[3], unpack(codes))
  touch(KEYS[3], ARGV[2])
end
redis.call('HSET', KEYS[1], 'lc', ARGV[1])
touch(KEYS[1], ARGV[2])
return n
`)

// resendScript moves a batch's unknown numbers into a new batch (or cancels/fails them when the
// job is cancelled/failed).
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2] -> sms:{<job>}:b:<n>, the batch record
// ARGV[1] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[2] -> batch key prefix sms:{<job>}:b: (for the new batch)
// ARGV[3] -> not-before of the new batch, unix ms
// Output:
// Returns {1, new batch index} if resent
// Returns {0} if nothing was resent (no unknown numbers, or they were cancelled/failed with the
// job)
// Returns {-2} if the batch is not found
var resendScript = redis.NewScript(prelude + `
local b = redis.call('HMGET', KEYS[2], 's', 'num', 'st', 'pi', 'intl', 'a')
if not b[1] then return {-2} end
local idxs = {}
for i, c in ipairs(st_bytes(b[3])) do
  if c == ST.u then idxs[#idxs + 1] = i - 1 end
end
if #idxs == 0 then return {0} end
local jf = redis.call('HMGET', KEYS[1], 'cancel', 'fail')
local to = 'r'
if jf[1] == '1' then to = 'c' elseif jf[2] then to = 'f' end
local st2 = string.gsub(b[3], 'u', to)
local n = #idxs
count(KEYS[1], 'unknown', -n)
local res = {0}
if to == 'c' then
  count(KEYS[1], 'cancelled', n)
elseif to == 'f' then
  count(KEYS[1], 'failed', n, 'fc:' .. jf[2], n)
else
  res = {1, new_batch(KEYS[1], ARGV[2], b[2], idxs, str(b[4]), str(b[5]), ARGV[3], ARGV[1], b[6])}
end
local state = b[1]
if state == 'unknown' then state = 'done' end
redis.call('HSET', KEYS[2], 'st', st2, 's', state)
touch(KEYS[2], ARGV[1])
touch(KEYS[1], ARGV[1])
return res
`)

// flagScript sets the job's cancel flag (mode 'c') or fail code (mode 'f', first code wins),
// unless nothing is pending any more.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// ARGV[1] -> mode: 'c' cancel, 'f' fail
// ARGV[2] -> failure code (mode 'f')
// ARGV[3] -> TTL ms (Options.Retention) the keys written get at least
// Output:
// Returns the count of batches to sweep (the job's batches field)
// Returns -1 if the job does not exist (or is not ready)
var flagScript = redis.NewScript(prelude + `
local v = redis.call('HMGET', KEYS[1], 'ready', 'batches', 'total', 'sent', 'failed', 'cancelled', 'suppressed')
if v[1] ~= '1' then return -1 end
local pending = num(v[3]) - num(v[4]) - num(v[5]) - num(v[6]) - num(v[7])
if pending > 0 then
  if ARGV[1] == 'c' then
    redis.call('HSET', KEYS[1], 'cancel', '1')
  else
    redis.call('HSETNX', KEYS[1], 'fail', ARGV[2])
  end
  touch(KEYS[1], ARGV[3])
end
return num(v[2])
`)

// sweepScript cancels (mode 'c') or fails (mode 'f') the pending numbers of a chunk of batches.
// In-flight batches are left to finish. Idempotent: a batch already swept is no longer pending.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2..] -> sms:{<job>}:b:<n>, the batch records of the chunk
// ARGV[1] -> mode: 'c' cancel, 'f' fail
// ARGV[2] -> failure code (mode 'f')
// ARGV[3] -> TTL ms (Options.Retention) the keys written get at least
// Output:
// Returns the count of numbers swept
var sweepScript = redis.NewScript(prelude + `
local total = 0
for k = 2, #KEYS do
  local v = redis.call('HMGET', KEYS[k], 's', 'st')
  if v[1] == 'pending' then
    local st2, n
    if ARGV[1] == 'c' then
      st2, n = string.gsub(v[2], 'p', 'c')
      redis.call('HSET', KEYS[k], 'st', st2, 's', 'cancelled')
    else
      st2, n = string.gsub(v[2], 'p', 'f')
      redis.call('HSET', KEYS[k], 'st', st2, 's', 'done', 'fc', ARGV[2])
    end
    touch(KEYS[k], ARGV[3])
    total = total + n
  end
end
if total > 0 then
  if ARGV[1] == 'c' then
    count(KEYS[1], 'cancelled', total)
  else
    count(KEYS[1], 'failed', total, 'fc:' .. ARGV[2], total)
  end
  touch(KEYS[1], ARGV[3])
end
return total
`)

// receiptsScript applies delivery receipts to one job, each number at most once.
//
// Input:
// KEYS[1] -> sms:{<job>}:job, the job hash
// KEYS[2..] -> sms:{<job>}:b:<n>, the batch records the receipts name
// ARGV[1] -> TTL ms (Options.Retention) the keys written get at least
// ARGV[2] -> now, unix ms (the hour counted when a batch has no launch time)
// ARGV[3..] -> 7 per receipt: KEYS position of the batch, number index (-1: find it by number),
// packed number (8 bytes; empty: do not check), 'D' (delivered) or 'U' (undelivered), received
// ms (empty if not known), its rc line without the time and SerialNo parts (see results.go), its
// SerialNo
// Output:
// Returns one reply per receipt, in order: 1 applied, 0 duplicate (already delivered/undelivered,
// or not sent), -1 no match
var receiptsScript = redis.NewScript(prelude + resultsLua + `
local cache = {}
local function load(k)
  local c = cache[k]
  if c == nil then
    local v = redis.call('HMGET', KEYS[k], 'num', 'st', 's', 'rc', 'at')
    if v[1] then
      c = {blob = v[1], st = st_bytes(v[2]), s = v[3], rc = lines_of(v[4], #v[1] / 8), at = v[5] or ARGV[2],
        at0 = v[5], dirty = false}
    else
      c = false
    end
    cache[k] = c
  end
  return c
end
local out = {}
local sent, unknown, delivered, undelivered = 0, 0, 0, 0
local h = hours()
for i = 3, #ARGV, 7 do
  local k, idx, packed, r = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local c = load(k)
  local res = -1
  if c then
    if idx < 0 and packed ~= '' then
      for p = 1, #c.blob, 8 do
        if string.sub(c.blob, p, p + 7) == packed then idx = (p - 1) / 8; break end
      end
    end
    if idx >= 0 and idx * 8 < #c.blob and (packed == '' or string.sub(c.blob, idx * 8 + 1, idx * 8 + 8) == packed) then
      res = 0
      local cur = c.st[idx + 1]
      if cur == ST.s or cur == ST.u or cur == ST.i then
        -- the receive time in seconds after the launch's second, or '=' and unix seconds
        local t = ''
        if ARGV[i + 4] ~= '' then
          local rs = math.floor(tonumber(ARGV[i + 4]) / 1000)
          if c.at0 then t = tostring(rs - math.floor(tonumber(c.at0) / 1000)) else t = '=' .. rs end
        end
        local line = t .. '\t' .. ARGV[i + 5]
        if cur ~= ST.s then
          sent = sent + 1; hadd(h, c.at, 's', 1)
          if ARGV[i + 6] ~= '' then line = line .. '\t' .. ARGV[i + 6] end
        end
        if cur == ST.u then unknown = unknown - 1 end
        if r == 'D' then delivered = delivered + 1; hadd(h, c.at, 'd', 1) else undelivered = undelivered + 1; hadd(h, c.at, 'u', 1) end
        c.rc[idx + 1] = string.gsub(line, '\t+$', '')
        c.st[idx + 1] = string.byte(r)
        c.dirty = true
        res = 1
      end
    end
  end
  out[#out + 1] = res
end
for k = 2, #KEYS do
  local c = cache[k]
  if c and c.dirty then
    local s2 = st_string(c.st)
    if c.s == 'unknown' and not string.find(s2, 'u', 1, true) then
      redis.call('HSET', KEYS[k], 'st', s2, 's', 'done', 'rc', lines_field(c.rc))
    else
      redis.call('HSET', KEYS[k], 'st', s2, 'rc', lines_field(c.rc))
    end
    touch(KEYS[k], ARGV[1])
  end
end
count(KEYS[1], 'sent', sent, 'unknown', unknown, 'delivered', delivered, 'undelivered', undelivered)
hflush(KEYS[1], h)
if sent + delivered + undelivered > 0 then touch(KEYS[1], ARGV[1]) end
return out
`)

// pageDoneScript removes an applied receipt page and counts its unmatched receipts, each once: a
// receipt already counted (the same one pushed twice, or pushed and pulled, in another page) is
// in the seen set and does not count again.
//
// Input:
// KEYS[1] -> sms:rcpt:{<app>}:inbox, the hash page id -> page
// KEYS[2] -> sms:rcpt:{<app>}:unmatched, the count of unmatched receipts
// KEYS[3] -> sms:rcpt:{<app>}:umseen, the set of unmatched receipts counted (their identity)
// ARGV[1] -> page id
// ARGV[2] -> TTL ms the count and the seen set get at least (Options.Retention)
// ARGV[3..] -> the identity of each unmatched receipt of the page (SerialNo, else number|time)
// Output:
// Returns {1, counted} if this call removed the page: counted is how many receipts were new
// Returns {0, 0} if it was already gone
var pageDoneScript = redis.NewScript(prelude + `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return {0, 0} end
local n = 0
for i = 3, #ARGV do n = n + redis.call('SADD', KEYS[3], ARGV[i]) end
if #ARGV >= 3 then expire_min(KEYS[3], ARGV[2]) end
if n > 0 then
  redis.call('INCRBY', KEYS[2], n)
  expire_min(KEYS[2], ARGV[2])
end
return {1, n}
`)

// haltScript records a halt. A halt with parked batches has no TTL (it ends by Resume: its parked
// batches must not be forgotten); otherwise it expires ttl after the last write.
//
// Input:
// KEYS[1] -> sms:halt:{<app>}, the halt hash
// KEYS[2] -> sms:halt:{<app>}:parked, the set of parked batches
// ARGV[1] -> the halt's code
// ARGV[2] -> since, unix ms (kept from the first halt)
// ARGV[3] -> probe-at, unix ms
// ARGV[4] -> TTL ms (Options.Retention) of a halt without parked batches
// Output:
// Returns 1
var haltScript = redis.NewScript(prelude + `
redis.call('HSET', KEYS[1], 'code', ARGV[1], 'probe_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'since', ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PERSIST', KEYS[1])
else
  expire_min(KEYS[1], ARGV[4])
end
return 1
`)

// parkScript parks a batch while the app is halted: the parked set and the halt lose their TTL
// (until Resume, or until PopParked empties the set).
//
// Input:
// KEYS[1] -> sms:halt:{<app>}, the halt hash
// KEYS[2] -> sms:halt:{<app>}:parked, the set of parked batches
// ARGV[1] -> the member "<job>|<batch>"
// Output:
// Returns 1 if parked
// Returns 0 if the app is not halted
var parkScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PERSIST', KEYS[2])
redis.call('PERSIST', KEYS[1])
return 1
`)

// resumeScript clears a halt and returns (and clears) the parked batches.
//
// Input:
// KEYS[1] -> sms:halt:{<app>}, the halt hash
// KEYS[2] -> sms:halt:{<app>}:parked, the set of parked batches
// Output:
// Returns the parked members "<job>|<batch>" (empty when none)
var resumeScript = redis.NewScript(`
local m = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[2])
return m
`)

// leaseAcquireScript takes or renews a named lease.
//
// Input:
// KEYS[1] -> sms:lease:<name>
// ARGV[1] -> owner
// ARGV[2] -> TTL ms of the lease
// Output:
// Returns 1 if owner holds the lease (taken, or renewed)
// Returns 0 if another owner holds it
var leaseAcquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// leaseReleaseScript deletes only the owner's lease.
//
// Input:
// KEYS[1] -> sms:lease:<name>
// ARGV[1] -> owner
// Output:
// Returns 1 if the lease was deleted
// Returns 0 if owner does not hold it
var leaseReleaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
