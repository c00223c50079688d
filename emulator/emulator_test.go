package emulator

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

func TestLogsPrefixEachLineWhenSeveral(t *testing.T) {
	f, e := onStack("p")
	f.Output["devstack-p-mysql"] = "ready for connections\nsecond"
	f.Output["devstack-p-redis"] = "Ready to accept connections\n"
	cfg := stacktest.Config("p")
	var all strings.Builder
	if err := Logs(context.Background(), e, cfg, LogsOptions{}, &all); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	sort.Strings(lines)
	if got := strings.Join(lines, "\n"); got != "mysql | ready for connections\nmysql | second\nredis | Ready to accept connections" {
		t.Errorf("logs of both:\n%s", got)
	}
	var one strings.Builder
	if err := Logs(context.Background(), e, cfg, LogsOptions{Services: []string{"redis"}}, &one); err != nil || one.String() != "Ready to accept connections\n" {
		t.Errorf("logs of one: %q, %v", one.String(), err)
	}
	for _, bad := range []LogsOptions{{Services: []string{"helper"}}, {Tail: "-1"}, {Since: "soon"}} {
		if err := Logs(context.Background(), e, cfg, bad, &one); fault.ExitCode(err) != fault.ExitUsage {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// onStack is project's running stack on a fake engine.
func onStack(project string) (*fake.Engine, *Engine) {
	f := stacktest.Running(project)
	return f, newEngine(engine.NewConn(docker.Said(f)))
}

func TestPortsCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).Port
	cfg := stacktest.Config("p")
	v := stack.Pinned{MySQLPort: held, RedisPort: 0}
	c := portsCheck(cfg, v, nil, true)
	if c.OK || !strings.Contains(c.Detail, "is taken") || !strings.Contains(c.Fix, "DEVSTACK_MYSQL_PORT") || !strings.Contains(c.Detail, "redis: a free port is picked") {
		t.Errorf("a taken port: %+v", c)
	}
	if c := portsCheck(cfg, v, []int{held}, true); !c.OK {
		t.Errorf("the stack's own port: %+v", c)
	}
	if c := portsCheck(cfg, v, nil, false); !c.OK || !strings.Contains(c.Detail, "not checked") {
		t.Errorf("a remote engine: %+v", c)
	}
}

func TestNewSecret(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		s := stack.NewSecret()
		if !re.MatchString(s) {
			t.Fatalf("secret %q is not 32 characters of [A-Za-z0-9]", s)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}

func TestNewUUID(t *testing.T) {
	if u := seed.NewPipelineUUID(); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("not a version 4 UUID: %s", u)
	}
}

func testVars(redisPassword string) []EnvVar {
	v := stack.Pinned{RootPassword: "rootpw", AppPassword: "apppw", RedisPassword: redisPassword, MySQLPort: 63306, RedisPort: 63379}
	return connectionEnv(stack.NamesFor("p1"), "127.0.0.1", v)
}

func lookup(vars []EnvVar, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Value
		}
	}
	return "<unset>"
}

