// Package docs holds the project's documentation; its tests keep the
// documentation true to the code.
package docs

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
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
