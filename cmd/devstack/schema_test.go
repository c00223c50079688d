package main

// The built-in schema is Archivematica's complete migrated database: the
// tests compare a stack with what the regeneration run recorded.

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// tsv reads a regeneration record: tab-separated rows after the comments
// and the header.
func tsv(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open("../../fixtures/schema/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows
}

func TestSchemaIsArchivematicasMigratedDatabase(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	db := s.root()
	check := func(when string) {
		for _, d := range []string{"MCP", "SS"} {
			var manifest []string
			for _, r := range tsv(t, "migrations.tsv") {
				if r[0] == d {
					manifest = append(manifest, r[1]+"|"+r[2])
				}
			}
			if got := queryStrings(t, db, "SELECT app, name FROM "+d+".django_migrations ORDER BY id"); !slices.Equal(got, manifest) {
				t.Errorf("%s: %s.django_migrations has %d rows, the manifest %d", when, d, len(got), len(manifest))
			}
		}
		var tables []string
		counts := map[string]string{}
		for _, r := range tsv(t, "counts.tsv") {
			tables = append(tables, r[0]+"."+r[1])
			counts[r[0]+"."+r[1]] = r[2]
		}
		got := queryStrings(t, db, "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables WHERE table_schema IN ('MCP', 'SS')")
		slices.Sort(got)
		slices.Sort(tables)
		if !slices.Equal(got, tables) {
			t.Errorf("%s: tables differ from the regeneration run's:\n got %v\nwant %v", when, got, tables)
		}
		for _, table := range tables {
			d, name, _ := strings.Cut(table, ".")
			if slices.Contains(seed.WrittenTables[d], name) {
				continue // seeding adds rows to these
			}
			if n := queryStrings(t, db, fmt.Sprintf("SELECT COUNT(*) FROM `%s`.`%s`", d, name)); n[0] != counts[table] {
				t.Errorf("%s: %s has %s rows, the regeneration run recorded %s", when, table, n[0], counts[table])
			}
		}
	}
	check("after up")
	before := s.state()
	s.mustRun("up")
	check("after a second up")
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("a second up changed %v", d)
	}
	// A test's changes, reference data included, are undone by reset.
	for _, q := range []string{
		"UPDATE MCP.fpr_format SET description = 'changed by a test'",
		"DELETE FROM MCP.DashboardSettings WHERE scope <> ''",
		"INSERT INTO MCP.Accesses (SIPUUID, resource, target, status, createdTime, updatedTime) VALUES ('00000000-0000-4000-8000-000000000001', 'r', 't', 's', NOW(), NOW())",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.mustRun("reset")
	check("after reset")
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("reset left %v different from the state after up", d)
	}
}

// The schema files load into an empty server with no error and no warning
// (a warning may mean a column was changed to fit).
func TestSchemaFixtureLoadsWithoutWarnings(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	env := s.envMap()
	collation := queryStrings(t, s.root(), "SELECT default_collation_name FROM information_schema.schemata WHERE schema_name = 'MCP'")[0]
	for _, d := range []string{"MCP", "SS"} {
		scratch := "scratch_" + strings.ToLower(d)
		if _, err := s.root().Exec("CREATE DATABASE " + scratch + " CHARACTER SET utf8mb4 COLLATE " + collation); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open("../../fixtures/schema/" + d + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("docker", "exec", "-i", "-e", "MYSQL_PWD="+env["MYSQL_ROOT_PASSWORD"], "devstack-"+s.project+"-mysql",
			"mysql", "-uroot", "--show-warnings", scratch)
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		f.Close()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("loading %s.sql: %v\n%s", d, err, out)
		}
	}
}

// A stack an older devstack made with its 9-table schema is refused with
// the way out, its data untouched.
func TestOlderStackIsRefusedWithTheWayOut(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	for _, q := range []string{"DELETE FROM devstack.schema_loads", "UPDATE devstack.bootstrap SET version = 2", "DROP TABLE MCP.django_migrations"} {
		if _, err := s.root().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	r := s.run("up")
	if r.code != 2 || !strings.Contains(r.stderr, "older devstack") || !strings.Contains(r.stderr, "down -p "+s.project+" --volumes --yes") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 12 {
		t.Errorf("up on an older stack: exit %d\n%s", r.code, r.stderr)
	}
	if n := queryStrings(t, s.root(), "SELECT COUNT(*) FROM MCP.auth_user"); n[0] != "1" {
		t.Errorf("the older stack's data: %v", n)
	}
}

// installerArguments are the values Archivematica's bootstrap was given when
// the reference rows were recorded (fixtures/schema/reference): a seeded
// stack has its fixtures' values there instead.
var installerArguments = []string{"test", "test@test.com", "http://archivematica-dashboard:8000", "Archivematica on schemagen"}

// referenceRows reads the rows a reference file records as added, by table:
// column → value ("NULL" for NULL), without the columns whose value is
// generated ({placeholder}), an installer argument, or a key.
func referenceRows(t *testing.T, name string) map[string][]map[string]string {
	t.Helper()
	data, err := os.ReadFile("../../fixtures/schema/reference/" + name)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]map[string]string{}
	table := ""
	value := regexp.MustCompile(`(\w+)=('(?:[^'\\]|\\.)*'|"[^"]*"|NULL|\{[^}]*\})`)
	for _, line := range strings.Split(string(data), "\n") {
		if m := regexp.MustCompile(`^((?:MCP|SS)\.\w+): \d+ added`).FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		rest, ok := strings.CutPrefix(line, "  + ")
		if !ok {
			continue
		}
		row := map[string]string{}
		for _, m := range value.FindAllStringSubmatch(rest, -1) {
			col, v := m[1], m[2]
			if v != "NULL" && !strings.HasPrefix(v, "{") {
				v = v[1 : len(v)-1]
			}
			if col == "id" || col == "pk" || strings.Contains(v, "{") || slices.Contains(installerArguments, v) || strings.Contains(v, `username="test"`) {
				continue
			}
			row[col] = v
		}
		rows[table] = append(rows[table], row)
	}
	return rows
}

// The rows seeding writes are the rows Archivematica's own installer (and
// the storage service's first start and pipeline registration) write at the
// pinned versions: the same tables, as many rows, the same values wherever
// the value is not generated or one of the installer's arguments.
func TestSeededRowsAreTheInstallersRows(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	db := s.root()
	migrated := map[string]int{}
	for _, r := range tsv(t, "counts.tsv") {
		n, _ := strconv.Atoi(r[2])
		migrated[r[0]+"."+r[1]] = n
	}
	for _, file := range []string{"install-mcp.txt", "install-ss.txt"} {
		for table, rows := range referenceRows(t, file) {
			d, name, _ := strings.Cut(table, ".")
			var n int
			must(t, db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM `%s`.`%s`", d, name)).Scan(&n))
			if added := n - migrated[table]; added != len(rows) {
				t.Errorf("%s: seeding added %d rows, the installer %d", table, added, len(rows))
			}
			for _, row := range rows {
				var where []string
				var args []any
				for col, v := range row {
					if v == "NULL" {
						where = append(where, "`"+col+"` IS NULL")
						continue
					}
					where = append(where, "BINARY `"+col+"` = ?")
					args = append(args, v)
				}
				var found int
				q := fmt.Sprintf("SELECT COUNT(*) FROM `%s`.`%s` WHERE %s", d, name, strings.Join(append(where, "TRUE"), " AND "))
				must(t, db.QueryRow(q, args...).Scan(&found))
				if found == 0 {
					t.Errorf("%s: no seeded row like the installer's %v", table, row)
				}
			}
		}
	}
}
