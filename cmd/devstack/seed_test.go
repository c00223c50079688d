package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
)

func TestSeededStateIsWhatFixturesSay(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	db := s.root()

	want := map[string][]string{
		"SELECT username, email, is_superuser, is_staff, is_active FROM MCP.auth_user":                   {"admin|wellcomedigitalworkflow@wellcome.ac.uk|1|1|1"},
		"SELECT username, email, is_superuser, is_active FROM SS.auth_user":                              {"admin|wellcomedigitalworkflow@wellcome.ac.uk|1|1"},
		"SELECT u.username, k.`key` FROM MCP.tastypie_apikey k JOIN MCP.auth_user u ON u.id = k.user_id": {"admin|devstack-dashboard-admin-api-key"},
		"SELECT u.username, k.`key` FROM SS.tastypie_apikey k JOIN SS.auth_user u ON u.id = k.user_id":   {"admin|devstack-storage-admin-api-key"},
		// As Archivematica 1.17's installer leaves them: no software agent
		// (pk 1; built in code since 0080), the organisation named in the
		// migrations' pk 2, the admin's agent next.
		"SELECT pk, agentIdentifierType, agentIdentifierValue, agentName, agentType FROM MCP.Agents ORDER BY pk": {
			"2|repository code|wellcome|wellcome|organization",
			`3|Archivematica user pk|1|username="admin", first_name="", last_name=""|Archivematica user`,
		},
		"SELECT p.user_id, p.agent_id, p.system_emails FROM MCP.main_userprofile p": {"1|3|1"},
		// The storage service as its first start and the installer's
		// registration leave it: a space, the default locations, the
		// pipeline (the dashboard's UUID) linked to all but the internal one.
		"SELECT access_protocol, path, staging_path, used, verified FROM SS.locations_space": {"FS|/|/var/archivematica/storage_service|0|0"},
		"SELECT purpose, relative_path, COALESCE(description, 'NULL'), enabled FROM SS.locations_location ORDER BY id": {
			"TS|home|Default transfer source|1",
			"AS|var/archivematica/sharedDirectory/www/AIPsStore|Store AIP in standard Archivematica Directory|1",
			"DS|var/archivematica/sharedDirectory/www/DIPsStore|Store DIP in standard Archivematica Directory|1",
			"BL|var/archivematica/sharedDirectory/www/AIPsStore/transferBacklog|Default transfer backlog|1",
			"SS|var/archivematica/storage_service|For storage service internal usage.|1",
			"AR|var/archivematica/storage_service/recover|Default AIP recovery|1",
			"CP|var/archivematica/sharedDirectory/|NULL|1",
		},
		"SELECT l.purpose FROM SS.locations_locationpipeline lp JOIN SS.locations_location l ON l.uuid = lp.location_id JOIN SS.locations_pipeline p ON p.uuid = lp.pipeline_id ORDER BY lp.id": {"CP", "TS", "AS", "DS", "BL", "AR"},
		"SELECT api_username, api_key, remote_name, enabled FROM SS.locations_pipeline":                                                                                                         {"admin|devstack-dashboard-admin-api-key|http://127.0.0.1:62080|1"},
		"SELECT COUNT(*) FROM SS.locations_localfilesystem f JOIN SS.locations_space s ON s.uuid = f.space_id":                                                                                  {"1"},
		"SELECT name FROM SS.administration_settings ORDER BY id": {"default_transfer_source", "default_aip_storage", "default_dip_storage", "default_backlog", "default_recovery",
			"default_TS_location", "default_AS_location", "default_DS_location", "default_BL_location", "default_AR_location"},
		"SELECT COUNT(*) FROM SS.administration_settings a JOIN SS.locations_location l ON a.value IN (l.uuid, CONCAT('[', QUOTE(l.uuid), ']'))": {"10"},
	}
	for q, w := range want {
		if got := queryStrings(t, db, q); strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("%s\n got: %q\nwant: %q", q, got, w)
		}
	}
	settings := map[string]string{}
	for _, r := range queryStrings(t, db, "SELECT name, value FROM MCP.DashboardSettings WHERE scope = ''") {
		kv := strings.SplitN(r, "|", 2)
		settings[kv[0]] = kv[1]
	}
	wantSettings := map[string]string{
		"storage_service_url": "http://127.0.0.1:62081", "storage_service_user": "admin", "storage_service_apikey": "devstack-storage-admin-api-key",
		"site_url": "http://127.0.0.1:62080", "checksum_type": "sha256", "api_whitelist": "", "storage_service_use_default_config": "False",
	}
	for k, v := range wantSettings {
		if settings[k] != v {
			t.Errorf("DashboardSettings %s = %q, want %q", k, settings[k], v)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(settings["dashboard_uuid"]) || len(settings) != len(wantSettings)+1 {
		t.Errorf("DashboardSettings: %v", settings)
	}
	if got := queryStrings(t, db, "SELECT uuid FROM SS.locations_pipeline"); len(got) != 1 || got[0] != settings["dashboard_uuid"] {
		t.Errorf("the pipeline %v is not the dashboard's %s", got, settings["dashboard_uuid"])
	}

	// Every processing config on the volume parses, with a label comment
	// before each choice.
	names := strings.Fields(s.helper("ls", processingDir))
	if strings.Join(names, " ") != "automatedProcessingMCP.xml b_dig_accessionsProcessingMCP.xml born_digitalProcessingMCP.xml defaultProcessingMCP.xml" {
		t.Errorf("processing configs on the volume: %v", names)
	}
	for _, n := range names {
		data := s.helper("cat", processingDir+"/"+n)
		var doc struct {
			Choices []struct {
				AppliesTo string `xml:"appliesTo"`
				GoToChain string `xml:"goToChain"`
			} `xml:"preconfiguredChoices>preconfiguredChoice"`
		}
		if err := xml.Unmarshal([]byte(data), &doc); err != nil || len(doc.Choices) == 0 {
			t.Errorf("%s does not parse: %v", n, err)
		}
		if c := strings.Count(data, "<!--"); c != len(doc.Choices) {
			t.Errorf("%s: %d comments for %d choices", n, c, len(doc.Choices))
		}
	}
	// The volume's automated config is Archivematica's, pair for pair.
	auto := s.helper("cat", processingDir+"/automatedProcessingMCP.xml")
	ref, err := os.ReadFile("../../emulator/processing/testdata/automatedProcessingMCP.xml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := choicePairs(t, auto), choicePairs(t, string(ref)); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("automated config differs from Archivematica's:\n%v\n%v", a, b)
	}
}

// Django itself must accept the seeded hashes: a real login would.
func TestDjangoAcceptsSeededPasswords(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	db := s.root()
	for _, d := range []string{"MCP", "SS"} {
		var hash string
		if err := db.QueryRow("SELECT password FROM " + d + ".auth_user WHERE username = 'admin'").Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(hash, "pbkdf2_sha256$600000$") {
			t.Errorf("%s hash %q is not Django's pbkdf2_sha256 with 600000 iterations", d, hash)
		}
		if !checkDjangoPassword(t, "archivematica", hash) || checkDjangoPassword(t, "archivematicx", hash) {
			t.Errorf("%s: Django's check_password does not accept exactly the fixture password", d)
		}
	}
}

func TestSeedTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	before := s.state()
	r := s.mustRun("seed")
	if !strings.Contains(r.stdout, "0 rows added, 0 updated, 0 files written") {
		t.Errorf("second seed reported work: %s", r.stdout)
	}
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("seed changed:\n%s", strings.Join(d, "\n"))
	}
	var hash1, hash2 string
	db := s.root()
	_ = db.QueryRow("SELECT password FROM MCP.auth_user WHERE username='admin'").Scan(&hash1)
	s.mustRun("up")
	_ = db.QueryRow("SELECT password FROM MCP.auth_user WHERE username='admin'").Scan(&hash2)
	if hash1 != hash2 {
		t.Errorf("up re-hashed an unchanged password")
	}
}

