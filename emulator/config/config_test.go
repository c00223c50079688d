package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/fault"
)

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

func TestDefaults(t *testing.T) {
	cfg, err := Load(LoadOptions{File: writeConfig(t, ""), Getenv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Fatalf("empty config = %+v, want defaults %+v", cfg, DefaultConfig())
	}
	if cfg.Project != "archivematica" || cfg.MySQL.Port != 63306 || cfg.Redis.Port != 63379 || cfg.MySQL.Image != "mysql:8.0" || cfg.Redis.Image != "redis:7.2" || cfg.Shared.UID != 1000 ||
		cfg.Gearmand != (GearmandConfig{Enabled: false, Image: "artefactual/gearmand:1.1.18-alpine", Port: 64730}) {
		t.Fatalf("defaults differ from the configuration table (docs/architecture.md): %+v", cfg)
	}
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	file := writeConfig(t, "project: fromfile\nmysql:\n  port: 1111\n  image: file/mysql\nredis:\n  port: 2222\nshared:\n  uid: 333\n")
	env := map[string]string{"DEVSTACK_PROJECT": "fromenv", "DEVSTACK_MYSQL_PORT": "0"}
	cfg, err := Load(LoadOptions{File: file, Getenv: envMap(env), Project: "fromflag"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Project != "fromflag" {
		t.Errorf("flag must beat env and file: project = %q", cfg.Project)
	}
	if cfg.MySQL.Port != 0 {
		t.Errorf("env must beat file: mysql.port = %d", cfg.MySQL.Port)
	}
	if cfg.MySQL.Image != "file/mysql" || cfg.Redis.Port != 2222 || cfg.Shared.UID != 333 {
		t.Errorf("file must beat defaults: %+v", cfg)
	}
	if cfg.Shared.GID != 1000 || cfg.Redis.Image != "redis:7.2" {
		t.Errorf("unset keys keep defaults: %+v", cfg)
	}
	cfg, err = Load(LoadOptions{File: file, Getenv: envMap(env)})
	if err != nil || cfg.Project != "fromenv" {
		t.Errorf("env must beat file: project = %q, %v", cfg.Project, err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		env        map[string]string
		project    string
		want       []string
	}{
		{"unknown key", "mysql:\n  imgae: x\n", nil, "", []string{`unknown key "mysql.imgae"`, ":2:", "mysql.image"}},
		{"unknown section", "postgres:\n  port: 1\n", nil, "", []string{`unknown key "postgres"`}},
		{"unknown top key", "projcet: x\n", nil, "", []string{`unknown key "projcet"`}},
		{"bad port in file", "redis:\n  port: 70000\n", nil, "", []string{"redis.port", "70000"}},
		{"bad port in env", "", map[string]string{"DEVSTACK_MYSQL_PORT": "abc"}, "", []string{"DEVSTACK_MYSQL_PORT", "abc"}},
		{"bad schema", "schema: django\n", nil, "", []string{"schema", "builtin or none"}},
		{"bad yaml", "mysql: [\n", nil, "", []string{"invalid YAML"}},
		{"bad project flag", "", nil, "Bad_Name", []string{"invalid project name", "Bad_Name"}},
		{"bad project env", "", map[string]string{"DEVSTACK_PROJECT": "-x"}, "", []string{"invalid project name"}},
		{"same ports", "mysql:\n  port: 5000\nredis:\n  port: 5000\n", nil, "", []string{"both 5000"}},
		{"gearmand on mysql's port", "gearmand:\n  enabled: true\n  port: 63306\n", nil, "", []string{"gearmand.port", "mysql.port", "63306"}},
		{"gearmand enabled not a bool", "", map[string]string{"DEVSTACK_GEARMAND_ENABLED": "perhaps"}, "", []string{"DEVSTACK_GEARMAND_ENABLED", "true or false"}},
		{"password with newline", "mysql:\n  password: \"a\\nb\"\n", nil, "", []string{"mysql.password", "newline"}},
		{"password with CR in env", "", map[string]string{"DEVSTACK_REDIS_PASSWORD": "a\rb"}, "", []string{"DEVSTACK_REDIS_PASSWORD"}},
		{"password with backslash", "mysql:\n  root_password: 'a\\b'\n", nil, "", []string{"mysql.root_password", "backslash"}},
		{"a 10 MB password", "", map[string]string{"DEVSTACK_MYSQL_PASSWORD": strings.Repeat("x", 10<<20)}, "", []string{"DEVSTACK_MYSQL_PASSWORD", "1 to 256 characters"}},
		{"host that does not resolve", "host: no-such-host.invalid\n", nil, "", []string{"host", "no-such-host.invalid", "resolves"}},
		{"missing fixtures dir", "fixtures: /nonexistent/dir\n", nil, "", []string{"fixtures", "not a directory"}},
		{"duplicate key", "project: a\nproject: b\n", nil, "", []string{":2:", "project is given twice"}},
		{"scalar where mapping", "mysql: 5\n", nil, "", []string{"mysql must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(LoadOptions{File: writeConfig(t, c.file), Getenv: envMap(c.env), Project: c.project})
			if err == nil {
				t.Fatal("no error")
			}
			if fault.ExitCode(err) != fault.ExitUsage {
				t.Errorf("exit code %d, want %d", fault.ExitCode(err), fault.ExitUsage)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// Passwords with the characters shells and env files care about are taken:
// they are quoted where they are written.
func TestPasswordsTakeShellCharacters(t *testing.T) {
	pw := `a'b"c$d#e!f` + "`g` h"
	cfg, err := Load(LoadOptions{File: writeConfig(t, ""), Getenv: envMap(map[string]string{"DEVSTACK_MYSQL_PASSWORD": pw, "DEVSTACK_REDIS_PASSWORD": pw, "DEVSTACK_HOST": "localhost"})})
	if err != nil || cfg.MySQL.Password != pw || cfg.Redis.Password != pw || cfg.Host != "localhost" {
		t.Fatalf("%+v, %v", cfg, err)
	}
}

func TestMissingExplicitConfigFile(t *testing.T) {
	_, err := Load(LoadOptions{File: "/nonexistent/devstack.yaml", Getenv: envMap(nil)})
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "/nonexistent/devstack.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestValidateProject(t *testing.T) {
	for _, ok := range []string{"archivematica", "a", "0", "my-stack_2", strings.Repeat("a", 31)} {
		if err := ValidateProject(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "-a", "_a", "a.b", "a b", "a/b", strings.Repeat("a", 32), "ümlaut"} {
		if err := ValidateProject(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRelativeFixturesFollowTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	noErr(t, os.Mkdir(filepath.Join(dir, "fx"), 0o755))
	p := filepath.Join(dir, "devstack.yaml")
	noErr(t, os.WriteFile(p, []byte("fixtures: ./fx\n"), 0o600))
	cfg, err := Load(LoadOptions{File: p, Getenv: envMap(nil)})
	if err != nil || cfg.Fixtures != filepath.Join(dir, "fx") {
		t.Fatalf("fixtures = %q, %v", cfg.Fixtures, err)
	}
}

func TestConfigSources(t *testing.T) {
	file := writeConfig(t, "mysql:\n  image: file/mysql\nredis:\n  port: 2222\n")
	cfg, err := Load(LoadOptions{File: file, Getenv: envMap(map[string]string{"DEVSTACK_REDIS_PORT": "0"}), Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"mysql.image": file + ":2", "redis.port": "DEVSTACK_REDIS_PORT", "project": "--project"}
	if !reflect.DeepEqual(cfg.Sources, want) {
		t.Errorf("sources %v, want %v", cfg.Sources, want)
	}
}

func TestServerOptions(t *testing.T) {
	load := func(file string, env map[string]string) ([]ServerOption, error) {
		cfg, err := Load(LoadOptions{File: writeConfig(t, file), Getenv: envMap(env)})
		return cfg.MySQL.ServerOptions, err
	}
	defaults, err := load("", nil)
	if err != nil || !reflect.DeepEqual(defaults, DevServerOptions) {
		t.Fatalf("no setting: %v, %v", defaults, err)
	}
	got, err := load("mysql:\n  server_options:\n    innodb-buffer-pool-size: 256M\n    performance_schema: null\n    innodb_redo_log_capacity: ~\n    max_connections: 500\n    event_scheduler: 'OFF'\n    skip_log_bin:\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	args := ServerArgs(got)
	for _, want := range []string{"--innodb-buffer-pool-size=256M", "--max-connections=500", "--event-scheduler=OFF", "--innodb-flush-log-at-trx-commit=2", "--skip-name-resolve"} {
		if !slices.Contains(args, want) {
			t.Errorf("%s missing from %v", want, args)
		}
	}
	for _, gone := range []string{"performance-schema", "redo-log-capacity", "skip-log-bin"} {
		if slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, gone) }) {
			t.Errorf("%s not dropped: %v", gone, args)
		}
	}
	// Changed options keep their place, new ones come last, sorted.
	if args[len(args)-2] != "--event-scheduler=OFF" || args[len(args)-1] != "--max-connections=500" {
		t.Errorf("order: %v", args)
	}
	if got, err := load("mysql:\n  server_options: none\n", nil); err != nil || len(got) != 0 || ServerArgs(got) != nil {
		t.Errorf("none: %v, %v", got, err)
	}
	// The environment takes the same YAML, over the file's.
	got, err = load("mysql:\n  server_options: {max_connections: 500}\n", map[string]string{"DEVSTACK_MYSQL_SERVER_OPTIONS": "{innodb_buffer_pool_size: 128M}"})
	if args := ServerArgs(got); err != nil || !slices.Contains(args, "--max-connections=500") || !slices.Contains(args, "--innodb-buffer-pool-size=128M") {
		t.Errorf("environment over file: %v, %v", args, err)
	}
	if got, err := load("", map[string]string{"DEVSTACK_MYSQL_SERVER_OPTIONS": "none"}); err != nil || len(got) != 0 {
		t.Errorf("none from the environment: %v, %v", got, err)
	}
	for _, c := range []struct {
		file string
		env  string
		want string
	}{
		{"mysql:\n  server_options: all\n", "", "must be none or a mapping"},
		{"mysql:\n  server_options: [a, b]\n", "", "must be none or a mapping"},
		{"mysql:\n  server_options:\n    port: 3307\n", "", "devstack cannot run MySQL with port"},
		{"mysql:\n  server_options:\n    innodb_page_size: 4k\n", "", "innodb_page_size"},
		{"mysql:\n  server_options:\n    'bad name': 1\n", "", "not an option name"},
		{"mysql:\n  server_options:\n    a: [1]\n", "", "a must be a single value"},
		{"mysql:\n  server_options:\n    max-connections: 1\n    max_connections: 2\n", "", "max_connections is given twice"},
		{"", "{skip_networking: ''}", "DEVSTACK_MYSQL_SERVER_OPTIONS"},
		{"mysql:\n  server_options:\n    skip-grant: ''\n", "", "with skip-grant (skip_grant_tables)"},
		{"mysql:\n  server_options:\n    loose-skip-grant-tables: ''\n", "", "skip_grant_tables"},
		{"", "{unclosed", "DEVSTACK_MYSQL_SERVER_OPTIONS: is not YAML"},
	} {
		env := map[string]string{}
		if c.env != "" {
			env["DEVSTACK_MYSQL_SERVER_OPTIONS"] = c.env
		}
		_, err := load(c.file, env)
		if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q %q: %v, want a one-line usage error with %q", c.file, c.env, err, c.want)
		}
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
