package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/store"
)

func TestSendWindowFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := []string{"send", "--template", "1000002", "--to", "13800138000"}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad format", append(base, "--window", "8-22"), "--window"},
		{"equal ends", append(base, "--window", "08:00-08:00"), "--window"},
		{"unknown zone", append(base, "--window", "08:00-22:00", "--tz", "Mars/Olympus"), "--tz"},
		{"zone without window", append(base, "--tz", "Europe/Berlin"), "--tz: needs --window"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.run("", tt.args...)
			if r.code != exitUsage || r.stdout != "" || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d stdout %q stderr %q; want exit 2 naming %s", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}

	// A window closed now (it opens in two hours, Beijing time): the job is scheduled and says when.
	loc, err := time.LoadLocation(store.BeijingTZ)
	if err != nil {
		t.Fatal(err)
	}
	lt := time.Now().In(loc).Add(2 * time.Hour)
	span := fmt.Sprintf("%02d:%02d-%02d:%02d", lt.Hour(), lt.Minute(), (lt.Hour()+3)%24, lt.Minute())
	if r := h.run("", append(base, "--id", "w1", "--window", span)...); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	r := h.run("", "status", "w1", "--json")
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); r.code != 0 || err != nil {
		t.Fatalf("status: %+v, %v", r, err)
	}
	if m["state"] != "scheduled" || m["window"] != span+" "+store.BeijingTZ || m["next_open"] == nil {
		t.Fatalf("status %v; want scheduled, window %s Asia/Shanghai, next_open", m, span)
	}
	if r := h.run("", append(base, "--id", "w2", "--window", "22:00-06:00", "--tz", "Europe/Berlin")...); r.code != 0 {
		t.Fatalf("send --tz: %+v", r)
	}
	if r := h.run("", "status", "w2", "--json"); !strings.Contains(r.stdout, `"window":"22:00-06:00 Europe/Berlin"`) {
		t.Fatalf("status: %+v", r)
	}
}
