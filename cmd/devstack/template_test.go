package main

// Seeded templates: a cold up copies a data directory seeded once, instead
// of initialising and seeding again.

import (
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

// templates lists the template volumes on the engine.
func templates(t *testing.T) []string {
	t.Helper()
	return strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label="+emulator.LabelTemplate))
}

var madeTemplate = regexp.MustCompile(`making seeded template (devstack-template-[0-9a-f]+)`)

// made returns the templates an up says it made, and removes them when the
// test ends.
func made(t *testing.T, r result) []string {
	t.Helper()
	var out []string
	for _, m := range madeTemplate.FindAllStringSubmatch(r.stderr, -1) {
		out = append(out, m[1])
		t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", m[1]).Run() })
	}
	return out
}

// ownFixtures makes a fixtures directory whose seed no other test shares, so
// that its template is this test's.
func ownFixtures(t *testing.T) string {
	t.Helper()
	dir := copyFixtures(t, "settings.yaml")
	edit(t, filepath.Join(dir, "settings.yaml"), "site_url: http://127.0.0.1:62080", "site_url: http://"+config.EphemeralProject("site")+".test")
	return dir
}

func TestColdUpsShareASeededTemplate(t *testing.T) {
	t.Parallel()
	fixtures := ownFixtures(t)
	a := newStack(t, "DEVSTACK_FIXTURES="+fixtures)
	r := a.mustRun("up")
	ts := made(t, r)
	if len(ts) != 1 || !slices.Contains(templates(t), ts[0]) {
		t.Fatalf("the first cold up made templates %v:\n%s", ts, r.stderr)
	}
	tmpl := ts[0]
	b := newStack(t, "DEVSTACK_FIXTURES="+fixtures)
	if r := b.mustRun("up"); !strings.Contains(r.stderr, "starting from seeded template "+tmpl) || strings.Contains(r.stderr, "making seeded template") {
		t.Errorf("the second cold up did not start from %s:\n%s", tmpl, r.stderr)
	}

	// No stack's secret or identity is shared.
	ea, eb := a.envMap(), b.envMap()
	labels := docker(t, "volume", "inspect", "-f", "{{json .Labels}}", tmpl)
	for _, k := range []string{"MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD"} {
		if ea[k] == eb[k] || strings.Contains(labels, eb[k]) || strings.Contains(labels, ea[k]) {
			t.Errorf("%s shared between stacks or with the template", k)
		}
	}
	if strings.Contains(labels, emulator.LabelProject) {
		t.Errorf("the template carries a project label: %s", labels)
	}
	if files := docker(t, "run", "--rm", "--entrypoint", "sh", "-v", tmpl+":/t:ro", mysqlImage(), "-c", "ls /t; ls /t/*.pem /t/auto.cnf 2>/dev/null || true"); strings.Contains(files, ".pem") || strings.Contains(files, "auto.cnf") {
		t.Errorf("the template holds a server's identity or keys:\n%s", files)
	}
	uuidOf := func(s *stack) (dash, pipeline string) {
		db := s.root()
		must(t, db.QueryRow("SELECT value FROM MCP.DashboardSettings WHERE scope = '' AND name = 'dashboard_uuid'").Scan(&dash))
		must(t, db.QueryRow("SELECT uuid FROM SS.locations_pipeline").Scan(&pipeline))
		return
	}
	// Both servers know named time zones (Django's date lookups in a time
	// zone need them): loaded where the template was made.
	for name, s := range map[string]*stack{"the first stack": a, "a copy": b} {
		var london sql.NullString
		must(t, s.root().QueryRow("SELECT CAST(CONVERT_TZ('2024-06-01 12:00:00', 'UTC', 'Europe/London') AS CHAR)").Scan(&london))
		if london.String != "2024-06-01 13:00:00" {
			t.Errorf("%s has no named time zones: CONVERT_TZ gave %v", name, london)
		}
	}
	da, pa := uuidOf(a)
	db, pb := uuidOf(b)
	if da == db || db != pb || da != pa {
		t.Errorf("pipelines: a %s/%s, b %s/%s: want each its own, the dashboard's", da, pa, db, pb)
	}
	// The copy is seeded as a first up seeds: seed finds nothing to do, and a
	// reset keeps it so.
	if r := b.mustRun("seed"); !strings.Contains(r.stdout, "0 rows added, 0 updated") {
		t.Errorf("seed on a stack made from a template: %s", r.stdout)
	}
	state := b.state()
	b.mustRun("reset")
	if d := diffState(state, b.state()); len(d) > 0 {
		t.Errorf("reset changed %v", d)
	}

	// ls shows it apart, with its size; purging a stack leaves it.
	var listing struct {
		Stacks    []emulator.StackInfo
		Templates []emulator.TemplateInfo
	}
	must(t, json.Unmarshal([]byte(a.mustRun("ls", "-o", "json").stdout), &listing))
	i := slices.IndexFunc(listing.Templates, func(ti emulator.TemplateInfo) bool { return ti.Volume == tmpl })
	if i < 0 || listing.Templates[i].SizeBytes <= 0 || !listing.Templates[i].ImagePresent || listing.Templates[i].Building {
		t.Errorf("ls templates: %+v", listing.Templates)
	}
	b.mustRun("down", "--volumes", "--yes")
	if !slices.Contains(templates(t), tmpl) {
		t.Errorf("down --volumes removed the template")
	}
}

// Two processes making the same template at once end up with one; a
// half-made template (no done file) is never used but made again.
func TestTemplatesUnderConcurrencyAndHalfMade(t *testing.T) {
	t.Parallel()
	fixtures := ownFixtures(t)
	stacks := []*stack{newStack(t, "DEVSTACK_FIXTURES="+fixtures), newStack(t, "DEVSTACK_FIXTURES="+fixtures)}
	var wg sync.WaitGroup
	results := make([]result, len(stacks))
	for i, s := range stacks {
		wg.Go(func() { results[i] = s.run("up") })
	}
	wg.Wait()
	var ts []string
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("concurrent up %d: exit %d\n%s", i, r.code, r.stderr)
		}
		ts = append(ts, made(t, r)...)
	}
	if len(ts) != 1 {
		t.Fatalf("two concurrent ups made templates %v, want one", ts)
	}
	docker(t, "run", "--rm", "--entrypoint", "rm", "-v", ts[0]+":/t", mysqlImage(), "/t/.devstack-template-complete")
	c := newStack(t, "DEVSTACK_FIXTURES="+fixtures)
	if again := made(t, c.mustRun("up")); !slices.Equal(again, ts) {
		t.Errorf("a half-made template was not made again: %v", again)
	}
	c.mustRun("seed")
}

