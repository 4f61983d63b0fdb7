package store

import "strconv"

// Keys. Every key of one job carries the hash tag {<job>}, every key of one app {<app>}, so
// each script touches a single slot. Nothing outside this package builds keys.
func jobKey(job string) string           { return "sms:{" + job + "}:job" }
func paramsKey(job string) string        { return "sms:{" + job + "}:params" }
func codesKey(job string) string         { return "sms:{" + job + "}:codes" }
func batchPrefix(job string) string      { return "sms:{" + job + "}:b:" }
func batchKey(job string, n int) string  { return batchPrefix(job) + strconv.Itoa(n) }
func inboxKey(app string) string         { return "sms:rcpt:{" + app + "}:inbox" }
func unmatchedKey(app string) string     { return "sms:rcpt:{" + app + "}:unmatched" }
func unmatchedSeenKey(app string) string { return "sms:rcpt:{" + app + "}:umseen" }
func pullMarkKey(app string) string      { return "sms:rcpt:{" + app + "}:pulling" }

// receiptLossKey holds the latest time before which pulled receipts may have been lost.
const receiptLossKey = "sms:rcpt:loss"

func umNumberKey(e164 string) string { return "sms:um:" + e164 }
func haltKey(app string) string      { return "sms:halt:{" + app + "}" }
func parkedKey(app string) string    { return "sms:halt:{" + app + "}:parked" }
func leaseKey(name string) string    { return "sms:lease:" + name }

func templateKey(account, id string) string  { return "sms:tpl:" + account + ":" + id }
func templateTypesKey(account string) string { return "sms:tpltype:" + account }

// serialKey is the day bucket of the serial index for one shard: a hash SerialNo -> "<job>|<batch>|
// <idx>". The hash tag is the shard, so every day of one shard is in one slot (IndexEvidenceSerials
// checks them all in one script) and the index spreads over serialShards slots.
func serialKey(shard int, day int64) string {
	const hex = "0123456789abcdef"
	y, m, d := civilDate(day)
	var b [32]byte
	k := append(b[:0], "sms:sn:{sn"...)
	k = append(k, hex[shard>>4&15], hex[shard&15], '}', ':')
	k = strconv.AppendInt(k, y, 10)
	k = append(k, byte('0'+m/10), byte('0'+m%10), byte('0'+d/10), byte('0'+d%10))
	return string(k)
}

// suppKey is one shard of the suppression list: a hash E.164 number -> "<ms>|<reason>"
// (suppress.go). The hash tag is the shard (2 hex digits), so every command on it is one slot.
func suppKey(shard int) string {
	const hex = "0123456789abcdef"
	return "sms:supp:{sp" + string([]byte{hex[shard>>4&15], hex[shard&15]}) + "}"
}

// civilDate is the proleptic Gregorian date of a day number (days since 1970-01-01), without the
// cost of the time package's formatting (H. Hinnant's civil_from_days).
func civilDate(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

const (
	activeKey   = "sms:jobs:active" // zset job -> created ms
	recentKey   = "sms:jobs:recent" // zset job -> created ms of every job whose records exist (recent.go)
	haltAppsKey = "sms:halt:apps"   // set of apps that were ever halted (Halts lists from it)
)

// appsKey is the zset app -> last use ms (Apps: receipt pulling; CreateJob and Apps write it);
// members older than Options.Retention are pruned by Apps.
const appsKey = "sms:apps"

// defaultsKey holds the defaults the newest worker advertised (see AdvertiseDefaults).
const defaultsKey = "sms:defaults"

// sandboxKey is the hash of the shared zero-setup sandbox: owner url app signs (sign names
// separated by "\n"), with a PX TTL its owner renews.
//
//	sms:sandbox            hash  owner url app signs, PX ttl (see ClaimSandbox)
const sandboxKey = "sms:sandbox"
