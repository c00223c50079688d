package processing

import (
	"encoding/xml"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtureFiles reads fixtures/processing from disk, named the way the seeder
// names them: the path below that folder without ".yaml".
func fixtureFiles(t *testing.T) []File {
	t.Helper()
	root := "../../fixtures/processing"
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		files = append(files, File{Name: strings.TrimSuffix(rel, ".yaml"), Path: "fixtures/processing/" + rel, Data: data})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func loadFixtures(t *testing.T) map[string]Config {
	t.Helper()
	configs, err := Load(fixtureFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	return configs
}

// pairs reads back the appliesTo → goToChain pairs of a processingMCP
// document, sorted so that two documents compare as sets.
func pairs(t *testing.T, data []byte) []string {
	t.Helper()
	var doc struct {
		Choices []struct {
			AppliesTo string `xml:"appliesTo"`
			GoToChain string `xml:"goToChain"`
		} `xml:"preconfiguredChoices>preconfiguredChoice"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("rendered XML does not parse: %v\n%s", err, data)
	}
	var out []string
	for _, c := range doc.Choices {
		out = append(out, c.AppliesTo+" -> "+c.GoToChain)
	}
	slices.Sort(out)
	return out
}

func TestBuiltinsMatchArchivematica(t *testing.T) {
	configs := loadFixtures(t)
	for name, want := range map[string]int{"default": 17, "automated": 32} {
		ref, err := os.ReadFile("testdata/" + FileName(name))
		if err != nil {
			t.Fatal(err)
		}
		got, exp := pairs(t, Render(configs["archivematica/"+name])), pairs(t, ref)
		if len(exp) != want || !slices.Equal(got, exp) {
			t.Errorf("archivematica/%s renders\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(exp, "\n"))
		}
	}
}

// wellcomeDefault is shared/reference/wellcome-processing-configs.md's table,
// with the local storage location.
var wellcomeDefault = map[string]string{
	"virus_scanning":                         "Yes",
	"assign_uuids_to_directories":            "No",
	"generate_transfer_structure":            "No",
	"select_format_id_tool_transfer":         "Yes",
	"policy_checks_originals":                "No",
	"examine_contents":                       "Examine contents",
	"select_format_id_tool_ingest":           "No, use existing data",
	"normalize_thumbnail_mode":               "No",
	"policy_checks_preservation_derivatives": "No",
	"policy_checks_access_derivatives":       "No",
	"bind_pids":                              "No",
	"normative_structmap":                    "No",
	"transcribe_file":                        "No",
	"select_format_id_tool_submissiondocs":   "No",
	"compression_algo":                       "Gzipped tar",
	"compression_level":                      "1 - fastest compression",
	"store_aip_location":                     "Default location",
	"upload_dip":                             "Do not upload DIP",
}

func with(base map[string]string, extra map[string]string) map[string]string {
	m := maps.Clone(base)
	maps.Copy(m, extra)
	return m
}

func TestWellcomeConfigs(t *testing.T) {
	accessions := with(wellcomeDefault, map[string]string{
		"extract_packages":        "No",
		"policy_checks_originals": "No",
		"create_sip":              "Create single SIP and continue processing",
		"normalize":               "Do not normalize",
	})
	want := map[string]map[string]string{
		"default":          wellcomeDefault,
		"b_dig_accessions": accessions,
		"born_digital":     with(accessions, map[string]string{"reminder": "Continue", "store_aip": "Yes"}),
	}
	configs := loadFixtures(t)
	for name, choices := range want {
		c := configs[name]
		if !maps.Equal(c.Choices, choices) {
			t.Errorf("%s has choices %v, want %v", name, c.Choices, choices)
		}
		rendered := pairs(t, Render(c))
		for fname, label := range choices {
			ch := lookup(fname).choice(label)
			if ch == nil {
				t.Fatalf("%s: %s has no choice %q", name, fname, label)
			}
			for _, p := range ch.AppliesTo {
				if !slices.Contains(rendered, p[0]+" -> "+p[1]) {
					t.Errorf("%s: %s=%q does not render %v", name, fname, label, p)
				}
			}
		}
	}
	if !maps.Equal(configs["automated"].Choices, configs["archivematica/automated"].Choices) {
		t.Errorf("automated differs from archivematica/automated")
	}
	if got := ShippedNames(configs); strings.Join(got, " ") != "automated b_dig_accessions born_digital default" {
		t.Errorf("shipped: %v", got)
	}
	if FileName("born_digital") != "born_digitalProcessingMCP.xml" {
		t.Errorf("file name: %s", FileName("born_digital"))
	}
}

func TestRenderShape(t *testing.T) {
	labels := map[string]bool{}
	for _, f := range fields {
		labels[f.Label] = true
	}
	for name, c := range loadFixtures(t) {
		out := string(Render(c))
		if !strings.HasPrefix(out, "<processingMCP>\n  <preconfiguredChoices>\n    <!-- ") || !strings.HasSuffix(out, "  </preconfiguredChoices>\n</processingMCP>\n") {
			t.Errorf("%s: unexpected shape:\n%s", name, out)
		}
		lines := strings.Split(out, "\n")
		n := 0
		for i, l := range lines {
			if l != "    <preconfiguredChoice>" {
				continue
			}
			n++
			label, opened := strings.CutPrefix(lines[i-1], "    <!-- ")
			label, closed := strings.CutSuffix(label, " -->")
			if !opened || !closed || !labels[label] {
				t.Errorf("%s: choice %d is not preceded by a field label: %q", name, n, lines[i-1])
			}
		}
		if len(pairs(t, []byte(out))) != n || strings.Count(out, "<!--") != n {
			t.Errorf("%s: %d choices, comments and pairs disagree", name, n)
		}
	}
}

func TestLocationURI(t *testing.T) {
	const uri = "/api/v2/location/3f5b1bd3-1c3d-4f8e-8c4e-6f1a2b3c4d5e/"
	configs, err := Load([]File{{Name: "x", Path: "x.yaml", Data: []byte("choices:\n  store_aip_location: " + uri + "\n")}})
	if err != nil {
		t.Fatal(err)
	}
	got := pairs(t, Render(configs["x"]))
	if want := []string{lookup("store_aip_location").LinkID + " -> " + uri}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestExtends(t *testing.T) {
	configs, err := Load([]File{
		{Name: "base", Path: "base.yaml", Data: []byte("choices:\n  virus_scanning: \"Yes\"\n  bind_pids: \"No\"\n  store_aip: \"Yes\"\n")},
		{Name: "middle", Path: "middle.yaml", Data: []byte("extends: base\nchoices:\n  bind_pids: \"Yes\"\n  reminder: Continue\n")},
		{Name: "top", Path: "top.yaml", Data: []byte("extends: middle\nchoices:\n  virus_scanning: null\n  store_aip: ~\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bind_pids": "Yes", "reminder": "Continue"}
	if got := configs["top"].Choices; !maps.Equal(got, want) {
		t.Errorf("top: %v, want %v", got, want)
	}
	if got := configs["base"].Choices; len(got) != 3 {
		t.Errorf("base changed by its children: %v", got)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, body string
		other      string // a second file, b.yaml, when the case needs one
		want       []string
	}{
		{"malformed YAML", "choices:\n  virus_scanning: [\n", "",
			[]string{"a.yaml:2: invalid YAML"}},
		{"unknown top-level key", "choices: {}\nchoice: {}\n", "",
			[]string{"a.yaml:2:", `"choice"`, "valid: extends, choices"}},
		{"unknown field", "choices:\n  bind_pids: \"No\"\n  virus_scaning: \"Yes\"\n", "",
			[]string{"a.yaml:3:", `"virus_scaning"`, "valid: virus_scanning, assign_uuids_to_directories,", "store_dip_location"}},
		{"unknown choice", "choices:\n  virus_scanning: Maybe\n", "",
			[]string{"a.yaml:2:", "virus_scanning", `"Maybe"`, `valid: "Yes", "No"`}},
		{"bad location", "choices:\n  store_aip_location: /api/v2/location/nope/\n", "",
			[]string{"a.yaml:2:", "store_aip_location", `"/api/v2/location/nope/"`, `"Default location" or a location URI /api/v2/location/<uuid>/`}},
		{"location URI on a chain field", "choices:\n  store_aip: /api/v2/location/3f5b1bd3-1c3d-4f8e-8c4e-6f1a2b3c4d5e/\n", "",
			[]string{"a.yaml:2:", "store_aip", `valid: "Yes"`}},
		{"unknown extends", "choices: {}\nextends: defualt\n", "",
			[]string{"a.yaml:2:", `"defualt"`, "known: a"}},
		{"extends loop", "extends: b\n", "\nextends: a\n",
			[]string{"b.yaml:2:", "extends loop: a -> b -> a"}},
		{"extends itself", "extends: a\n", "",
			[]string{"a.yaml:1:", "extends loop: a -> a"}},
		{"field given twice", "choices:\n  bind_pids: \"No\"\n  bind_pids: \"Yes\"\n", "",
			[]string{"a.yaml:3:", "bind_pids", "twice"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := []File{{Name: "a", Path: "a.yaml", Data: []byte(c.body)}}
			if c.other != "" {
				files = append(files, File{Name: "b", Path: "b.yaml", Data: []byte(c.other)})
			}
			_, err := Load(files)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) || strings.Contains(msg, "\n") {
					t.Errorf("error %q does not contain %q on one line", msg, w)
				}
			}
		})
	}
}

func TestConfigNames(t *testing.T) {
	for _, name := range []string{"../evil", "born-digital", "a_name_of_17_char", ""} {
		if _, err := Load([]File{{Name: name, Path: "p.yaml"}}); err == nil || !strings.HasPrefix(err.Error(), "p.yaml: ") {
			t.Errorf("name %q: %v", name, err)
		}
	}
}