// A template whose image is gone goes with a plain prune.
func TestPruneRemovesTemplatesOfGoneImages(t *testing.T) {
	t.Parallel()
	img := testImage(t, "pruned", "LABEL devstack.test="+config.EphemeralProject("img"))
	s := newStack(t, "DEVSTACK_MYSQL_IMAGE="+img)
	ts := made(t, s.mustRun("up"))
	if len(ts) != 1 {
		t.Fatalf("templates made: %v", ts)
	}
	s.mustRun("down", "--volumes", "--yes")
	docker(t, "rmi", img)
	// Through a view of this stack and the templates: a plain prune would
	// also take the orphans other tests are looking at.
	v := newDockerView(t)
	v.allow(s.project)
	v.templates = true
	r := v.devstack(t, "prune", "-o", "json")
	if r.code != 0 {
		t.Fatalf("prune: exit %d\n%s", r.code, r.stderr)
	}
	var pruned emulator.Pruned
	must(t, json.Unmarshal([]byte(r.stdout), &pruned))
	// A harness Start in another package's test prunes such templates
	// too, and may have been first: then this prune reports none.
	if slices.Contains(templates(t), ts[0]) || len(pruned.Templates) > 0 && !slices.Equal(pruned.Templates, ts[:1]) {
		t.Errorf("prune left the template of a gone image, or took others: %+v", pruned)
	}
}

