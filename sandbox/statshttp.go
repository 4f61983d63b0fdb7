package sandbox

import (
	"encoding/json"
	"net/http"
)

// StatsPath is where a Server answers GET with its Stats as JSON, for
// harnesses that run the sandbox as a separate process (cmd/sandbox). The
// object's keys are the Stats field names ("Calls", "NumbersSent",
// "DuplicateSends", ...); NumbersSent - DuplicateSends is the number of
// distinct numbers accepted. The request needs no signature, is not an API
// call and is not counted in Calls. Tencent's API only serves POST /, so
// the path cannot collide with it.
const StatsPath = "/_sandbox/stats"

// serveStats answers a request to StatsPath.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(s.Stats())
	if err != nil {
		http.Error(w, "encode stats: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(append(body, '\n'))
}
