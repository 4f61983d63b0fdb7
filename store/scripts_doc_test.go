package store

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The Lua contract: every script (a package variable set to redis.NewScript(...)) documents its
// input, one line per KEYS[i] and per ARGV[i] ("KEYS[1] -> what it is"; "[a..b]" for a fixed
// range, "[a..]" for the variable tail), then "Output:" and one "Returns ..." line per reply.
// These tests check the documented indexes against the indexes the Lua source uses and against
// the keys and arguments its Go callers pass.

// scriptDoc is a script as the package's source declares it.
type scriptDoc struct {
	name string
	doc  string // the doc comment's text
	lua  string // the full source, shared chunks included
	pos  token.Position
}

// slots is the documented KEYS or ARGV of a script: indexes 1..fixed, then, when open, a
// variable tail from fixed+1 on.
type slots struct {
	fixed int
	open  bool
}

// docLine is one KEYS or ARGV line of a script's doc comment.
var docLine = regexp.MustCompile(`^(KEYS|ARGV)\[(\d+)(\.\.(\d*))?\] -> \S`)

// parseContract reads a script doc comment: its KEYS and ARGV lines, in order and without gaps,
// between "Input:" and "Output:", and at least one "Returns" line after "Output:".
func parseContract(doc string) (keys, argv slots, err error) {
	lines := strings.Split(strings.TrimSpace(doc), "\n")
	in := slices.Index(lines, "Input:")
	out := slices.Index(lines, "Output:")
	if in < 0 || out < in {
		return keys, argv, fmt.Errorf(`no "Input:" followed by "Output:"`)
	}
	seen := map[string]*slots{"KEYS": &keys, "ARGV": &argv}
	for _, l := range lines[in+1 : out] {
		if !strings.HasPrefix(l, "KEYS") && !strings.HasPrefix(l, "ARGV") {
			continue // a wrapped line of the one before
		}
		m := docLine.FindStringSubmatch(l)
		if m == nil {
			return keys, argv, fmt.Errorf("line %q is not %q", l, "KEYS[i] -> what it is")
		}
		s := seen[m[1]]
		from, _ := strconv.Atoi(m[2])
		if s.open {
			return keys, argv, fmt.Errorf("%s: line %q after the variable tail", m[1], l)
		}
		if from != s.fixed+1 {
			return keys, argv, fmt.Errorf("%s: line %q, want %s[%d] next (a line is missing or out of order)", m[1], l, m[1], s.fixed+1)
		}
		switch {
		case m[3] == "":
			s.fixed = from
		case m[4] == "":
			s.open = true
			s.fixed = from - 1
		default:
			to, _ := strconv.Atoi(m[4])
			if to <= from {
				return keys, argv, fmt.Errorf("%s: empty range in %q", m[1], l)
			}
			s.fixed = to
		}
	}
	returns := 0
	for _, l := range lines[out+1:] {
		if strings.HasPrefix(l, "Returns") {
			returns++
		}
	}
	if returns == 0 {
		return keys, argv, fmt.Errorf(`no "Returns" line after "Output:"`)
	}
	return keys, argv, nil
}

var (
	luaComment = regexp.MustCompile(`--[^\n]*`)
	luaIndex   = regexp.MustCompile(`\b(KEYS|ARGV)\[(\d+)\]`)
)

// usedSlots is what the Lua source uses of KEYS or ARGV (name): the highest literal index, and
// whether it reads a variable part (#KEYS, unpack(KEYS...), KEYS[k]).
func usedSlots(lua, name string) slots {
	lua = luaComment.ReplaceAllString(lua, "")
	var s slots
	for _, m := range luaIndex.FindAllStringSubmatch(lua, -1) {
		if m[1] == name {
			n, _ := strconv.Atoi(m[2])
			s.fixed = max(s.fixed, n)
		}
	}
	dynamic := regexp.MustCompile(`#` + name + `\b|unpack\(` + name + `\b|\b` + name + `\[[^\]\d]|\b` + name + `\[\d+[^\]\d]`)
	s.open = dynamic.MatchString(lua)
	return s
}

// checkContract compares a script's doc comment with its Lua source.
func checkContract(doc, lua string) error {
	keys, argv, err := parseContract(doc)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		doc  slots
	}{{"KEYS", keys}, {"ARGV", argv}} {
		used := usedSlots(lua, c.name)
		if c.doc.fixed != used.fixed {
			return fmt.Errorf("%s: documented up to %s[%d], the script uses up to %s[%d]", c.name, c.name, c.doc.fixed, c.name, used.fixed)
		}
		if c.doc.open != used.open {
			return fmt.Errorf("%s: variable tail documented %v, used by the script %v", c.name, c.doc.open, used.open)
		}
	}
	return nil
}

// storeSource parses the package's non-test files.
func storeSource(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// packageValues maps the package-level const and var names to their value expressions.
func packageValues(files []*ast.File) map[string]ast.Expr {
	vals := map[string]ast.Expr{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, sp := range g.Specs {
				vs, ok := sp.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						vals[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	return vals
}

// stringValue evaluates a constant string expression: literals, package constants and +.
func stringValue(e ast.Expr, vals map[string]ast.Expr) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return strconv.Unquote(e.Value)
		}
	case *ast.Ident:
		if v, ok := vals[e.Name]; ok {
			return stringValue(v, vals)
		}
	case *ast.ParenExpr:
		return stringValue(e.X, vals)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, err := stringValue(e.X, vals)
			if err != nil {
				return "", err
			}
			y, err := stringValue(e.Y, vals)
			return x + y, err
		}
	}
	return "", fmt.Errorf("not a constant string: %T", e)
}

