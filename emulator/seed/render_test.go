package seed

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Render runs Apply's logic on the schema's own rows: what it writes and
// with which keys follows from them. (Its rows are checked against a real
// seed in cmd/devstack's TestComposeStackIsDevstacks.)
func TestRenderSeedsAFreshSchema(t *testing.T) {
	f, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const uuid = "11111111-2222-4333-8444-555555555555"
	got, err := NewSeeder(f).Render(uuid, at)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewSeeder(f).Render(uuid, at)
	if !slices.Equal(got, again) {
		t.Error("two renders differ")
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		// The organisation agent the migrations made (pk 2) is updated, and
		// the admin's agent comes after it.
		"UPDATE `MCP`.`Agents` SET `agentIdentifierType` = 'repository code', `agentIdentifierValue` = 'wellcome', `agentName` = 'wellcome', `agentType` = 'organization' WHERE `pk` = 2",
		"'Archivematica user', 3)",
		// New settings follow the migrations' largest key, 80.
		"VALUES ('', 'storage_service_url', 'http://127.0.0.1:62081', '2025-01-01 00:00:00.000000', 81)",
		"'dashboard_uuid', '" + uuid + "'",
		"INSERT INTO `SS`.`locations_pipeline`",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	// checksum_type is in the migrations' rows with the fixture's value:
	// not written.
	if strings.Contains(all, "'checksum_type'") {
		t.Error("an equal migration row was written")
	}
	hashes := regexp.MustCompile(`pbkdf2_sha256\$[^']+`).FindAllString(all, -1)
	if len(hashes) == 0 {
		t.Fatal("no password hash")
	}
	for _, h := range hashes {
		if ok, it := CheckPassword("archivematica", h); !ok || it != DefaultIterations {
			t.Errorf("hash %s does not verify the fixture password", h)
		}
	}
}

func TestParseInsert(t *testing.T) {
	rows, err := parseInsert("INSERT INTO `t` (`a`, `b`, `c`) VALUES\n(1,'it\\'s ''so''',NULL),\n(2,'b\\'none\\'','x,y)')")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || *rows[0]["b"] != "it's 'so'" || rows[0]["c"] != nil || *rows[1]["b"] != "b'none'" || *rows[1]["c"] != "x,y)" || *rows[1]["a"] != "2" {
		t.Errorf("rows %v", rows)
	}
	for _, bad := range []string{"INSERT INTO `t` VALUES (1)", "INSERT INTO `t` (`a`) VALUES (1,2)", "INSERT INTO `t` (`a`) VALUES ('x"} {
		if _, err := parseInsert(bad); err == nil {
			t.Errorf("%q parses", bad)
		}
	}
}

func TestLiteral(t *testing.T) {
	for v, want := range map[any]string{
		nil: "NULL", true: "1", false: "0", 42: "42", "a'b\\c\n": `'a\'b\\c\n'`,
		time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC): "'2025-01-02 03:04:05.000006'",
	} {
		if got := Literal(v); got != want {
			t.Errorf("Literal(%v) = %s, want %s", v, got, want)
		}
	}
}

// The schema files' django_migrations rows are the migrations manifest
// committed beside them.
func TestSchemaMigrationsAreTheManifest(t *testing.T) {
	f, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../../fixtures/schema/migrations.tsv")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Split(line, "\t")
		if len(fields) == 3 && !strings.HasPrefix(line, "#") && fields[0] != "database" {
			want[fields[0]] = append(want[fields[0]], fields[1]+"."+fields[2])
		}
	}
	for _, s := range f.Schema {
		got, err := s.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(want[s.Database])
		if len(got) == 0 || !slices.Equal(got, want[s.Database]) {
			t.Errorf("%s: the schema records %d migrations, the manifest %d", s.Database, len(got), len(want[s.Database]))
		}
	}
}
