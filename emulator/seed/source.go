package seed

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/fixtures"
	"go.yaml.in/yaml/v3"
)

// Source reads fixture files: the user's copy in Dir when it has one (same
// file name wins), else the embedded default.
type Source struct {
	Dir string
}

func (s Source) Read(name string) (data []byte, path string, err error) {
	if s.Dir != "" {
		p := filepath.Join(s.Dir, name)
		data, err := os.ReadFile(p)
		if err == nil {
			return data, p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, p, &fixtures.Error{Path: p, Msg: err.Error()}
		}
	}
	data, err = fixtures.FS.ReadFile(name)
	return data, "fixtures/" + name, err
}

// parseYAML reads a YAML document into its root node; an empty file is an
// empty mapping.
func parseYAML(path string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &fixtures.Error{Path: path, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	}
	return doc.Content[0], nil
}

// fields checks that n is a mapping whose keys are all allowed, and returns
// the values by key. Unknown keys are errors that list the allowed ones.
func fields(path, what string, n *yaml.Node, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fixtures.ErrorAt(path, n, "%s must be a mapping", what)
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if len(allowed) > 0 && !slices.Contains(allowed, k.Value) {
			return nil, fixtures.ErrorAt(path, k, "unknown field %q in %s (valid: %s)", k.Value, what, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, fixtures.ErrorAt(path, k, "%s: %q given twice", what, k.Value)
		}
		out[k.Value] = v
	}
	return out, nil
}

// scalar returns a string value; a missing key gives "".
func scalar(path, key string, m map[string]*yaml.Node) (string, error) {
	n, ok := m[key]
	if !ok || n.Tag == "!!null" {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fixtures.ErrorAt(path, n, "%s must be a single value", key)
	}
	return n.Value, nil
}

// boolean returns a true/false value, or def when the key is absent.
func boolean(path, key string, m map[string]*yaml.Node, def bool) (bool, error) {
	n, ok := m[key]
	if !ok {
		return def, nil
	}
	switch n.Value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fixtures.ErrorAt(path, n, "%s must be true or false, not %q", key, n.Value)
}
