// Package docs holds the project's documentation; its tests keep the
// documentation true to the code.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/wellcomecollection/devstack/"

// The package diagram in architecture.md must have exactly the edges the
// code has: the imports between the module's packages (tests excluded).
func TestArchitectureDiagram(t *testing.T) {
	doc, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```mermaid\ngraph TD\n(.*?)```").FindSubmatch(doc)
	if block == nil {
		t.Fatal("architecture.md has no mermaid graph")
	}
	var drawn []string
	for _, line := range strings.Split(strings.TrimSpace(string(block[1])), "\n") {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " --> ")
		if !ok {
			t.Fatalf("not an edge: %q", line)
		}
		drawn = append(drawn, from+" -> "+to)
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../...").Output()
	if err != nil {
		t.Fatal(err)
	}
	var real []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		from, ok := strings.CutPrefix(fields[0], module)
		if !ok || strings.HasPrefix(from, "examples/") || from == "docs" {
			continue
		}
		for _, imp := range fields[1:] {
			if to, ok := strings.CutPrefix(imp, module); ok {
				real = append(real, from+" -> "+to)
			}
		}
	}
	slices.Sort(drawn)
	slices.Sort(real)
	for _, e := range real {
		if !slices.Contains(drawn, e) {
			t.Errorf("the code has %s; the diagram does not", e)
		}
	}
	for _, e := range drawn {
		if !slices.Contains(real, e) {
			t.Errorf("the diagram has %s; the code does not", e)
		}
	}
}

// Every error devstack reports (the messages given to usageError, envError
// and the CLI's usage) has an entry in the README's troubleshooting
// section: its longest literal part appears there.
func TestTroubleshootingCoversEveryError(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Troubleshooting\n")
	if !ok {
		t.Fatal("README.md has no Troubleshooting section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	fset := token.NewFileSet()
	for _, dir := range []string{"../emulator", "../cmd/devstack"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				fn, ok := call.Fun.(*ast.Ident)
				if !ok {
					return true
				}
				arg, ok := map[string]int{"usageError": 0, "usage": 0, "envError": 1}[fn.Name]
				if !ok || len(call.Args) <= arg {
					return true
				}
				lit, ok := call.Args[arg].(*ast.BasicLit)
				if !ok {
					return true
				}
				format, _ := strconv.Unquote(lit.Value)
				longest := ""
				for _, part := range verb.Split(format, -1) {
					if part = strings.Trim(part, " :;,.()`'\"\n"); len(part) > len(longest) {
						longest = part
					}
				}
				if len(longest) >= 6 && !strings.Contains(section, longest) {
					t.Errorf("%s: no troubleshooting entry for %q", fset.Position(call.Pos()), format)
				}
				return true
			})
		}
	}
}