func TestEditedFixtureIsApplied(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	before := s.state()
	dir := copyFixtures(t, "settings.yaml", "processing/born_digital.yaml")
	edit(t, filepath.Join(dir, "settings.yaml"), "site_url: http://127.0.0.1:62080", "site_url: http://dashboard.test")
	edit(t, filepath.Join(dir, "processing/born_digital.yaml"), "choices:", "choices:\n  normative_structmap: \"Yes\"")
	r := s.runEnv([]string{"DEVSTACK_FIXTURES=" + dir}, "seed")
	// site_url is the dashboard's setting and the storage service's name for
	// the pipeline (remote_name): two rows.
	if r.code != 0 || !strings.Contains(r.stdout, "0 rows added, 2 updated, 1 files written") {
		t.Fatalf("seed after edit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var site string
	must(t, s.root().QueryRow("SELECT value FROM MCP.DashboardSettings WHERE name = 'site_url'").Scan(&site))
	if site != "http://dashboard.test" {
		t.Errorf("site_url = %q", site)
	}
	changed := diffState(before, s.state())
	if len(changed) != 3 || !strings.HasPrefix(changed[0], "MCP.DashboardSettings") || !strings.HasPrefix(changed[1], "SS.locations_pipeline") || !strings.HasPrefix(changed[2], "file ./sharedMicroServiceTasksConfigs/processingMCPConfigs/born_digitalProcessingMCP.xml") {
		t.Errorf("want exactly DashboardSettings, the pipeline and born_digital changed, got:\n%s", strings.Join(changed, "\n"))
	}
}

func TestResetRestoresSeededState(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	before := s.state()
	db := s.root()
	for _, q := range []string{
		"INSERT INTO MCP.Transfers (transferUUID, currentLocation, type, accessionID, sourceOfAcquisition, typeOfTransfer, description, notes, access_system_id, hidden, transferMetadataSetRowUUID, dirUUIDs, status, completed_at) VALUES ('11111111-1111-1111-1111-111111111111', '/tmp/x', 'standard', '', '', '', '', '', '', 0, NULL, 0, 0, NULL)",
		"UPDATE MCP.DashboardSettings SET value = 'md5' WHERE name = 'checksum_type'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.mustRun("users", "add", "--username", "extra", "--email", "extra@example.org", "--password", "pw")
	out, err := exec.Command("redis-cli", "-u", s.envMap()["REDIS_URL"], "SET", "leftover", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("redis: %v %s", err, out)
	}
	s.helper("sh", "-c", "mkdir -p "+emulator.SharedDir+"/currentlyProcessing/job && echo x > "+emulator.SharedDir+"/currentlyProcessing/job/file && rm -rf "+emulator.SharedDir+"/failed")

	r := s.mustRun("reset")
	if !regexp.MustCompile(`removed \d+ rows .*1 Redis keys, [1-9]\d* shared-directory entries`).MatchString(r.stdout) {
		t.Errorf("reset did not say what it removed: %s", r.stdout)
	}
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("reset did not restore the seeded state:\n%s", strings.Join(d, "\n"))
	}
	if out, _ := exec.Command("redis-cli", "-u", s.envMap()["REDIS_URL"], "DBSIZE").CombinedOutput(); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("redis after reset: %s", out)
	}
	// seed --reset is the same operation.
	s.mustRun("seed", "--reset")
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("seed --reset:\n%s", strings.Join(d, "\n"))
	}
}

func TestUsersAddRemoveRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	before := s.state()
	r := s.mustRun("users", "add", "--username", "alice", "--email", "alice@example.org", "--superuser")
	m := regexp.MustCompile(`password: ([A-Za-z0-9]{32})`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("generated password not shown: %s", r.stdout)
	}
	db := s.root()
	var hash string
	must(t, db.QueryRow("SELECT password FROM MCP.auth_user WHERE username = 'alice'").Scan(&hash))
	if !checkDjangoPassword(t, m[1], hash) {
		t.Errorf("printed password does not verify")
	}
	counts := func() string {
		return strings.Join(queryStrings(t, db, `SELECT
			(SELECT COUNT(*) FROM MCP.auth_user WHERE username = 'alice'),
			(SELECT COUNT(*) FROM MCP.tastypie_apikey k JOIN MCP.auth_user u ON u.id = k.user_id WHERE u.username = 'alice'),
			(SELECT COUNT(*) FROM MCP.main_userprofile p JOIN MCP.auth_user u ON u.id = p.user_id WHERE u.username = 'alice'),
			(SELECT COUNT(*) FROM MCP.Agents WHERE agentName LIKE 'username="alice"%')`), "")
	}
	if c := counts(); c != "1|1|1|1" {
		t.Errorf("alice's rows after add: %s", c)
	}
	list := s.mustRun("users", "list", "-o", "json").stdout
	var users []struct{ Service, Username string }
	must(t, json.Unmarshal([]byte(list), &users))
	if !slices.Contains(users, struct{ Service, Username string }{"dashboard", "alice"}) {
		t.Errorf("users list: %s", list)
	}
	if r := s.run("users", "add", "--username", "alice", "--email", "alice@example.org"); r.code != 2 {
		t.Errorf("adding alice twice: exit %d %s", r.code, r.stderr)
	}
	s.mustRun("users", "remove", "--username", "alice")
	if c := counts(); c != "0|0|0|0" {
		t.Errorf("alice's rows after remove: %s", c)
	}
	if r := s.run("users", "remove", "--username", "alice"); r.code != 2 {
		t.Errorf("removing a missing user: exit %d", r.code)
	}
	if r := s.run("users", "add", "--username", "bad name", "--email", "x@y.org"); r.code != 2 || !strings.Contains(r.stderr, "--username") {
		t.Errorf("bad username: exit %d %s", r.code, r.stderr)
	}
	after := s.state()
	delete(before, "MCP.auth_user")
	delete(after, "MCP.auth_user")
	// Storage users are untouched by dashboard user changes.
	if before["SS.auth_user"] != after["SS.auth_user"] {
		t.Errorf("storage users changed")
	}

	// A password from standard input, as scripts pass one.
	add := exec.Command("sh", "-c", `printf 'from-stdin\n' | "$0" -p "$1" users add --service storage --username bot --email bot@example.org --password-stdin`, binary, s.project)
	add.Env = append(os.Environ(), s.env...)
	if out, err := add.CombinedOutput(); err != nil || strings.Contains(string(out), "password:") {
		t.Errorf("users add --password-stdin: %v %s", err, out)
	}
	must(t, db.QueryRow("SELECT password FROM SS.auth_user WHERE username = 'bot'").Scan(&hash))
	if !checkDjangoPassword(t, "from-stdin", hash) {
		t.Errorf("password from stdin does not verify")
	}
}

