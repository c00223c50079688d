// Package processing turns readable processing configurations, YAML field →
// choice pairs, into the processingMCP XML that Archivematica reads from the
// shared directory.
package processing

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wellcomecollection/devstack/fixtures"
	"go.yaml.in/yaml/v3"
)

// fields.json lists the decisions of Archivematica's workflow that a processing
// configuration can take in advance, with the links each choice answers.
//
//go:embed fields.json
var fieldsJSON []byte

type field struct {
	Name    string   `json:"name"`
	LinkID  string   `json:"link_id"`
	Label   string   `json:"label"`
	Kind    string   `json:"kind"`
	Choices []choice `json:"choices"`
}

type choice struct {
	Label string `json:"label"`
	Value string `json:"value"`
	// AppliesTo holds (link, chain) pairs: some decisions recur at several
	// links of the workflow and one choice answers them all.
	AppliesTo [][2]string `json:"applies_to"`
}

var fields = parseFields()

func parseFields() []field {
	var doc struct {
		Fields []field `json:"fields"`
	}
	if err := json.Unmarshal(fieldsJSON, &doc); err != nil {
		panic("processing: embedded fields.json: " + err.Error())
	}
	return doc.Fields
}

func lookup(name string) *field {
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i]
		}
	}
	return nil
}

