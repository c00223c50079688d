package shared

import (
	"errors"
	"testing"
)

func TestPath(t *testing.T) {
	for p, want := range map[string]string{
		"a/b.txt":       "a/b.txt",
		"a//b/./c":      "a/b/c",
		Dir + "/a/b":    "a/b",
		"a/../b":        "b",
		"":              "",
		".":             "",
		"..":            "",
		"../etc/passwd": "",
		"a/../../x":     "",
		"/etc/passwd":   "",
		Dir:             "",
		Dir + "/..":     "",
	} {
		got, err := Path(p)
		if want == "" {
			if !errors.Is(err, ErrOutside) {
				t.Errorf("Path(%q) = %q, %v; want ErrOutside", p, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
}
