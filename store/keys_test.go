package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKeyTableListsEveryKey checks that every key builder in keys.go (a func or const whose name
// ends in Key or Prefix) builds a key listed in doc.go's key table, and that every row of the table
// is built by one of them: adding a key without documenting it, or leaving a stale row, fails.
func TestKeyTableListsEveryKey(t *testing.T) {
	t.Parallel()
	// One sample key per builder. A prefix gets a suffix making it a whole key.
	built := map[string]string{
		"jobKey":           jobKey("j1"),
		"paramsKey":        paramsKey("j1"),
		"codesKey":         codesKey("j1"),
		"batchPrefix":      batchPrefix("j1") + "7",
		"batchKey":         batchKey("j1", 7),
		"inboxKey":         inboxKey("app1"),
		"unmatchedKey":     unmatchedKey("app1"),
		"pullMarkKey":      pullMarkKey("app1"),
		"receiptLossKey":   receiptLossKey,
		"umNumberKey":      umNumberKey("+8613800000000"),
		"haltKey":          haltKey("app1"),
		"parkedKey":        parkedKey("app1"),
		"leaseKey":         leaseKey("sweeper"),
		"templateKey":      templateKey("acct1", "1000001"),
		"templateTypesKey": templateTypesKey("acct1"),
		"unmatchedSeenKey": unmatchedSeenKey("1400000001"),
		"serialKey":        serialKey(0x1f, 20000),
		"suppKey":          suppKey(0xa7),
		"activeKey":        activeKey,
		"recentKey":        recentKey,
		"haltAppsKey":      haltAppsKey,
		"appsKey":          appsKey,
		"defaultsKey":      defaultsKey,
		"sandboxKey":       sandboxKey,
	}

	// Every builder declared in keys.go has a sample above.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "keys.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	isBuilder := func(name string) bool {
		return strings.HasSuffix(name, "Key") || strings.HasSuffix(name, "Prefix")
	}
	var declared []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if isBuilder(d.Name.Name) {
				declared = append(declared, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				if vs, ok := sp.(*ast.ValueSpec); ok {
					for _, n := range vs.Names {
						if isBuilder(n.Name) {
							declared = append(declared, n.Name)
						}
					}
				}
			}
		}
	}
	for _, name := range declared {
		if _, ok := built[name]; !ok {
			t.Errorf("keys.go declares %s, which this test does not build: add it here and to doc.go's key table", name)
		}
	}
	for name := range built {
		if !slices.Contains(declared, name) {
			t.Errorf("%s is not declared in keys.go: every key builder lives there", name)
		}
	}

	rows := docKeyRows(t)
	if len(rows) == 0 {
		t.Fatal("found no key table in doc.go (code lines starting with sms:)")
	}
	used := make(map[string]bool, len(rows))
	for name, key := range built {
		var match []string
		for _, row := range rows {
			if rowPattern(row).MatchString(key) {
				match = append(match, row)
				used[row] = true
			}
		}
		if len(match) != 1 {
			t.Errorf("%s builds %q, which matches %d rows of doc.go's key table (%q), want 1", name, key, len(match), match)
		}
	}
	for _, row := range rows {
		if !used[row] {
			t.Errorf("doc.go's key table lists %q, which no builder in keys.go builds", row)
		}
	}
}

// docKeyRows returns the keys of doc.go's key table: the first field of every code line of the
// package comment that starts with "sms:".
func docKeyRows(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.Lines(string(src)) {
		rest, ok := strings.CutPrefix(line, "//\t")
		if !ok || !strings.HasPrefix(rest, "sms:") {
			continue
		}
		rows = append(rows, strings.Fields(rest)[0])
	}
	return rows
}

// rowPattern turns a key of the table into a pattern of the keys it stands for: {J} and {A} are
// a job's and an app's hash tag, <x> is a variable part.
func rowPattern(row string) *regexp.Regexp {
	p := regexp.QuoteMeta(row)
	p = strings.NewReplacer(`\{J\}`, `\{[^{}|\s]+\}`, `\{A\}`, `\{[^{}|\s]+\}`).Replace(p)
	p = regexp.MustCompile(`<[a-z0-9]+>`).ReplaceAllString(p, `[^:{}]+`)
	return regexp.MustCompile(`^` + p + `$`)
}
