package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// referenceDir holds the command reference, one Markdown page per command,
// generated from the commands themselves.
const referenceDir = "../../docs/commands"

// regenerate is the command that rewrites the reference.
const regenerate = "make docs (go test ./cmd/devstack -run '^TestCommandReference$' -args -update)"

// genReference writes the reference of every command devstack has, the
// completion command cobra adds at run time included, into dir.
func genReference(dir string) error {
	root := newRoot(&app{stdin: bytes.NewReader(nil), stdout: io.Discard, stderr: io.Discard})
	root.InitDefaultCompletionCmd()
	var noDate func(*cobra.Command)
	noDate = func(c *cobra.Command) {
		c.DisableAutoGenTag = true // no "Auto generated ... on DATE" line
		for _, sub := range c.Commands() {
			noDate(sub)
		}
	}
	noDate(root)
	return doc.GenMarkdownTree(root, dir)
}

// The reference in docs/commands/ is what the commands say of themselves:
// a command, flag or help text changed without regenerating it fails here.
// With -update it is rewritten instead.
func TestCommandReference(t *testing.T) {
	if *update {
		old, err := filepath.Glob(filepath.Join(referenceDir, "*.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range old {
			must(t, os.Remove(f))
		}
		must(t, os.MkdirAll(referenceDir, 0o755))
		must(t, genReference(referenceDir))
		return
	}
	tmp := t.TempDir()
	must(t, genReference(tmp))
	generated, err := filepath.Glob(filepath.Join(tmp, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	checkedIn, err := filepath.Glob(filepath.Join(referenceDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	for _, name := range names(generated) {
		want, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(referenceDir, name))
		switch {
		case os.IsNotExist(err):
			t.Errorf("docs/commands/%s is missing; regenerate the reference with %s", name, regenerate)
		case err != nil:
			t.Fatal(err)
		case !bytes.Equal(got, want):
			t.Errorf("docs/commands/%s differs from what the commands say; regenerate the reference with %s", name, regenerate)
		}
	}
	for _, name := range names(checkedIn) {
		if !slices.Contains(names(generated), name) {
			t.Errorf("docs/commands/%s is no command's page; regenerate the reference with %s", name, regenerate)
		}
	}
}
