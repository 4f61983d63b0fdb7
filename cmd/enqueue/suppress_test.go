package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
	"github.com/smsdispatch/smsdispatch/store"
)

// suppressedNow reads the suppression list through the store: number -> reason.
func (h *harness) suppressedNow() map[string]string {
	h.t.Helper()
	st := store.New(h.rdb, store.Options{})
	out := map[string]string{}
	for sp, err := range st.Suppressions(context.Background()) {
		if err != nil {
			h.t.Fatal(err)
		}
		out[sp.Number] = sp.Reason
	}
	return out
}

func TestSuppressAddListRemove(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.run("", "suppress", "add", "13800138000", "+8613800138001", "--reason", "opt-out form")
	if r.code != 0 || !strings.Contains(r.stdout, "added 2 numbers") {
		t.Fatalf("add: %+v", r)
	}
	r = h.run("", "suppress", "add", "13800138000", "+14155552671")
	if r.code != 0 || !strings.Contains(r.stdout, "added 1 numbers") || !strings.Contains(r.stdout, "1 already on it") {
		t.Fatalf("add again: %+v", r)
	}
	want := map[string]string{"+8613800138000": "opt-out form", "+8613800138001": "opt-out form", "+14155552671": defaultAddReason}
	if got := h.suppressedNow(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list %v, want %v", got, want)
	}

	r = h.run("", "suppress", "list")
	if r.code != 0 {
		t.Fatalf("list: %+v", r)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	slices.Sort(lines)
	line := regexp.MustCompile(`^(\+\d+)\t(\d{4}-\d\d-\d\dT[^\t]+)\t(.*)$`)
	if len(lines) != 3 {
		t.Fatalf("list printed %q, want 3 lines", r.stdout)
	}
	for _, l := range lines {
		m := line.FindStringSubmatch(l)
		if m == nil || want[m[1]] != m[3] {
			t.Errorf("list line %q, want NUMBER<tab>TIME<tab>REASON of %v", l, want)
		}
	}

	r = h.run("", "suppress", "list", "--json")
	if r.code != 0 {
		t.Fatalf("list --json: %+v", r)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	n := 0
	for dec.More() {
		var e struct {
			Number, Reason, At string
		}
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		if want[e.Number] != e.Reason || e.At == "" {
			t.Errorf("json entry %+v", e)
		}
		n++
	}
	if n != 3 || strings.Count(r.stdout, "\n") != 3 {
		t.Fatalf("list --json printed %q, want 3 JSON lines", r.stdout)
	}

	r = h.run("", "suppress", "remove", "13800138000", "+8613900000000")
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1 numbers") || !strings.Contains(r.stdout, "1 were not on it") {
		t.Fatalf("remove: %+v", r)
	}
	if got := h.suppressedNow(); len(got) != 2 || got["+8613800138000"] != "" {
		t.Fatalf("after remove: %v", got)
	}
}

func TestSuppressUsage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{
		{"suppress", "add"},
		{"suppress", "add", "13800138000", "not-a-number"},
		{"suppress", "add", "13800138000", "--country", "XX"},
		{"suppress", "remove"},
		{"suppress", "remove", "12"},
		{"suppress", "list", "extra"},
		{"suppress", "import"},
		{"suppress", "import", "-", "--encoding", "latin1"},
		{"suppress", "bogus"},
	} {
		if r := h.run("", args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d (usage); stderr %q", args, r.code, exitUsage, r.stderr)
		}
	}
	if got := h.suppressedNow(); len(got) != 0 {
		t.Fatalf("a refused command wrote %v", got)
	}
	r := h.run("", "suppress", "--help")
	for _, w := range []string{"add", "remove", "list", "import", "PhoneNumberInBlacklist", "suppressed"} {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("suppress --help lacks %q: %+v", w, r)
		}
	}
}

