package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/wellcomecollection/devstack/fixtures"
)

// readFixture returns a fixture file: the user's copy from the fixtures
// directory when it has one, else the embedded default.
func readFixture(dir, name string) ([]byte, string, error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		data, err := os.ReadFile(p)
		if err == nil {
			return data, p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, p, usageError("cannot read fixture %s: %v", p, err)
		}
	}
	data, err := fixtures.FS.ReadFile(name)
	return data, "fixtures/" + name, err
}

// sharedLayout reads the folders to create on the shared volume. Each must be
// a clean relative path: they become arguments of mkdir inside a container.
func sharedLayout(dir string) ([]string, error) {
	data, src, err := readFixture(dir, "shared-directory.txt")
	if err != nil {
		return nil, err
	}
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		d := strings.TrimSpace(sc.Text())
		if d == "" || strings.HasPrefix(d, "#") {
			continue
		}
		if path.IsAbs(d) || path.Clean(d) != d || d == "." || strings.HasPrefix(d, "..") || strings.HasPrefix(d, "-") {
			return nil, usageError("%s:%d: %q is not a clean relative folder path", src, line, d)
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}