func TestConnectionEnv(t *testing.T) {
	vars := testVars("")
	want := map[string]string{
		"MYSQL_HOST": "127.0.0.1", "MYSQL_PORT": "63306", "MYSQL_USER": "archivematica", "MYSQL_PASSWORD": "apppw",
		"REDIS_URL": "redis://127.0.0.1:63379/0",
		"SS_DB_URL": "mysql://archivematica:apppw@127.0.0.1:63306/SS",
	}
	for _, c := range []string{"DASHBOARD", "MCPSERVER", "MCPCLIENT"} {
		p := "ARCHIVEMATICA_" + c + "_CLIENT_"
		want[p+"HOST"], want[p+"PORT"], want[p+"USER"], want[p+"PASSWORD"], want[p+"DATABASE"] = "127.0.0.1", "63306", "archivematica", "apppw", "MCP"
	}
	for k, w := range want {
		if got := lookup(vars, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if got := lookup(testVars("s3cret"), "REDIS_URL"); got != "redis://:s3cret@127.0.0.1:63379/0" {
		t.Errorf("REDIS_URL with password = %q", got)
	}
	inNet := connectionEnv(stack.NamesFor("p1"), "", stack.Pinned{AppPassword: "x", MySQLPort: 40000, RedisPort: 40001})
	if lookup(inNet, "MYSQL_HOST") != "mysql" || lookup(inNet, "MYSQL_PORT") != "3306" || lookup(inNet, "REDIS_URL") != "redis://redis:6379/0" {
		t.Errorf("in-network addresses wrong: %v", inNet)
	}
}

func TestFormatsCarryTheSameVariables(t *testing.T) {
	vars := append(testVars(""), EnvVar{"ODD", `it's a "$HOME" \ test`})
	var names []string
	for _, v := range vars {
		names = append(names, v.Name)
	}
	js, err := FormatEnv(vars, "json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != len(vars) {
		t.Fatalf("json has %d variables, want %d", len(m), len(vars))
	}
	for _, format := range []string{"dotenv", "docker", "shell"} {
		out, _ := FormatEnv(vars, format)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			got = append(got, strings.TrimPrefix(strings.SplitN(line, "=", 2)[0], "export "))
		}
		if !slices.Equal(got, names) {
			t.Fatalf("%s names %v, want %v", format, got, names)
		}
	}
	if _, err := FormatEnv(vars, "xml"); fault.ExitCode(err) != fault.ExitUsage {
		t.Fatalf("unknown format: %v", err)
	}
}

// tough is a value with everything env files and shells care about.
const tough = `it's a "$HOME" #1 !x ` + "`id`" + ` \ test`

func TestDockerAndDotenvLines(t *testing.T) {
	vars := []EnvVar{{"A", tough}, {"E", ""}}
	docker, _ := FormatEnv(vars, "docker")
	if want := "A=" + tough + "\nE=\n"; docker != want {
		t.Errorf("docker format:\n%s\nwant verbatim:\n%s", docker, want)
	}
	dotenv, _ := FormatEnv(vars, "dotenv")
	if want := "A='it\\'s a \"$HOME\" #1 !x `id` \\ test'\nE=''\n"; dotenv != want {
		t.Errorf("dotenv format:\n%s\nwant:\n%s", dotenv, want)
	}
}

// The shell format must survive eval in a real shell, odd characters included.
func TestShellFormatEvaluates(t *testing.T) {
	vars := append(testVars(""), EnvVar{"ODD", tough})
	sh, _ := FormatEnv(vars, "shell")
	out, err := exec.Command("sh", "-c", sh+`printf '%s|%s|%s' "$ODD" "$SS_DB_URL" "$REDIS_PASSWORD"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := tough + `|mysql://archivematica:apppw@127.0.0.1:63306/SS|`; string(out) != want {
		t.Fatalf("eval gave %q, want %q", out, want)
	}
}

func TestPruneSelects(t *testing.T) {
	now := time.Now()
	old := now.Add(-3 * time.Hour)
	young := now.Add(-10 * time.Second)
	for _, tc := range []struct {
		name  string
		s     StackInfo
		opts  PruneOptions
		taken bool
	}{
		{"everyday stacks never", StackInfo{Created: old}, PruneOptions{All: true}, false},
		{"orphan", StackInfo{Ephemeral: true, Created: old}, PruneOptions{}, true},
		{"owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Created: old}, PruneOptions{}, false},
		{"kept orphan", StackInfo{Ephemeral: true, Kept: true, Created: old}, PruneOptions{}, false},
		{"young orphan within grace", StackInfo{Ephemeral: true, Created: young}, PruneOptions{Grace: time.Minute}, false},
		{"all, owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Kept: true, Created: young}, PruneOptions{All: true}, true},
		{"older than, owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Created: old}, PruneOptions{OlderThan: time.Hour}, true},
		{"not older than", StackInfo{Ephemeral: true, Created: young}, PruneOptions{OlderThan: time.Hour}, false},
	} {
		if got := tc.opts.selects(tc.s, now); got != tc.taken {
			t.Errorf("%s: selected %v, want %v", tc.name, got, tc.taken)
		}
	}
}

func TestTargetsInTheConfig(t *testing.T) {
	file := writeConfig(t, `targets:
  staging:
    mysql:
      host: db.example.org
      user: admin
      password_env: STAGING_PW
      ca: certs/rds.pem
    shared:
      path: /mnt/efs
      uid: 333
  lab:
    mysql: {host: lab, user: root, password_file: pw}
    shared: {volume: lab-shared}
`)
	cfg, err := config.Load(config.LoadOptions{File: file, Getenv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Targets["staging"]
	if s.MySQLHost != "db.example.org" || s.MySQLUser != "admin" || s.MySQLCA != filepath.Join(filepath.Dir(file), "certs/rds.pem") || s.SharedUID != 333 || s.SharedGID != config.UnsetID {
		t.Errorf("staging: %+v", s)
	}
	if l := cfg.Targets["lab"]; l.SharedVolume != "lab-shared" || l.MySQLPasswordFile != filepath.Join(filepath.Dir(file), "pw") {
		t.Errorf("lab: %+v", l)
	}

	t.Setenv("STAGING_PW", "s3cret")
	tg, fx, tree, err := resolveTarget(context.Background(), cfg, "staging", TargetOptions{Flags: map[string]string{"mysql.port": "3307", "mysql.tls": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if tg.MySQL.Password != "s3cret" || tg.MySQL.Port != 3307 || !tg.MySQL.TLS || tg.Shared.Owner.UID != 333 || tg.Shared.Owner.GID != 1000 || len(fx.Files) == 0 || len(tree.Dirs) == 0 {
		t.Errorf("resolved: %+v", tg)
	}
	// Flags alone describe a target.
	tg, _, _, err = resolveTarget(context.Background(), cfg, "adhoc", TargetOptions{Flags: map[string]string{"mysql.host": "h", "mysql.user": "u", "mysql.password_env": "STAGING_PW", "shared.path": "/x"}})
	if err != nil || tg.MySQL.Port != 3306 || tg.Shared.Path != "/x" || tg.Shared.Owner.UID != 1000 {
		t.Errorf("a target from flags: %+v, %v", tg, err)
	}
}

func TestTargetErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"targets: [a]\n", "targets must be a mapping of target names"},
		{"targets:\n  'bad name':\n    mysql: {host: h}\n", "invalid target name"},
		{"targets:\n  s:\n    mysql: {hots: h}\n", `unknown key "targets.s.mysql.hots"`},
		{"targets:\n  s:\n    mysql: {port: x}\n", "targets.s.mysql.port must be a port"},
		{"targets:\n  s:\n    mysql: {password: secret}\n", `unknown key "targets.s.mysql.password"`},
		{"targets:\n  s:\n    shared: [a]\n", "targets.s.shared must be a mapping"},
		{"targets:\n  s:\n    mysql: {host: h}\n    mysql: {port: 1}\n", "targets.s.mysql is given twice"},
		{"targets:\n  s:\n    mysql: {host: {a: b}}\n", "targets.s.mysql.host must be a single value"},
		{"targets:\n  s: x\n", "targets.s must be a mapping of keys to values"},
	} {
		_, err := config.Load(config.LoadOptions{File: writeConfig(t, c.file), Getenv: envMap(nil)})
		if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.file, err, c.want)
		}
	}
	cfg, err := config.Load(config.LoadOptions{File: writeConfig(t, "targets:\n  s:\n    mysql: {host: h, user: u, password_env: NOT_SET_ANYWHERE}\n    shared: {path: /x}\n  t:\n    mysql: {host: h, user: u}\n    shared: {path: /x, volume: v}\n"), Getenv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	stacktest.Must(t, os.WriteFile(pwFile, []byte("from-file\n"), 0o600))
	for _, c := range []struct {
		name  string
		flags map[string]string
		want  string
	}{
		{"nowhere", nil, "no such target in the configuration (targets: s, t)"},
		{"s", nil, "the environment variable NOT_SET_ANYWHERE is not set"},
		{"t", nil, "shared.path (a local folder) or shared.volume"},
		{"t", map[string]string{"shared.volume": "v", "shared.path": ""}, "--shared-path must not be empty"},
		{"s", map[string]string{"mysql.password_file": pwFile}, "the variable or the file, not both"},
		{"new", map[string]string{"mysql.host": "h"}, "mysql.user is not set"},
		{"new", map[string]string{"mysql.host": "h", "mysql.user": "u", "shared.path": "/x"}, "passwords are never given as values"},
	} {
		_, _, _, err := resolveTarget(context.Background(), cfg, c.name, TargetOptions{Flags: c.flags})
		if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "target "+c.name) {
			t.Errorf("%s %v: %v, want %q", c.name, c.flags, err, c.want)
		}
	}
}
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "devstack.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