var (
	locationURI = regexp.MustCompile(`^/api/v2/location/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$`)
	// The dashboard only loads and saves configs named like this (its
	// ProcessingConfigurationForm); the name also becomes a file name.
	configName = regexp.MustCompile(`^(archivematica/)?[A-Za-z0-9_]{1,16}$`)
	yamlLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

func (f *field) choice(label string) *choice {
	for i := range f.Choices {
		if f.Choices[i].Label == label {
			return &f.Choices[i]
		}
	}
	return nil
}

func (f *field) accepts(value string) bool {
	return f.choice(value) != nil || f.Kind == "location" && locationURI.MatchString(value)
}

func (f *field) valid() string {
	var labels []string
	for _, c := range f.Choices {
		labels = append(labels, strconv.Quote(c.Label))
	}
	s := strings.Join(labels, ", ")
	if f.Kind == "location" {
		s += " or a location URI /api/v2/location/<uuid>/"
	}
	return s
}

func (f *field) pairs(value string) [][2]string {
	if c := f.choice(value); c != nil {
		return c.AppliesTo
	}
	// Archivematica stores a storage location as its URI in place of a chain.
	return [][2]string{{f.LinkID, value}}
}

// Config is a processing configuration with its extends chain applied.
type Config struct {
	Name string
	// Choices maps a field name to a choice label, or for a location field
	// possibly a location URI.
	Choices map[string]string
}

// File is one configuration's YAML. Name is the config's name, e.g. "default"
// or "archivematica/default"; Path is only for messages.
type File struct {
	Name string
	Path string
	Data []byte
}

// source is one file as written: its own choices, nil meaning "remove the
// inherited one".
type source struct {
	file        File
	extends     string
	extendsLine int
	choices     map[string]*string
}

// Load parses and validates every file, then applies extends. Nothing is
// returned unless all of them are valid.
func Load(files []File) (map[string]Config, error) {
	l := loader{srcs: map[string]*source{}, done: map[string]Config{}}
	for _, f := range files {
		s, err := parse(f)
		if err != nil {
			return nil, err
		}
		if prev, dup := l.srcs[f.Name]; dup {
			return nil, &fixtures.Error{Path: f.Path, Msg: fmt.Sprintf("config %q is also defined by %s", f.Name, prev.file.Path)}
		}
		l.srcs[f.Name] = s
		l.names = append(l.names, f.Name)
	}
	slices.Sort(l.names)
	for _, n := range l.names {
		if _, err := l.resolve(n, nil); err != nil {
			return nil, err
		}
	}
	return l.done, nil
}

func parse(f File) (*source, error) {
	if !configName.MatchString(f.Name) {
		return nil, &fixtures.Error{Path: f.Path, Msg: fmt.Sprintf("config name %q must be 1 to 16 letters, digits or underscores, as Archivematica's dashboard requires", f.Name)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(f.Data, &doc); err != nil {
		e := &fixtures.Error{Path: f.Path, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = "invalid YAML: " + m[2]
		}
		return nil, e
	}
	s := &source{file: f, choices: map[string]*string{}}
	if len(doc.Content) == 0 {
		return s, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fixtures.ErrorAt(f.Path, root, "a processing config must be a mapping with extends and choices")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, fixtures.ErrorAt(f.Path, k, "%q given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "extends":
			if v.Kind != yaml.ScalarNode {
				return nil, fixtures.ErrorAt(f.Path, v, "extends must be a config name")
			}
			if v.Tag != "!!null" {
				s.extends, s.extendsLine = v.Value, v.Line
			}
		case "choices":
			if err := s.parseChoices(v); err != nil {
				return nil, err
			}
		default:
			return nil, fixtures.ErrorAt(f.Path, k, "unknown key %q (valid: extends, choices)", k.Value)
		}
	}
	return s, nil
}

func (s *source) parseChoices(n *yaml.Node) error {
	path := s.file.Path
	if n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fixtures.ErrorAt(path, n, "choices must be a mapping of field: choice")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f := lookup(k.Value)
		if f == nil {
			var names []string
			for _, f := range fields {
				names = append(names, f.Name)
			}
			return fixtures.ErrorAt(path, k, "unknown field %q (valid: %s)", k.Value, strings.Join(names, ", "))
		}
		if _, dup := s.choices[k.Value]; dup {
			return fixtures.ErrorAt(path, k, "field %q given twice", k.Value)
		}
		if v.Kind != yaml.ScalarNode {
			return fixtures.ErrorAt(path, v, "%s: the choice must be a single value (valid: %s)", k.Value, f.valid())
		}
		if v.Tag == "!!null" {
			s.choices[k.Value] = nil
			continue
		}
		if !f.accepts(v.Value) {
			return fixtures.ErrorAt(path, v, "%s: unknown choice %q (valid: %s)", k.Value, v.Value, f.valid())
		}
		value := v.Value
		s.choices[k.Value] = &value
	}
	return nil
}

type loader struct {
	srcs  map[string]*source
	names []string
	done  map[string]Config
}

// resolve applies name's extends chain; chain holds the configs already being
// resolved, so that a loop is caught rather than recursing forever.
func (l *loader) resolve(name string, chain []string) (Config, error) {
	if c, ok := l.done[name]; ok {
		return c, nil
	}
	s := l.srcs[name]
	chain = append(chain, name)
	c := Config{Name: name, Choices: map[string]string{}}
	if s.extends != "" {
		if _, ok := l.srcs[s.extends]; !ok {
			return Config{}, &fixtures.Error{Path: s.file.Path, Line: s.extendsLine, Msg: fmt.Sprintf("extends unknown config %q (known: %s)", s.extends, strings.Join(l.names, ", "))}
		}
		if i := slices.Index(chain, s.extends); i >= 0 {
			loop := append(slices.Clone(chain[i:]), s.extends)
			return Config{}, &fixtures.Error{Path: s.file.Path, Line: s.extendsLine, Msg: "extends loop: " + strings.Join(loop, " -> ")}
		}
		base, err := l.resolve(s.extends, chain)
		if err != nil {
			return Config{}, err
		}
		maps.Copy(c.Choices, base.Choices)
	}
	for k, v := range s.choices {
		if v == nil {
			delete(c.Choices, k)
		} else {
			c.Choices[k] = *v
		}
	}
	l.done[name] = c
	return c, nil
}

// Render writes c the way Archivematica's dashboard does: a comment with the
// field's label before each choice, one choice per link the answer applies to,
// fields in the workflow's order. c must come from Load, which has validated
// every value that ends up in the XML.
func Render(c Config) []byte {
	var b bytes.Buffer
	b.WriteString("<processingMCP>\n  <preconfiguredChoices>\n")
	for i := range fields {
		f := &fields[i]
		v, ok := c.Choices[f.Name]
		if !ok {
			continue
		}
		for _, p := range f.pairs(v) {
			fmt.Fprintf(&b, "    <!-- %s -->\n    <preconfiguredChoice>\n      <appliesTo>%s</appliesTo>\n      <goToChain>%s</goToChain>\n    </preconfiguredChoice>\n", f.Label, p[0], p[1])
		}
	}
	b.WriteString("  </preconfiguredChoices>\n</processingMCP>\n")
	return b.Bytes()
}

// ShippedNames lists, sorted, the configs that go onto the shared volume:
// Archivematica's built-ins are only bases for extends.
func ShippedNames(configs map[string]Config) []string {
	var names []string
	for n := range configs {
		if !strings.HasPrefix(n, "archivematica/") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// FileName is the file Archivematica looks for a config named name in.
func FileName(name string) string {
	return name + "ProcessingMCP.xml"
}
