package main

import (
	"strconv"
	"time"
)

// durationDef is the def string of a duration setting: d in its largest whole unit ("72h", "5m",
// "10s"), else d.String(), so that the table derives its defaults from worker's constants and the
// usage text stays short.
func durationDef(d time.Duration) string {
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d != 0 && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}
