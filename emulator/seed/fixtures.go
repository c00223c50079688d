package seed

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/processing"
	"github.com/wellcomecollection/devstack/fixtures"
)

// Fixtures is everything devstack seeds, read and validated up front so that
// bad fixtures are refused before anything is written.
type Fixtures struct {
	// Layout is the shared directory's folders, relative to its root.
	Layout   []string
	Users    Users
	Settings Settings
	// Schema is the built-in schema, one script per database.
	Schema []Schema
	// Files are written under the shared directory, by relative path.
	Files []File
}

// Schema is one database's schema file: Archivematica's migrated database
// as SET, CREATE TABLE and INSERT statements, loaded once into an empty
// database.
type Schema struct {
	Database string
	// Statements are the file's statements, in order.
	Statements []string
	// Tables are the tables the file creates, in file order.
	Tables []string
	// Rows are the INSERT statements of each table: the rows the
	// migrations leave (reference data such as the format policy registry).
	Rows map[string][]string
	// AutoIncrement holds the tables with an AUTO_INCREMENT key.
	AutoIncrement map[string]bool
	// Digest identifies the file's content.
	Digest string
}

type File struct {
	Path string
	Data []byte
}

// SeedDigest identifies what seeding writes into MySQL: the schema files,
// the users and the settings.
func (f *Fixtures) SeedDigest() string {
	h := sha256.New()
	for _, s := range f.Schema {
		fmt.Fprintf(h, "schema %s %s\n", s.Database, s.Digest)
	}
	users, _ := json.Marshal(f.Users)
	settings, _ := json.Marshal(f.Settings)
	h.Write(users)
	h.Write(settings)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Load reads the fixtures: dir's files where it has them, else the embedded
// defaults.
func Load(dir string) (*Fixtures, error) {
	src := Source{Dir: dir}
	f := &Fixtures{}
	var err error
	if f.Layout, err = readLayout(src); err != nil {
		return nil, err
	}
	data, p, err := src.Read("users.yaml")
	if err != nil {
		return nil, err
	}
	if f.Users, err = parseUsers(p, data); err != nil {
		return nil, err
	}
	if data, p, err = src.Read("settings.yaml"); err != nil {
		return nil, err
	}
	if f.Settings, err = parseSettings(p, data, f.Users); err != nil {
		return nil, err
	}
	for _, db := range []string{"MCP", "SS"} {
		data, p, err := src.Read("schema/" + db + ".sql")
		if err != nil {
			return nil, err
		}
		s, err := parseSchema(p, db, data)
		if err != nil {
			return nil, err
		}
		f.Schema = append(f.Schema, s)
	}
	if f.Files, err = processingFiles(src); err != nil {
		return nil, err
	}
	return f, nil
}

// readLayout reads the folders to create on the shared volume. Each must be a
// clean relative path: they become arguments of mkdir inside a container.
func readLayout(src Source) ([]string, error) {
	data, p, err := src.Read("shared-directory.txt")
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
			return nil, &fixtures.Error{Path: p, Line: line, Msg: "\"" + d + "\" is not a clean relative folder path"}
		}
		dirs = append(dirs, d)
	}
	return dirs, nil
}

var (
	createTable = regexp.MustCompile("(?is)^CREATE TABLE (?:IF NOT EXISTS )?`?([A-Za-z0-9_]+)`?")
	insertInto  = regexp.MustCompile("(?is)^INSERT INTO `?([A-Za-z0-9_]+)`?")
	setVariable = regexp.MustCompile(`(?is)^SET [A-Za-z_ ]+=? ?[A-Za-z0-9_']+$`)
)

// parseSchema splits a schema file into statements, each ending with ";" at
// the end of a line, and sorts them: SET for the session, CREATE TABLE and
// INSERT. Anything else is refused: the file is loaded into an empty
// database as it stands.
func parseSchema(p, db string, data []byte) (Schema, error) {
	sum := sha256.Sum256(data)
	s := Schema{Database: db, Rows: map[string][]string{}, AutoIncrement: map[string]bool{}, Digest: hex.EncodeToString(sum[:8])}
	// Statements are slices of the file's text, which is copied once: the
	// built-in MCP schema is 1.2 MB, read by every command.
	text := string(data)
	// The statement's first line (for messages) and offset; -1: none begun.
	start, from, i, off := 0, -1, 0, 0
	for line := range strings.Lines(text) {
		i, off = i+1, off+len(line)
		t := strings.TrimSpace(line)
		if from < 0 && (t == "" || strings.HasPrefix(t, "--")) {
			continue
		}
		if from < 0 {
			start, from = i, off-len(line)
		}
		if !strings.HasSuffix(t, ";") {
			continue
		}
		stmt := strings.TrimSuffix(strings.TrimSpace(text[from:off]), ";")
		from = -1
		if m := createTable.FindStringSubmatch(stmt); m != nil {
			s.Tables = append(s.Tables, m[1])
			s.AutoIncrement[m[1]] = strings.Contains(stmt, "AUTO_INCREMENT")
		} else if m := insertInto.FindStringSubmatch(stmt); m != nil {
			s.Rows[m[1]] = append(s.Rows[m[1]], stmt)
		} else if !setVariable.MatchString(stmt) {
			return s, &fixtures.Error{Path: p, Line: start, Msg: "only SET, CREATE TABLE and INSERT statements are allowed"}
		}
		s.Statements = append(s.Statements, stmt)
	}
	if from >= 0 {
		return s, &fixtures.Error{Path: p, Line: start, Msg: "statement does not end with ;"}
	}
	for table := range s.Rows {
		if !slices.Contains(s.Tables, table) {
			return s, &fixtures.Error{Path: p, Msg: "rows for table " + table + ", which the file does not create"}
		}
	}
	return s, nil
}

// ProcessingDir is where Archivematica reads processing configurations,
// relative to the shared directory.
const ProcessingDir = "sharedMicroServiceTasksConfigs/processingMCPConfigs"

// processingFiles reads every processing/*.yaml (the embedded ones and the
// override directory's, the latter winning by name), validates them together
// (extends may cross files) and renders the configs the shared volume gets.
func processingFiles(src Source) ([]File, error) {
	names := map[string]bool{}
	collect := func(fsys fs.FS) error {
		return fs.WalkDir(fsys, "processing", func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == "processing" {
				return fs.SkipDir
			}
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
				names[p] = true
			}
			return err
		})
	}
	if err := collect(fixtures.FS); err != nil {
		return nil, err
	}
	if src.Dir != "" {
		if err := collect(os.DirFS(src.Dir)); err != nil {
			return nil, &fixtures.Error{Path: src.Dir, Msg: err.Error()}
		}
	}
	var files []processing.File
	for _, n := range slices.Sorted(maps.Keys(names)) {
		data, p, err := src.Read(n)
		if err != nil {
			return nil, err
		}
		files = append(files, processing.File{Name: strings.TrimSuffix(strings.TrimPrefix(n, "processing/"), ".yaml"), Path: p, Data: data})
	}
	configs, err := processing.Load(files)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, name := range processing.ShippedNames(configs) {
		out = append(out, File{Path: ProcessingDir + "/" + processing.FileName(name), Data: processing.Render(configs[name])})
	}
	return out, nil
}