func TestBadFixturesAreRefusedBeforeWriting(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	before := s.state()
	const user = "\n  - username: admin\n    email: wellcomedigitalworkflow@wellcome.ac.uk\n    password: archivematica\n    api_key: devstack-dashboard-admin-api-key\n"
	cases := []struct {
		name, file, body, cause string
	}{
		{"unknown field", "processing/default.yaml", "choices:\n  virus_scaning: \"Yes\"\n", "virus_scaning"},
		{"unknown choice", "processing/default.yaml", "choices:\n  virus_scanning: Maybe\n", "Maybe"},
		{"duplicate username", "users.yaml", "dashboard:" + user + user + "storage:" + strings.Replace(user, "dashboard", "storage", 1), "duplicate"},
		{"invalid email", "users.yaml", strings.Replace("dashboard:"+user+"storage:"+user, "wellcomedigitalworkflow@wellcome.ac.uk", "nobody", 1), "nobody"},
		{"empty password", "users.yaml", strings.Replace("dashboard:"+user+"storage:"+user, "password: archivematica", "password: ''", 1), "password"},
		{"malformed yaml", "settings.yaml", "dashboard: [\n", "invalid YAML"},
		{"extends loop", "processing/born_digital.yaml", "extends: b_dig_accessions\n", "loop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, c.file)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, []byte(c.body), 0o644))
			if c.name == "extends loop" {
				must(t, os.WriteFile(filepath.Join(dir, "processing/b_dig_accessions.yaml"), []byte("extends: born_digital\n"), 0o644))
			}
			for _, cmd := range []string{"seed", "up", "reset"} {
				r := s.runEnv([]string{"DEVSTACK_FIXTURES=" + dir}, cmd)
				if r.code != 2 || !strings.Contains(r.stderr, c.cause) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("%s: exit %d, want 2 and one line naming %q: %s", cmd, r.code, c.cause, r.stderr)
				}
			}
		})
	}
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("bad fixtures changed the stack:\n%s", strings.Join(d, "\n"))
	}
}

