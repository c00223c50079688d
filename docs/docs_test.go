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
	"unicode"
)

const module = "github.com/wellcomecollection/devstack/"

// The package diagram in architecture.md must hold the code's imports
// between the module's packages (tests excluded): every arrow drawn is an
// import, and every import follows the arrows.
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
	// Every arrow drawn is an import; every import follows the arrows.
	next := map[string][]string{}
	for _, e := range drawn {
		from, to, _ := strings.Cut(e, " -> ")
		next[from] = append(next[from], to)
	}
	for _, e := range drawn {
		if !slices.Contains(real, e) {
			t.Errorf("the diagram has %s; the code does not", e)
		}
	}
	for _, e := range real {
		from, to, _ := strings.Cut(e, " -> ")
		if !reaches(next, from, to) {
			t.Errorf("the code has %s; no path of the diagram's arrows leads there", e)
		}
	}
}

// The layout architecture.md describes stays one a reader can take in: the
// façade small, no package of the library too long to read, engine errors
// shortened once.
func TestPackagesStaySmall(t *testing.T) {
	facade, err := filepath.Glob("../emulator/*.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(facade) > 12 {
		t.Errorf("emulator/ holds %d Go files; the façade keeps to 12: move what is not a command into a package beneath it", len(facade))
	}
	lines := map[string]int{}
	shortened := 0
	err = filepath.WalkDir("../emulator", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		lines[filepath.Dir(path)] += strings.Count(string(data), "\n")
		if !strings.HasSuffix(path, "_test.go") {
			shortened += len(regexp.MustCompile(`(?i)\bshortErr\(`).FindAll(data, -1)) - strings.Count(string(data), "func ShortErr(")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, n := range lines {
		if n > 2500 {
			t.Errorf("%s holds %d lines of Go; a package keeps under 2,500", dir, n)
		}
	}
	if shortened > 10 {
		t.Errorf("engine errors are shortened at %d places; they are said once, at the seam", shortened)
	}
}

// The README says what devstack is and how to start; topics have pages.
func TestReadmeStaysShort(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 300 {
		t.Errorf("README.md has %d lines; it keeps to 300, with topics on pages under docs/", n)
	}
	if pages, _ := filepath.Glob("*.md"); len(pages) < 5 {
		t.Errorf("docs/ has %d pages", len(pages))
	}
}

// reaches says whether a path of arrows leads from one package to another.
func reaches(next map[string][]string, from, to string) bool {
	seen := map[string]bool{}
	todo := slices.Clone(next[from])
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if p == to {
			return true
		}
		if !seen[p] {
			seen[p] = true
			todo = append(todo, next[p]...)
		}
	}
	return false
}

// Every error devstack reports (the messages given to usageError, envError
// and the CLI's usage) has an entry in troubleshooting.md: its longest
// literal part appears there.
func TestTroubleshootingCoversEveryError(t *testing.T) {
	page, err := os.ReadFile("troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	section, ok := strings.CutPrefix(string(page), "# Troubleshooting\n")
	if !ok {
		t.Fatal("troubleshooting.md does not begin with its title, # Troubleshooting")
	}
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

// The Go example in harness.md is examples/ingest's test, which CI compiles
// and runs: the page shows the file as it is, less its opening comment.
func TestHarnessExample(t *testing.T) {
	page, err := os.ReadFile("harness.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```go\n(package ingest_test\n.*?)```").FindSubmatch(page)
	if block == nil {
		t.Fatal("harness.md has no Go example of package ingest_test")
	}
	src, err := os.ReadFile("../examples/ingest/ingest_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(string(src), "\npackage ingest_test\n")
	if want := "package ingest_test\n" + code; string(block[1]) != want {
		t.Errorf("harness.md's Go example differs from examples/ingest/ingest_test.go: copy the file's code (after its comment) into the page")
	}
}

// Every relative link of the README and the pages under docs/ leads to a
// file of the repository, and every #anchor to a heading of its page.
func TestLinks(t *testing.T) {
	pages := []string{"../README.md"}
	for _, pattern := range []string{"*.md", "commands/*.md"} {
		found, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, found...)
	}
	link := regexp.MustCompile(`\]\(([^()\s]+)\)`)
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(withoutCode(string(text)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: link %s: no file %s", page, target, path)
				continue
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: link %s: an anchor into a file that is no page", page, target)
				continue
			}
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(anchors(string(doc)), anchor) {
				t.Errorf("%s: link %s: %s has no heading #%s", page, target, path, anchor)
			}
		}
	}
}

// withoutCode drops the fenced code blocks and inline code of a page,
// where brackets are no links.
func withoutCode(text string) string {
	text = regexp.MustCompile("(?s)\n```.*?\n```").ReplaceAllString(text, "\n")
	return regexp.MustCompile("`[^`\n]*`").ReplaceAllString(text, "``")
}

// anchors gives the anchors GitHub makes of a page's headings: lower case,
// spaces as '-', punctuation other than '-' and '_' dropped.
func anchors(text string) []string {
	var out []string
	fence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		heading, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if fence || !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}
