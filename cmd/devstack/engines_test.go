package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator/setup"
)

// TestEngineCore is the core of the lifecycle on whatever engine DOCKER_HOST
// names: make test-engines runs it on each engine this machine can start
// (Podman, rootless engines, remote ones over tcp:// and ssh://, a newer
// Docker); make test runs it on the default one.
func TestEngineCore(t *testing.T) {
	// Fixtures of its own: the first up makes their template from the
	// stack's own server, on this engine.
	s := newStack(t, "DEVSTACK_FIXTURES="+ownFixtures(t))
	first := s.mustRun("up")
	if len(made(t, first)) != 1 {
		t.Errorf("the first up made no template:\n%s", first.stderr)
	}
	if strings.Contains(first.stderr, "stack: the engine is reached through ssh") != strings.HasPrefix(os.Getenv("DOCKER_HOST"), "ssh://") {
		t.Errorf("up on %s says nothing, or the wrong thing, of how its ports are reached:\n%s", os.Getenv("DOCKER_HOST"), first.stderr)
	}

	// A second up creates, starts and replaces nothing.
	before := started(t, s.project)
	again := s.mustRun("up")
	if after := started(t, s.project); after != before {
		t.Errorf("the second up changed containers:\n%s\n%s", before, after)
	}
	for _, word := range []string{"creating", "starting", "replacing"} {
		if strings.Contains(again.stderr, word) {
			t.Errorf("the second up did work (%s):\n%s", word, again.stderr)
		}
	}
	if st := s.status(); st.State != "running" {
		t.Fatalf("status: %+v", st)
	}

	// env gives what this machine reaches MySQL and Redis at.
	env := s.envMap()
	forward(t, env["MYSQL_PORT"], env["REDIS_PORT"])
	port, _ := strconv.Atoi(env["MYSQL_PORT"])
	db := setup.OpenMySQL(env["MYSQL_HOST"], port, env["MYSQL_USER"], env["MYSQL_PASSWORD"], "MCP")
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE engine_core (v INT)"); err != nil {
		t.Fatalf("MySQL at %s:%d as the app user: %v", env["MYSQL_HOST"], port, err)
	}
	if _, err := db.Exec("INSERT INTO engine_core VALUES (42)"); err != nil {
		t.Fatal(err)
	}

	// The shared directory belongs to the configured owner, also what is put.
	local := filepath.Join(t.TempDir(), "note.txt")
	must(t, os.WriteFile(local, []byte("engine core\n"), 0o644))
	s.mustRun("shared", "put", local, "tmp/note.txt")
	if got := s.helper("stat", "-c", "%u:%g", sharedPath("watchedDirectories/activeTransfers/standardTransfer"), sharedPath("tmp/note.txt")); got != "1000:1000\n1000:1000" {
		t.Errorf("owners in the shared directory: %q", got)
	}

	// A snapshot exported and imported into another project holds the row,
	// the file and their owners.
	s.mustRun("snapshot", "save", "core")
	file := filepath.Join(t.TempDir(), "core.tar.gz")
	s.mustRun("snapshot", "export", "core", file)
	other := newStack(t)
	other.mustRun("snapshot", "import", file)
	other.mustRun("snapshot", "restore", "core", "--yes")
	oenv := other.envMap()
	forward(t, oenv["MYSQL_PORT"], oenv["REDIS_PORT"])
	var v int
	if err := other.mysql("MCP").QueryRow("SELECT v FROM engine_core").Scan(&v); err != nil || v != 42 {
		t.Errorf("the imported snapshot's row: %d, %v", v, err)
	}
	if got := other.helper("stat", "-c", "%u:%g %s", sharedPath("tmp/note.txt")); got != "1000:1000 12" {
		t.Errorf("the imported snapshot's file: %q", got)
	}
	if got := docker(t, "exec", "devstack-"+other.project+"-mysql", "sh", "-c", "find /var/lib/mysql -maxdepth 1 ! -user mysql | head -3"); got != "" {
		t.Errorf("files in the restored data directory not owned by mysql: %q", got)
	}

	// reset takes the schema's tables back to the seeded state (and leaves
	// tables devstack did not make alone).
	if _, err := db.Exec("INSERT INTO auth_group (name) VALUES ('engine-core')"); err != nil {
		t.Fatal(err)
	}
	s.mustRun("reset")
	if err := db.QueryRow("SELECT COUNT(*) FROM auth_group WHERE name = 'engine-core'").Scan(&v); err != nil || v != 0 {
		t.Errorf("after reset, auth_group holds %d rows written since up (%v)", v, err)
	}
	if got := s.helper("ls", sharedPath("tmp")); got != "" {
		t.Errorf("after reset, the shared tmp folder holds %q", got)
	}

	// down --volumes leaves nothing of the stack.
	s.mustRun("down", "--volumes", "--yes")
	if left := resources(t, s.project); len(left) > 0 {
		t.Errorf("left after down --volumes: %v", left)
	}
}

// sharedPath is a path in the shared directory.
func sharedPath(rel string) string { return "/var/archivematica/sharedDirectory/" + rel }

// forward makes ports of an ssh:// engine's loopback reachable here for the
// rest of the test, as a user would (up prints the command); other engines
// need nothing.
func forward(t *testing.T, ports ...string) {
	t.Helper()
	host, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "ssh://")
	if !ok {
		return
	}
	args := []string{"-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes"}
	for _, p := range ports {
		args = append(args, "-L", fmt.Sprintf("127.0.0.1:%s:127.0.0.1:%s", p, p))
	}
	cmd := exec.Command("ssh", append(args, host)...)
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+ports[0]); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("ssh did not forward %v", ports)
}
