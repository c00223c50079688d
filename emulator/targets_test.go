package emulator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
)

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