// plainImage is a stand-in built as the official images are, without
// devstack's tuning: an image whose accounts and defaults differ from the
// tuned stand-in's. make test builds them where it builds stand-ins.
func plainImage(t *testing.T, variable string) string {
	t.Helper()
	integration(t)
	img := os.Getenv(variable)
	if img == "" {
		t.Skipf("%s is not set: make test sets it where it builds the stand-in images (make local-images)", variable)
	}
	return img
}

// An image whose first start keeps the root accounts mariadb-install-db
// makes for 127.0.0.1, ::1 and the container's hostname, which a server
// under skip-name-resolve ignores: the template keeps only the root
// accounts devstack uses, so every cold up from it can give root the
// stack's password.
func TestTemplateOfAnImageWithHostnameAccounts(t *testing.T) {
	t.Parallel()
	img := plainImage(t, "DEVSTACK_MARIADB_PLAIN_IMAGE")
	fixtures := ownFixtures(t)
	for i := range 3 {
		s := newStack(t, "DEVSTACK_MYSQL_IMAGE="+img, "DEVSTACK_FIXTURES="+fixtures)
		r := s.run("up")
		if r.code != 0 {
			t.Fatalf("cold up %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
		if ts := made(t, r); i > 0 && len(ts) > 0 {
			t.Errorf("cold up %d made a template again: %v", i+1, ts)
		}
		if st := s.status(); st.State != emulator.StateRunning {
			t.Errorf("cold up %d: status %+v", i+1, st)
		}
		accounts := queryStrings(t, s.root(), "SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('root', '') ORDER BY 1")
		if !slices.Equal(accounts, []string{"root@%", "root@localhost"}) {
			t.Errorf("cold up %d: root accounts %v, want root@%% and root@localhost", i+1, accounts)
		}
	}
}

// devstack's server options reach any image's server; a change replaces
// the container and keeps the data; templates and snapshots open under any
// options.
func TestServerOptions(t *testing.T) {
	t.Parallel()
	fixtures := ownFixtures(t)
	a := newStack(t, "DEVSTACK_FIXTURES="+fixtures)
	ts := made(t, a.mustRun("up"))
	variables := func(s *stack) map[string]string {
		t.Helper()
		got := map[string]string{}
		rows, err := s.root().Query("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('performance_schema', 'innodb_flush_log_at_trx_commit', 'log_bin', 'innodb_doublewrite', 'innodb_buffer_pool_size', 'max_connections')")
		must(t, err)
		defer rows.Close()
		for rows.Next() {
			var k, v string
			must(t, rows.Scan(&k, &v))
			got[k] = v
		}
		return got
	}
	want := map[string]string{"performance_schema": "OFF", "innodb_flush_log_at_trx_commit": "2", "log_bin": "OFF", "innodb_doublewrite": "OFF", "innodb_buffer_pool_size": "67108864"}
	got := variables(a)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("devstack's settings: %s = %s, want %s", k, got[k], v)
		}
	}
	_, err := a.mysql("MCP").Exec("CREATE TABLE kept (id INT)")
	must(t, err)

	a.envAppend("DEVSTACK_MYSQL_SERVER_OPTIONS={innodb_buffer_pool_size: 96M, max_connections: 77, performance_schema: null}")
	if r := a.mustRun("up"); !strings.Contains(r.stderr, "settings changed, replacing devstack-"+a.project+"-mysql") {
		t.Errorf("changed options did not replace the container:\n%s", r.stderr)
	}
	if got := variables(a); got["innodb_buffer_pool_size"] != "100663296" || got["max_connections"] != "77" || got["innodb_flush_log_at_trx_commit"] != "2" {
		t.Errorf("changed options: %v", got)
	}
	if argv := strings.Join(serverArgv(t, "devstack-"+a.project+"-mysql"), " "); strings.Contains(argv, "performance") || !strings.Contains(argv, "--max-connections=77") {
		t.Errorf("the server's command: %s", argv)
	}
	var n int
	must(t, a.mysql("MCP").QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'MCP' AND table_name = 'kept'").Scan(&n))
	if n != 1 {
		t.Error("the data went with the options' change")
	}

	// Options are part of a template (its files are what the stacks'
	// servers make, and its builder is where devstack watches the image's
	// entrypoint start a server with them): none has its own. A snapshot
	// saved under other options restores under none.
	b := newStack(t, "DEVSTACK_FIXTURES="+fixtures, "DEVSTACK_MYSQL_SERVER_OPTIONS=none")
	if other := made(t, b.mustRun("up")); len(other) != 1 || other[0] == ts[0] {
		t.Errorf("a stack without devstack's settings made templates %v (devstack's: %v), want one of its own", other, ts)
	}
	if argv := serverArgv(t, "devstack-"+b.project+"-mysql"); slices.ContainsFunc(argv, func(a string) bool { return strings.HasPrefix(a, "--innodb") }) {
		t.Errorf("none: the server's command is %q", argv)
	}
	a.mustRun("snapshot", "save", "opts")
	a.envAppend("DEVSTACK_MYSQL_SERVER_OPTIONS=none")
	a.mustRun("snapshot", "restore", "opts", "--yes")
	if st := a.status(); st.State != emulator.StateRunning {
		t.Errorf("after a restore under other options: %+v", st)
	}
	must(t, a.mysql("MCP").QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'MCP' AND table_name = 'kept'").Scan(&n))
	if n != 1 {
		t.Error("the restored data lacks the table saved")
	}
}

// serverArgv is the command a MySQL container's server is given: after
// the directives of a direct start, or the container's command.
func serverArgv(t *testing.T, container string) []string {
	t.Helper()
	var cmd []string
	must(t, json.Unmarshal([]byte(docker(t, "inspect", "-f", "{{json .Config.Cmd}}", container)), &cmd))
	if i := slices.Index(cmd, "--"); i >= 0 {
		return cmd[i+1:]
	}
	return cmd
}

// The time zones load in one batch where the server takes a packet that
// large, else one statement at a time: a server whose packets are small
// still knows named time zones.
func TestTimeZonesOnAServerWithSmallPackets(t *testing.T) {
	t.Parallel()
	s := newStack(t, "DEVSTACK_FIXTURES="+ownFixtures(t), "DEVSTACK_MYSQL_SERVER_OPTIONS={max_allowed_packet: 1M}")
	made(t, s.mustRun("up"))
	var london sql.NullString
	must(t, s.root().QueryRow("SELECT CAST(CONVERT_TZ('2024-06-01 12:00:00', 'UTC', 'Europe/London') AS CHAR)").Scan(&london))
	if london.String != "2024-06-01 13:00:00" {
		t.Errorf("no named time zones with max_allowed_packet=1M: CONVERT_TZ gave %v", london)
	}
}

// A MySQL without its clone plugin (and MariaDB, which has none) makes its
// template from the stack's first server all the same: stopped cleanly for
// a copy of its data, then started again.
func TestTemplateOfAServerThatCannotClone(t *testing.T) {
	t.Parallel()
	img := testImage(t, "noclone", "RUN rm -f /usr/lib/mysql/plugin/mysql_clone.so")
	fixtures := ownFixtures(t)
	a := newStack(t, "DEVSTACK_MYSQL_IMAGE="+img, "DEVSTACK_FIXTURES="+fixtures)
	r := a.mustRun("up")
	if ts := made(t, r); len(ts) != 1 || !strings.Contains(r.stderr, "template: server stopped and copied") {
		t.Fatalf("the first cold up made templates %v:\n%s", ts, r.stderr)
	}
	if st := a.status(); st.State != emulator.StateRunning {
		t.Errorf("the first stack after its server was stopped for the copy: %+v", st)
	}
	a.mustRun("seed")
	b := newStack(t, "DEVSTACK_MYSQL_IMAGE="+img, "DEVSTACK_FIXTURES="+fixtures)
	if r := b.mustRun("up"); !strings.Contains(r.stderr, "starting from seeded template") {
		t.Errorf("the second cold up did not copy the template:\n%s", r.stderr)
	}
	b.mustRun("seed")
}
