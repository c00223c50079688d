package main

// Integration tests: the devstack binary against a real Docker engine, real
// MySQL/MariaDB and Redis. Images come from DEVSTACK_MYSQL_IMAGE and
// DEVSTACK_REDIS_IMAGE (`make test` selects them). Each test owns a project
// name and removes it by label afterwards.

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "devstack-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "devstack")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build devstack: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestUpStatusConnectAndLayout(t *testing.T) {
	t.Parallel()
	s := newStack(t, "DEVSTACK_SHARED_UID=1234", "DEVSTACK_SHARED_GID=2345")
	up := s.mustRun("up")
	if !strings.Contains(up.stdout, "127.0.0.1:") {
		t.Errorf("up printed no endpoints:\n%s", up.stdout)
	}

	st := s.status()
	if st.Project != s.project || st.State != "running" || len(st.Services) != 2 {
		t.Fatalf("status = %+v", st)
	}
	for _, svc := range st.Services {
		if svc.State != "running" || svc.Health != "healthy" || svc.Host != "127.0.0.1" || svc.Port == 0 || svc.Container != "devstack-"+s.project+"-"+svc.Name {
			t.Errorf("service %+v", svc)
		}
	}

	var dbs []string
	rows, err := s.mysql("MCP").Query("SHOW DATABASES")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		_ = rows.Scan(&d)
		dbs = append(dbs, d)
	}
	if !slices.Contains(dbs, "MCP") || !slices.Contains(dbs, "SS") {
		t.Errorf("app user sees databases %v, want MCP and SS", dbs)
	}
	var charset string
	if err := s.mysql("SS").QueryRow("SELECT @@character_set_database").Scan(&charset); err != nil || charset != "utf8mb4" {
		t.Errorf("SS charset = %q, %v", charset, err)
	}

	// The services share the stack's network; the helper, reached by exec
	// only, joins none.
	for _, part := range []string{"mysql", "redis", "helper"} {
		want := "devstack-" + s.project
		if part == "helper" {
			want = "none"
		}
		if got := strings.TrimSpace(docker(t, "inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", "devstack-"+s.project+"-"+part)); got != want {
			t.Errorf("%s: network %q, want %q", part, got, want)
		}
	}

	env := s.envMap()
	out, err := exec.Command("redis-cli", "-u", env["REDIS_URL"], "PING").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "PONG" {
		t.Errorf("redis PING: %q %v", out, err)
	}

	// Every folder of the layout, owner and mode, read from inside a container.
	listing := docker(t, "run", "--rm", "-v", "devstack-"+s.project+"-shared:/s", "--entrypoint", "sh", mysqlImage(),
		"-c", "cd /s && find . -mindepth 1 -type d -exec stat -c '%a %u:%g %n' {} +")
	got := map[string]string{}
	for _, l := range strings.Split(listing, "\n") {
		f := strings.SplitN(l, " ", 3)
		got[strings.TrimPrefix(f[2], "./")] = f[0] + " " + f[1]
	}
	layout, err := os.ReadFile("../../fixtures/shared-directory.txt")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(layout), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if len(want) != 47 || !slices.Contains(want, "wellcome-storage-service") || !slices.Contains(want, "s3_transfers") || !slices.Contains(want, "watchedDirectories/activeTransfers/standardTransfer") {
		t.Fatalf("layout fixture has %d folders, want Archivematica's 45 and Wellcome's 2", len(want))
	}
	for _, d := range want {
		if got[d] != "770 1234:2345" {
			t.Errorf("shared folder %s: %q, want mode 770 owner 1234:2345", d, got[d])
		}
	}
	if len(got) != 47 {
		t.Errorf("shared volume has %d folders, want 47", len(got))
	}

	// Ownership labels on everything up made.
	for _, name := range []string{"devstack-" + s.project + "-mysql", "devstack-" + s.project + "-redis"} {
		labels := docker(t, "inspect", "-f", "{{json .Config.Labels}}", name)
		for _, l := range []string{emulator.LabelProject, emulator.LabelService, emulator.LabelConfigHash, emulator.LabelCreated} {
			if !strings.Contains(labels, `"`+l+`"`) {
				t.Errorf("%s lacks label %s: %s", name, l, labels)
			}
		}
	}
	for _, name := range []string{"devstack-" + s.project, "devstack-" + s.project + "-mysql-data", "devstack-" + s.project + "-redis-data", "devstack-" + s.project + "-shared"} {
		kind := "volume"
		if name == "devstack-"+s.project {
			kind = "network"
		}
		labels := docker(t, kind, "inspect", "-f", "{{json .Labels}}", name)
		for _, l := range []string{emulator.LabelProject, emulator.LabelService, emulator.LabelCreated} {
			if !strings.Contains(labels, `"`+l+`"`) {
				t.Errorf("%s %s lacks label %s: %s", kind, name, l, labels)
			}
		}
	}
	// No container may bring a volume of its own (an image's VOLUME would
	// become an unlabelled anonymous volume): only the stack's named ones.
	for _, svc := range []string{"mysql", "redis", "helper"} {
		mounts := docker(t, "inspect", "-f", `{{range .Mounts}}{{.Type}}:{{.Name}} {{end}}`, "devstack-"+s.project+"-"+svc)
		for _, m := range strings.Fields(mounts) {
			if !strings.HasPrefix(m, "volume:devstack-"+s.project+"-") {
				t.Errorf("%s mounts %s, not one of the stack's volumes", svc, m)
			}
		}
	}
	// The clone volume too, where the seeded template was made from this
	// stack's server.
	res := resources(t, s.project)
	n := 7
	if slices.Contains(res, "volume devstack-"+s.project+"-mysql-clone") {
		n = 8
	}
	if len(res) != n {
		t.Errorf("want 3 containers (mysql, redis, helper), 1 network, 3 volumes labelled (4 with the clone volume); got %v", res)
	}
}

func TestSecondUpCreatesAndStartsNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	ids := func() string {
		return docker(t, "ps", "-a", "-q", "--no-trunc", "--filter", "label="+emulator.LabelProject+"="+s.project, "--format", "{{.ID}}")
	}
	started := func() string {
		return docker(t, "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", "devstack-"+s.project+"-mysql", "devstack-"+s.project+"-redis")
	}
	before, beforeStart := ids(), started()
	again := s.mustRun("up")
	if after := ids(); after != before {
		t.Errorf("containers changed: %s -> %s", before, after)
	}
	if afterStart := started(); afterStart != beforeStart {
		t.Errorf("containers restarted:\n%s\n%s", beforeStart, afterStart)
	}
	if strings.Contains(again.stderr, "creating") || strings.Contains(again.stderr, "starting") {
		t.Errorf("second up reported work:\n%s", again.stderr)
	}
}

func TestDataSurvivesDownAndGoesWithVolumes(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	env := s.envMap()
	db := s.mysql("MCP")
	if _, err := db.Exec("CREATE TABLE keepme (v VARCHAR(20))"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO keepme VALUES ('kept')"); err != nil {
		t.Fatal(err)
	}
	redis := func(args ...string) string {
		out, _ := exec.Command("redis-cli", append([]string{"-u", s.envMap()["REDIS_URL"]}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	if r := redis("SET", "devstack:test", "kept"); r != "OK" {
		t.Fatalf("SET: %s", r)
	}

	// Stopped behind devstack's back: up starts the same containers again.
	ids := docker(t, "ps", "-aq", "--no-trunc", "--filter", "label="+emulator.LabelProject+"="+s.project)
	docker(t, append([]string{"stop"}, strings.Fields(ids)...)...)
	if st := s.status(); st.State != "stopped" || st.Services[0].State != "exited" {
		t.Errorf("after docker stop: %+v", st)
	}
	if r := s.mustRun("up"); !strings.Contains(r.stderr, "starting") {
		t.Errorf("up on a stopped stack did not start it:\n%s", r.stderr)
	}
	if again := docker(t, "ps", "-q", "--no-trunc", "--filter", "label="+emulator.LabelProject+"="+s.project); len(strings.Fields(again)) != 3 || !sameSet(again, ids) {
		t.Errorf("up on a stopped stack replaced containers: %q -> %q", ids, again)
	}
	if err := s.mysql("MCP").QueryRow("SELECT v FROM keepme").Scan(new(string)); err != nil {
		t.Errorf("row after stop/up: %v", err)
	}

	s.mustRun("down")
	if st := s.status(); st.State != "stopped" || st.Services[0].State != "missing" {
		t.Errorf("after down: %+v", st)
	}
	left := resources(t, s.project)
	if len(left) != 3 || !slices.ContainsFunc(left, func(r string) bool { return strings.HasPrefix(r, "volume ") }) {
		t.Errorf("down must keep exactly the 3 volumes, left %v", left)
	}

	s.mustRun("up")
	if got := s.envMap(); got["MYSQL_PASSWORD"] != env["MYSQL_PASSWORD"] || got["MYSQL_ROOT_PASSWORD"] != env["MYSQL_ROOT_PASSWORD"] || got["MYSQL_PORT"] != env["MYSQL_PORT"] {
		t.Errorf("values changed across down/up")
	}
	var v string
	if err := s.mysql("MCP").QueryRow("SELECT v FROM keepme").Scan(&v); err != nil || v != "kept" {
		t.Errorf("row after down/up: %q %v", v, err)
	}
	if r := redis("GET", "devstack:test"); r != "kept" {
		t.Errorf("redis key after down/up: %q", r)
	}

	s.mustRun("down", "--volumes", "--yes")
	if left := resources(t, s.project); len(left) != 0 {
		t.Errorf("down --volumes left %v", left)
	}
	s.mustRun("up")
	if err := s.mysql("MCP").QueryRow("SELECT v FROM keepme").Scan(&v); err == nil {
		t.Errorf("row survived a purge")
	}
	if r := redis("GET", "devstack:test"); r != "" {
		t.Errorf("redis key survived a purge: %q", r)
	}
}

func TestForeignResourcesAreNeverTouched(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	name := "devstack-" + s.project + "-mysql"
	vol := "devstack-" + s.project + "-shared"
	docker(t, "create", "--name", name, mysqlImage())
	docker(t, "volume", "create", vol)
	t.Cleanup(func() {
		docker(t, "rm", "-f", "-v", name)
		docker(t, "volume", "rm", vol)
	})

	down := s.run("down", "--volumes", "--yes")
	if down.code != 2 || !strings.Contains(down.stderr, "did not create") {
		t.Errorf("down with foreign names: exit %d, %s", down.code, down.stderr)
	}
	docker(t, "inspect", name)
	docker(t, "volume", "inspect", vol)

	up := s.run("up")
	if up.code != 2 || !strings.Contains(up.stderr, "container "+name) || !strings.Contains(up.stderr, "volume "+vol) {
		t.Errorf("up with foreign names: exit %d, %s", up.code, up.stderr)
	}
	if left := resources(t, s.project); len(left) != 0 {
		t.Errorf("up made resources despite the clash: %v", left)
	}
	if labels := docker(t, "inspect", "-f", "{{json .Config.Labels}}", name); strings.Contains(labels, emulator.LabelProject) {
		t.Errorf("foreign container was adopted: %s", labels)
	}
}

func TestEnvShellEvalConnectsClients(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	script := `set -e
eval "$("$DEVSTACK" -p "$PROJECT" env --format shell)"
mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e 'SELECT 40+2' MCP
redis-cli -u "$REDIS_URL" ping`
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "DEVSTACK="+binary, "PROJECT="+s.project)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "42") || !strings.Contains(string(out), "PONG") {
		t.Fatalf("eval'd env did not connect: %v\n%s", err, out)
	}
	net := s.mustRun("env", "--network", "--format", "docker").stdout
	if !strings.Contains(net, "MYSQL_HOST=mysql\n") || !strings.Contains(net, "MYSQL_PORT=3306\n") {
		t.Errorf("--network output:\n%s", net)
	}
}

func TestChangedSettingsReplaceContainerKeepData(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	before := docker(t, "inspect", "-f", "{{.Id}}", "devstack-"+s.project+"-redis")
	mysqlBefore := docker(t, "inspect", "-f", "{{.Id}}", "devstack-"+s.project+"-mysql")
	r := s.runEnv([]string{"DEVSTACK_REDIS_PASSWORD=n3wpass"}, "up")
	if r.code != 0 || !strings.Contains(r.stderr, "replacing") {
		t.Fatalf("up with a new redis password: exit %d\n%s", r.code, r.stderr)
	}
	if docker(t, "inspect", "-f", "{{.Id}}", "devstack-"+s.project+"-redis") == before {
		t.Errorf("stale redis container kept")
	}
	if docker(t, "inspect", "-f", "{{.Id}}", "devstack-"+s.project+"-mysql") != mysqlBefore {
		t.Errorf("unchanged mysql container replaced")
	}
	// Without the variable, env and reset still know the password the
	// running Redis was made with.
	if url := s.envMap()["REDIS_URL"]; !strings.Contains(url, ":n3wpass@") {
		t.Errorf("env lost the Redis password: %s", url)
	}
	s.mustRun("reset")
	// And a changed app password reaches MySQL and env alike.
	s.runEnv([]string{"DEVSTACK_REDIS_PASSWORD=n3wpass", "DEVSTACK_MYSQL_PASSWORD=Changed1"}, "up")
	if env := s.envMap(); env["MYSQL_PASSWORD"] != "Changed1" {
		t.Errorf("env after a password change: %s", env["MYSQL_PASSWORD"])
	}
	var one int
	if err := s.mysql("MCP").QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Errorf("app user with the changed password: %v", err)
	}
}