// With `schema: none` the apps migrate their own tables: up waits for them,
// seed fills them, and reset empties only the tables devstack knows.
func TestSchemaNoneSeedsTheAppsTables(t *testing.T) {
	t.Parallel()
	s := newStack(t, "DEVSTACK_SCHEMA=none")
	up := s.mustRun("up")
	if !strings.Contains(up.stderr, "run the apps' migrations, then `devstack seed`") {
		t.Errorf("up did not say to migrate first:\n%s", up.stderr)
	}
	db := s.root()
	var n int
	must(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'MCP'").Scan(&n))
	if n != 0 {
		t.Fatalf("schema none created %d tables in MCP", n)
	}
	if r := s.run("seed"); r.code != 1 || !strings.Contains(r.stderr, "migrations") {
		t.Errorf("seed before migrations: exit %d %s", r.code, r.stderr)
	}

	// What the apps' migrations make: the schema files are their dump.
	for _, d := range []string{"MCP", "SS"} {
		data, err := os.ReadFile("../../fixtures/schema/" + d + ".sql")
		must(t, err)
		conn, err := db.Conn(context.Background())
		must(t, err)
		_, err = conn.ExecContext(context.Background(), "USE "+d)
		must(t, err)
		for _, stmt := range strings.Split(string(data), ";\n") {
			if strings.TrimSpace(stmt) != "" {
				_, err := conn.ExecContext(context.Background(), stmt)
				must(t, err)
			}
		}
		conn.Close()
	}
	// The installer's rows: the users, their agents, profiles and keys, seven
	// dashboard settings, the storage service's space, locations, settings
	// and pipeline; and the organisation agent the migrations made, named.
	if r := s.mustRun("seed"); !strings.Contains(r.stdout, "39 rows added, 1 updated") {
		t.Errorf("seed after migrations: %s", r.stdout)
	}
	migrations := map[string]int{}
	for _, d := range []string{"MCP", "SS"} {
		var n int
		must(t, db.QueryRow("SELECT COUNT(*) FROM "+d+".django_migrations").Scan(&n))
		migrations[d] = n
	}
	s.mustRun("reset")
	for _, d := range []string{"MCP", "SS"} {
		must(t, db.QueryRow("SELECT COUNT(*) FROM "+d+".django_migrations").Scan(&n))
		if n != migrations[d] || n == 0 {
			t.Errorf("reset touched %s.django_migrations: %d rows, were %d", d, n, migrations[d])
		}
	}
	must(t, db.QueryRow("SELECT COUNT(*) FROM MCP.auth_user").Scan(&n))
	if n != 1 {
		t.Errorf("auth_user after reset: %d rows", n)
	}
}
