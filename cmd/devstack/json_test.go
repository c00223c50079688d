package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
)

// Every command that reports something prints exactly one JSON document on
// stdout with -o json, of the shape testdata/<command>.json holds (what
// varies between runs replaced by placeholders; docs/architecture.md
// documents each).
func TestJSONShapes(t *testing.T) {
	t.Parallel()
	s := newStack(t, fmt.Sprintf("DEVSTACK_MYSQL_PORT=%d", freePort(t)), fmt.Sprintf("DEVSTACK_REDIS_PORT=%d", freePort(t)))
	json1 := func(args ...string) string { return s.mustRun(append(args, "-o", "json")...).stdout }
	subst := map[string]string{s.project: "<project>", mysqlImage(): "<mysql-image>"}
	if img := os.Getenv("DEVSTACK_REDIS_IMAGE"); img != "" {
		subst[img] = "<redis-image>"
	}

	golden(t, "up", json1("up"), subst, "port")
	golden(t, "status", json1("status"), subst, "port")
	env := s.envMap()
	envSubst := map[string]string{s.project: "<project>", env["MYSQL_PASSWORD"]: "<password>", env["MYSQL_ROOT_PASSWORD"]: "<root-password>",
		env["MYSQL_PORT"]: "<mysql-port>", env["REDIS_PORT"]: "<redis-port>"}
	golden(t, "env", s.mustRun("env", "--format", "json").stdout, envSubst)
	golden(t, "seed", json1("seed"), subst, "took_ms")

	golden(t, "users-add", json1("users", "add", "--username", "alice", "--email", "alice@example.org", "--api-key", "alice-key"), subst, "password")
	golden(t, "users-list", json1("users", "list"), subst)
	golden(t, "users-remove", json1("users", "remove", "--username", "alice"), subst)
	golden(t, "reset", json1("reset"), subst, "took_ms")

	local := filepath.Join(t.TempDir(), "notes.txt")
	must(t, os.WriteFile(local, []byte("notes"), 0o640))
	subst[filepath.Dir(local)] = "<dir>"
	golden(t, "shared-put", json1("shared", "put", local, "s3_transfers"), subst)
	golden(t, "shared-ls", json1("shared", "ls", "s3_transfers"), subst, "modified")
	golden(t, "shared-get", json1("shared", "get", "s3_transfers/notes.txt", filepath.Join(filepath.Dir(local), "back.txt")), subst)

	// A snapshot's own values vary with the server and the build.
	snap := []string{"created", "flavour", "mysql_version", "devstack_version", "schema", "size_bytes", "took_ms", "port"}
	golden(t, "snapshot-save", json1("snapshot", "save", "s1"), subst, snap...)
	golden(t, "snapshot-restore", json1("snapshot", "restore", "s1", "--yes"), subst, snap...)
	export := filepath.Join(filepath.Dir(local), "s1.tar.gz")
	golden(t, "snapshot-export", json1("snapshot", "export", "s1", export), subst, append(snap, "bytes", "sha256")...)
	golden(t, "snapshot-import", json1("snapshot", "import", export, "s2"), subst, snap...)
	golden(t, "snapshot-ls", json1("snapshot", "ls"), subst, snap...)
	golden(t, "snapshot-rm", json1("snapshot", "rm", "s2"), subst)

	// ls and prune see only this stack (and the templates, which belong to
	// no stack), through a filtered view of the engine.
	v := newDockerView(t)
	v.allow(s.project)
	v.templates = true
	var listed struct {
		Stacks    []emulator.StackInfo         `json:"stacks"`
		Templates []map[string]json.RawMessage `json:"templates"`
	}
	ls := v.devstack(t, "ls", "-o", "json")
	must(t, json.Unmarshal([]byte(ls.stdout), &listed))
	if len(listed.Templates) == 0 {
		t.Fatalf("ls lists no template after an up:\n%s", ls.stdout)
	}
	// Other stacks' templates may be on the engine too: one shows the shape.
	one, _ := json.Marshal(map[string]any{"stacks": json.RawMessage(mustMarshal(t, listed.Stacks)), "templates": listed.Templates[:1]})
	golden(t, "ls", string(one), subst, "created", "age", "volume", "image", "size_bytes")
	v.templates = false
	golden(t, "prune", v.devstack(t, "prune", "-o", "json").stdout, subst)

	golden(t, "doctor", json1("doctor"), subst, "detail")
	golden(t, "version", json1("version"), subst, "version", "module_version", "commit", "modified", "go")
	golden(t, "down", json1("down", "--volumes", "--yes"), subst)
}
