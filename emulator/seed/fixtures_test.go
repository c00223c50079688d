package seed

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// override writes one fixture file into a fresh override directory.
func override(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDefaultFixtures(t *testing.T) {
	f, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Layout) != 47 {
		t.Errorf("layout has %d folders, want 47", len(f.Layout))
	}
	if len(f.Users.Dashboard) != 1 || f.Users.Dashboard[0].Username != "admin" || !f.Users.Dashboard[0].Superuser {
		t.Errorf("dashboard users: %+v", f.Users.Dashboard)
	}
	if len(f.Users.Storage) != 1 || f.Users.Storage[0].Username != "admin" {
		t.Errorf("storage users: %+v", f.Users.Storage)
	}
	rows := f.Settings.DashboardRows(f.Users, "uuid-1")
	got := map[string]string{}
	for _, r := range rows {
		got[r.Name] = r.Value
	}
	for _, name := range []string{"dashboard_uuid", "storage_service_url", "storage_service_user", "storage_service_apikey", "site_url", "checksum_type", "api_whitelist"} {
		if _, ok := got[name]; !ok {
			t.Errorf("dashboard setting %s missing", name)
		}
	}
	if got["storage_service_apikey"] != f.Users.Storage[0].APIKey || got["checksum_type"] != "sha256" || got["dashboard_uuid"] != "uuid-1" {
		t.Errorf("derived settings wrong: %v", got)
	}
	if f.Users.Iterations != (Iterations{600000, 600000}) {
		t.Errorf("iterations %+v", f.Users.Iterations)
	}
	for _, s := range f.Schema {
		if len(s.Tables) < 40 || !slices.Contains(s.Tables, "django_migrations") || len(s.Rows["django_migrations"]) == 0 {
			t.Errorf("schema %s: %d tables, django_migrations rows %d", s.Database, len(s.Tables), len(s.Rows["django_migrations"]))
		}
	}
}

func TestBadFixturesNameFileLineAndValid(t *testing.T) {
	const goodUser = "  - username: admin\n    email: a@b.org\n    password: pw\n    api_key: k\n"
	cases := []struct {
		name, file, body string
		want             []string
	}{
		{"unknown user field", "users.yaml", "dashboard:\n" + goodUser + "    colour: red\n", []string{"users.yaml:6", `unknown field "colour"`, "username, email"}},
		{"duplicate username", "users.yaml", "dashboard:\n" + goodUser + goodUser, []string{"users.yaml:6", `duplicate dashboard user "admin"`, "line 2"}},
		{"invalid email", "users.yaml", "storage:\n  - username: x\n    email: not-an-email\n    password: pw\n    api_key: k\n", []string{"users.yaml:3", "not-an-email"}},
		{"empty password", "users.yaml", "dashboard:\n  - username: x\n    email: a@b.org\n    password: \"\"\n    api_key: k\n", []string{"users.yaml:4", "password must not be empty"}},
		{"malformed yaml", "users.yaml", "dashboard: [\n", []string{"users.yaml", "invalid YAML"}},
		{"bad superuser", "users.yaml", "dashboard:\n" + goodUser + "    superuser: maybe\n", []string{"users.yaml:6", "true or false"}},
		{"bad checksum", "settings.yaml", "dashboard:\n  storage_service_url: u\n  storage_service_user: admin\n  site_url: s\n  checksum_type: crc32\n", []string{"settings.yaml:5", "crc32", "sha256"}},
		{"unknown ss user", "settings.yaml", "dashboard:\n  storage_service_url: u\n  storage_service_user: nobody\n  site_url: s\n  checksum_type: md5\n", []string{"settings.yaml:3", "nobody"}},
		{"derived setting", "settings.yaml", "dashboard:\n  dashboard_uuid: x\n", []string{"settings.yaml:2", "set by devstack"}},
		{"bad layout", "shared-directory.txt", "ok\n../escape\n", []string{"shared-directory.txt:2", "../escape"}},
		{"schema with other statements", "schema/MCP.sql", "CREATE TABLE t (id int);\n\nDROP TABLE t;\n", []string{"MCP.sql:3", "only SET, CREATE TABLE and INSERT"}},
		{"statement without its ;", "schema/MCP.sql", "CREATE TABLE t (id int);\n-- a comment\nCREATE TABLE u\n(id int)\n", []string{"MCP.sql:3", "does not end with ;"}},
		{"rows for a table not made", "schema/MCP.sql", "INSERT INTO `u` VALUES\n(1);\n", []string{"MCP.sql", "table u"}},
		{"bad iterations", "users.yaml", "password_iterations: {dashboard: 12}\n", []string{"users.yaml:1", "from 1000 to 6000000"}},
		{"iterations past the bound", "users.yaml", "password_iterations: 2000000000\n", []string{"users.yaml:1", "from 1000 to 6000000", "2000000000"}},
		{"unknown iterations service", "users.yaml", "password_iterations: {gearman: 1000}\n", []string{"users.yaml:1", "gearman"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(override(t, c.file, c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

func TestOverrideIsFileByFile(t *testing.T) {
	dir := override(t, "users.yaml", "password_iterations: 1000\ndashboard:\n  - username: bob\n    email: bob@example.org\n    password: pw\n    api_key: k\nstorage:\n  - username: admin\n    email: a@b.org\n    password: pw\n    api_key: k2\n")
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f.Users.Dashboard[0].Username != "bob" || f.Users.Iterations != (Iterations{1000, 1000}) {
		t.Errorf("override not used: %+v", f.Users)
	}
	dir = override(t, "users.yaml", "password_iterations:\n  storage: 1000000\nstorage:\n  - username: admin\n    email: a@b.org\n    password: pw\n    api_key: k2\n")
	if f, err = Load(dir); err != nil || f.Users.Iterations != (Iterations{DefaultIterations, 1000000}) {
		t.Fatalf("per-service iterations: %v", err)
	}
	if len(f.Layout) != 47 {
		t.Errorf("files not overridden must come from the defaults")
	}
}