func TestSuppressImport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	file := filepath.Join(t.TempDir(), "optouts.csv")
	content := "# opt-outs\n" +
		"13800138000\n" +
		"+8613800138001,replied TD\n" +
		"not-a-number\n" +
		"\n" +
		"+14155552671,\"STOP, by mail\"\n" +
		"13800138000,again\n" +
		"+86123\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "suppress", "import", file, "--reason", "crm export")
	if r.code != 0 {
		t.Fatalf("import: %+v", r)
	}
	if !strings.Contains(r.stdout, "imported 3 numbers: 3 added") || !strings.Contains(r.stdout, "1 repeated lines skipped, 2 lines rejected") {
		t.Errorf("summary %q", r.stdout)
	}
	for _, w := range []string{"line 4: ", `"not-a-number"`, "line 8: ", `"+86123"`} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	want := map[string]string{"+8613800138000": "crm export", "+8613800138001": "replied TD", "+14155552671": "STOP, by mail"}
	if got := h.suppressedNow(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list %v, want %v", got, want)
	}

	// From stdin, more numbers than one chunk; the ones already listed count as such.
	var b strings.Builder
	for i := range importChunk + 500 {
		fmt.Fprintf(&b, "+86139%08d\n", i)
	}
	b.WriteString("13800138000\n")
	r = h.run(b.String(), "suppress", "import", "-")
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("imported %d numbers: %d added", importChunk+501, importChunk+500)) {
		t.Fatalf("import from stdin: %+v", r)
	}
	if got := len(h.suppressedNow()); got != importChunk+503 {
		t.Fatalf("%d numbers on the list, want %d", got, importChunk+503)
	}

	r = h.run("bad\nworse\n", "suppress", "import", "-")
	if r.code != exitFailure || !strings.Contains(r.stderr, "line 2: ") {
		t.Fatalf("a file without a valid number: %+v", r)
	}
	r = h.run("", "suppress", "import", filepath.Join(t.TempDir(), "missing.csv"))
	if r.code != exitFailure {
		t.Fatalf("a missing file: %+v", r)
	}
}

// FuzzSuppressImport feeds arbitrary files through `suppress import -`: it never panics, exits 0
// (or 1 when no line was good), reports each bad line with its line number, and every number it
// reports added is on the list.
func FuzzSuppressImport(f *testing.F) {
	f.Add("13800138000\n+8613800138001,TD\n")
	f.Add("# c\n\nbad\n\"+14155552671\",\"STOP\"\n13800138000,TD\n13800138000\n")
	f.Add("\xff\xfe\n13800138000,\"unterminated\n")
	f.Add(strings.Repeat("1", 70000) + "\n")
	db := redistest.Mini(f)
	env := map[string]string{"REDIS_URL": db.URL}
	summary := regexp.MustCompile(`^imported (\d+) numbers: (\d+) added .* (\d+) lines rejected\n$`)
	lineRef := regexp.MustCompile(`(?m)^line (\d+): `)
	f.Fuzz(func(t *testing.T, in string) {
		db.Mini.FlushAll()
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"suppress", "import", "-"}, strings.NewReader(in), &out, &errb,
			func(k string) string { return env[k] })
		if code != 0 && code != exitFailure {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		m := summary.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("no summary: stdout %q stderr %q", out.String(), errb.String())
		}
		n := 0
		for _, err := range store.New(db.Client, store.Options{}).Suppressions(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if fmt.Sprint(n) != m[2] {
			t.Fatalf("%d numbers on the list; the summary says %s imported, %s added", n, m[1], m[2])
		}
		// One report per rejected line, in line order, each naming a line of the input.
		refs := lineRef.FindAllStringSubmatch(errb.String(), -1)
		if fmt.Sprint(len(refs)) != m[3] {
			t.Fatalf("%d bad-line reports, the summary says %s rejected:\n%s", len(refs), m[3], errb.String())
		}
		last, lines := 0, strings.Count(in, "\n")+1
		for _, ref := range refs {
			if l := atoi(ref[1]); l <= last || l > lines {
				t.Fatalf("line %d reported after line %d, input of %d lines", l, last, lines)
			} else {
				last = l
			}
		}
	})
}