func TestStatusOfAbsentStack(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	r := s.mustRun("status", "-o", "json")
	var st emulator.StatusReport
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.State != "absent" || len(st.Services) != 2 || st.Services[0].State != "missing" {
		t.Fatalf("absent status: %v %s", err, r.stdout)
	}
	if e := s.run("env"); e.code != 1 || !strings.Contains(e.stderr, "devstack up") {
		t.Errorf("env on absent stack: exit %d %s", e.code, e.stderr)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	cases := []struct {
		name  string
		env   []string
		args  []string
		file  string
		code  int
		cause string
	}{
		{"bad project name", nil, []string{"-p", "Not/Valid", "up"}, "", 2, "invalid project name"},
		{"unknown config key", nil, []string{"up"}, "mysql:\n  prot: 1\n", 2, `unknown key "mysql.prot"`},
		{"port taken", []string{"DEVSTACK_MYSQL_PORT=" + taken}, []string{"up"}, "", 2, "port " + taken},
		{"docker unreachable", []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, []string{"up"}, "", 1, "tcp://127.0.0.1:1"},
		{"bad output", nil, []string{"status", "-o", "yaml"}, "", 2, "text or json"},
		{"unknown flag", nil, []string{"up", "--bogus"}, "", 2, "bogus"},
		{"purge without --yes", nil, []string{"down", "--volumes"}, "", 2, "--yes"},
		{"bad env format", nil, []string{"env", "--format", "toml"}, "", 2, "toml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStack(t)
			if c.file != "" {
				if err := os.WriteFile(filepath.Join(s.dir, "devstack.yaml"), []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := s.runEnv(c.env, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, c.code, r.stderr)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(r.stderr, c.cause) {
				t.Errorf("want one line naming %q, got:\n%s", c.cause, r.stderr)
			}
			if left := resources(t, s.project); len(left) != 0 {
				t.Errorf("bad input left %v", left)
			}
		})
	}
}
