package store

import (
	"strconv"
	"strings"
	"time"
)

// Per-number results. Besides its state byte, a number that was sent keeps what the report
// (Recipients) shows about it, in two fields of its batch record with one line per number index
// ('\n'-separated; an empty line for a number without; trailing empty lines dropped):
//
//	sr  send results, written by Commit and SettleUnknown with the state they change:
//	    "<SerialNo>\t<fee>\t<code>", trailing empty parts dropped. fee "" is the batch's fd (the
//	    common fee of the commit), "-" not known (settled by evidence, or an unknown outcome);
//	    code "" is "Ok" for a sent number (a failed number's code is in the codes hash or the
//	    batch's fc); an unknown outcome's line is written only when the call gave a code.
//	rc  receipts, written by ApplyReceiptPage with the state byte it moves to D or U, once:
//	    "<received>\t<description>\t<status>\t<SerialNo>", trailing empty parts dropped.
//	    received is the receive time in whole seconds after the second of the batch's at (a few
//	    digits instead of 13), "=<unix seconds>" when the batch has no at, "" when not known;
//	    status "" is SUCCESS for D and FAIL for U ("-": the receipt had none); SerialNo only
//	    when the number had none from its send (an unknown settled by the receipt).
//	fd  the fee of a sent number when its sr line gives none (Commit's common fee)
//
// The send time of a number is its batch's at: the launch of the attempt that sent it.
//
// A sent, delivered number thus costs its serial (about 27 bytes for Tencent's), its receipt
// line (a few digits and the description) and two separators: on Redis 7, MEMORY USAGE grows by
// about 33 bytes per number when it is sent and 13 more when it is delivered ("DELIVRD"), over the
// about 12 of a queued number (TestMemoryPerSentNumber).

// resultsLua is the Lua chunk of the scripts that write per-number results and hourly counts.
//
// lines_of reads a per-number lines field (sr, rc) into a table of n strings; lines_field joins
// such a table back (trailing empty lines dropped, so a field of nothing but empty lines is "").
// hours/hadd/hflush add to the job's hourly counters h:<hour>:<k> (hour = floor(ms / 3600000),
// the hours since the Unix epoch; a Beijing-time hour starts at the same instant as a UTC hour):
// hadd accumulates, hflush writes each field once.
const resultsLua = `
local function lines_of(s, n)
  local t = {}
  if s and s ~= '' then
    for l in string.gmatch(s .. '\n', '([^\n]*)\n') do t[#t + 1] = l end
  end
  for i = #t + 1, n do t[i] = '' end
  return t
end
local function lines_field(t)
  local n = #t
  while n > 0 and t[n] == '' do n = n - 1 end
  return table.concat(t, '\n', 1, n)
end
local function hours() return {n = {}, order = {}} end
local function hadd(h, ms, k, n)
  if n == 0 then return end
  local f = 'h:' .. math.floor(tonumber(ms) / 3600000) .. ':' .. k
  if not h.n[f] then h.n[f] = 0; h.order[#h.order + 1] = f end
  h.n[f] = h.n[f] + n
end
local function hflush(jobkey, h)
  for _, f in ipairs(h.order) do
    if h.n[f] ~= 0 then redis.call('HINCRBY', jobkey, f, h.n[f]) end
  end
end
`

// hourMs is one hour in milliseconds (the width of the hourly counters).
const hourMs = int64(time.Hour / time.Millisecond)

// Keys of the hourly counters h:<hour>:<k> in the job hash.
const (
	hourSent        = "s"
	hourFailed      = "f"
	hourDelivered   = "d"
	hourUndelivered = "u"
	hourFee         = "e"
)

// lineText makes s safe inside a per-number line: tabs and line breaks become spaces.
func lineText(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// joinParts joins the parts of a per-number line with tabs, trailing empty parts dropped.
func joinParts(parts ...string) string {
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	return strings.Join(parts[:n], "\t")
}

// sendLine is the sr line of a result: see the layout above. settled is true for
// SettleUnknown's results, whose fee is always written ("-" when 0: not known), false for
// Commit's, whose fee is written only when it is not the commit's common fee.
func sendLine(r NumberResult, commonFee int64, settled bool) string {
	var fee, code string
	switch r.State {
	case Sent:
		switch {
		case settled && r.Fee == 0:
			fee = "-"
		case settled || r.Fee != commonFee:
			fee = strconv.FormatInt(r.Fee, 10)
		}
		if r.Code != "" && r.Code != okCode {
			code = r.Code
		}
	case Unknown:
		if r.Code == "" {
			return ""
		}
		fee, code = "-", r.Code // not sent as far as anyone knows: no fee
	default:
		return ""
	}
	return joinParts(lineText(r.SerialNo), fee, lineText(code))
}

// okCode is Tencent's send code of an accepted number.
const okCode = "Ok"

// receiptLine is the rc line of a receipt without its time and SerialNo parts (receiptsScript
// adds them): the description, and the status unless it is the one its state byte implies.
func receiptLine(r Receipt) string {
	status := r.Status
	switch {
	case status == ReceiptSuccess:
		status = ""
	case status == receiptFail:
		status = ""
	case status == "":
		status = "-"
	}
	return lineText(r.Description) + "\t" + lineText(status)
}

// receivedAt decodes the time part of an rc line (see the layout above) given the batch's at.
func receivedAt(p string, at time.Time) time.Time {
	if p == "" {
		return time.Time{}
	}
	abs := p[0] == '='
	if abs {
		p = p[1:]
	}
	n, err := strconv.ParseInt(p, 10, 64)
	if err != nil {
		return time.Time{}
	}
	if !abs {
		if at.IsZero() {
			return time.Time{}
		}
		n += floorDiv(at.UnixMilli(), 1000)
	}
	return time.Unix(n, 0)
}

// receiptFail is the Status of an undelivered receipt.
const receiptFail = "FAIL"

// splitLines splits a per-number lines field into its lines, reusing buf.
func splitLines(buf []string, field string) []string {
	buf = buf[:0]
	if field == "" {
		return buf
	}
	for {
		j := strings.IndexByte(field, '\n')
		if j < 0 {
			return append(buf, field)
		}
		buf = append(buf, field[:j])
		field = field[j+1:]
	}
}

// part returns the i-th tab-separated part of a line ("" when there is none).
func part(line string, i int) string {
	for ; i > 0; i-- {
		j := strings.IndexByte(line, '\t')
		if j < 0 {
			return ""
		}
		line = line[j+1:]
	}
	if j := strings.IndexByte(line, '\t'); j >= 0 {
		return line[:j]
	}
	return line
}