// isNewScript reports whether e is a call redis.NewScript(src).
func isNewScript(e ast.Expr) (*ast.CallExpr, bool) {
	c, ok := e.(*ast.CallExpr)
	if !ok || len(c.Args) != 1 {
		return nil, false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "NewScript" {
		return nil, false
	}
	x, ok := sel.X.(*ast.Ident)
	return c, ok && x.Name == "redis"
}

// storeScripts returns every script of the package.
func storeScripts(t *testing.T) (*token.FileSet, []*ast.File, map[string]scriptDoc) {
	t.Helper()
	fset, files := storeSource(t)
	vals := packageValues(files)
	scripts := map[string]scriptDoc{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				if len(vs.Names) != 1 || len(vs.Values) != 1 {
					continue
				}
				call, ok := isNewScript(vs.Values[0])
				if !ok {
					continue
				}
				name := vs.Names[0].Name
				lua, err := stringValue(call.Args[0], vals)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				doc := vs.Doc
				if doc == nil {
					doc = g.Doc
				}
				if doc == nil {
					t.Errorf("%s: no doc comment", name)
					continue
				}
				scripts[name] = scriptDoc{name: name, doc: doc.Text(), lua: lua, pos: fset.Position(vs.Pos())}
			}
		}
	}
	return fset, files, scripts
}

func TestScriptContracts(t *testing.T) {
	t.Parallel()
	_, _, scripts := storeScripts(t)
	if len(scripts) < 20 {
		t.Fatalf("found %d scripts: the parser missed some", len(scripts))
	}
	for _, s := range scripts {
		if err := checkContract(s.doc, s.lua); err != nil {
			t.Errorf("%s (%s): %v", s.name, s.pos, err)
		}
	}
}

// TestScriptContractCheckerCatchesMissingLines: a doc comment without one of its KEYS or ARGV
// lines (or without a reply) fails the check.
func TestScriptContractCheckerCatchesMissingLines(t *testing.T) {
	t.Parallel()
	_, _, scripts := storeScripts(t)
	for _, name := range []string{"claimScript", "commitScript", "createWriteScript", "haltScript"} {
		s, ok := scripts[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		lines := strings.Split(s.doc, "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "KEYS[") && !strings.HasPrefix(l, "ARGV[") && !strings.HasPrefix(l, "Returns") {
				continue
			}
			cut := strings.Join(slices.Delete(slices.Clone(lines), i, i+1), "\n")
			if strings.HasPrefix(l, "Returns") && strings.Count(s.doc, "\nReturns") > 1 {
				continue // the other replies are still documented
			}
			if err := checkContract(cut, s.lua); err == nil {
				t.Errorf("%s without %q passes the check", name, l)
			}
		}
	}
}

// TestScriptCallers checks the keys and arguments each call of a script passes (where they are
// written out in the call) against the script's documented KEYS and ARGV.
func TestScriptCallers(t *testing.T) {
	t.Parallel()
	fset, files, scripts := storeScripts(t)
	vals := packageValues(files)
	contracts := map[string][2]slots{}
	for name, s := range scripts {
		k, a, err := parseContract(s.doc)
		if err != nil {
			continue // reported by TestScriptContracts
		}
		contracts[name] = [2]slots{k, a}
	}
	// count is the number of values e stands for when the call spells them out: a []string{...}
	// or []any{...} literal, or append(literal, packageVar...) of a package-level literal.
	var count func(e ast.Expr) (int, bool)
	count = func(e ast.Expr) (int, bool) {
		switch e := e.(type) {
		case *ast.CompositeLit:
			return len(e.Elts), true
		case *ast.Ident:
			if v, ok := vals[e.Name]; ok {
				if lit, ok := v.(*ast.CompositeLit); ok {
					return len(lit.Elts), true
				}
			}
		case *ast.CallExpr:
			if f, ok := e.Fun.(*ast.Ident); ok && f.Name == "append" && e.Ellipsis.IsValid() && len(e.Args) == 2 {
				a, ok1 := count(e.Args[0])
				b, ok2 := count(e.Args[1])
				return a + b, ok1 && ok2
			}
		}
		return 0, false
	}
	check := func(pos token.Pos, name, what string, n int, s slots) {
		if n < s.fixed || (!s.open && n > s.fixed) {
			want := strconv.Itoa(s.fixed)
			if s.open {
				want = "at least " + want
			}
			t.Errorf("%s: %s call passes %d %s, the doc has %s", fset.Position(pos), name, n, what, want)
		}
	}
	calls := 0
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Run" && sel.Sel.Name != "Eval" && sel.Sel.Name != "EvalSha") {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			c, ok := contracts[x.Name]
			if !ok || len(call.Args) < 3 {
				return true
			}
			calls++
			if n, ok := count(call.Args[2]); ok {
				check(call.Pos(), x.Name, "keys", n, c[0])
			}
			args := call.Args[3:]
			if !call.Ellipsis.IsValid() {
				check(call.Pos(), x.Name, "arguments", len(args), c[1])
			} else if len(args) == 1 {
				if n, ok := count(args[0]); ok {
					check(call.Pos(), x.Name, "arguments", n, c[1])
				}
			}
			return true
		})
	}
	if calls < len(scripts) {
		t.Errorf("found %d script calls for %d scripts: the parser missed some", calls, len(scripts))
	}
}
