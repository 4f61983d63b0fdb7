// Package beijing holds Beijing time (UTC+8, no daylight saving): the zone of Tencent's
// timestamps, hourly statistics and per-number daily limits. It is the one definition every
// package uses.
package beijing

import "time"

// Time is Beijing time as a fixed zone (China Standard Time, UTC+8; no daylight saving since
// 1991), so it needs no time zone database.
var Time = time.FixedZone("CST", 8*60*60)

// HourLayout is the yyyymmddhh layout of Tencent's statistics hours.
const HourLayout = "2006010215"
