package main

// Integration tests of run, ls, prune and down --all against real Docker.
//
// prune and down --all act on every throw-away stack of the Docker host, and
// other tests (of this package and of others that `go test ./...` runs at the
// same time) keep theirs there. So these commands never see the real engine
// here: they reach Docker through a dockerView, a proxy that hides every
// stack but the test's own from the lists devstack finds stacks by. devstack
// picks its engine from DOCKER_HOST as the docker CLI does, so the product
// needs no test switch, and the tests stay parallel and cannot remove what
// they do not own, whatever else runs.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
)

func TestRunPassesExitCodeAndEnv(t *testing.T) {
	t.Parallel()
	r := devstack(t, nil, "run", "--", "sh", "-c", "exit 3")
	if r.code != 3 {
		t.Errorf("exit %d, want the command's 3\n%s", r.code, r.stderr)
	}
	assertGone(t, ownRun(t, r.stderr))

	script := `echo "project=$DEVSTACK_PROJECT"
mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e 'SELECT 40+2' MCP
redis-cli -u "$REDIS_URL" ping`
	// No -- before the command: its own flags (-c) must still be its own.
	r = devstack(t, nil, "run", "sh", "-c", script)
	project := ownRun(t, r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "project="+project+"\n") || !strings.Contains(r.stdout, "42\n") || !strings.Contains(r.stdout, "PONG") {
		t.Errorf("command did not reach its stack: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	assertGone(t, project)
}

func TestRunRefusals(t *testing.T) {
	t.Parallel()
	r := devstack(t, nil, "run", "--", "devstack-no-such-command")
	if r.code != 125 || !strings.Contains(r.stderr, "devstack-no-such-command") || strings.Contains(r.stderr, "throw-away stack") {
		t.Errorf("unknown command: exit %d, want 125 before any stack\n%s", r.code, r.stderr)
	}
	plain := filepath.Join(t.TempDir(), "plain.txt")
	must(t, os.WriteFile(plain, []byte("not a program"), 0o644))
	for _, missing := range []string{"/path/that/does/not/exist", "./no-such-script.sh", plain} {
		r := devstack(t, nil, "run", "--", missing)
		if r.code != 125 || !strings.Contains(r.stderr, missing) || strings.Contains(r.stderr, "throw-away stack") {
			t.Errorf("%s: exit %d, want 125 before any stack\n%s", missing, r.code, r.stderr)
		}
	}
	if r := devstack(t, nil, "run"); r.code != 2 {
		t.Errorf("run without a command: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if r := devstack(t, []string{"DOCKER_HOST=tcp://127.0.0.1:1"}, "run", "--", "true"); r.code != 125 {
		t.Errorf("Docker unreachable: exit %d, want 125\n%s", r.code, r.stderr)
	}
}

func TestRunCommandKilledBySignal(t *testing.T) {
	t.Parallel()
	r := devstack(t, nil, "run", "--", "sh", "-c", "kill -TERM $$")
	if r.code != 128+15 {
		t.Errorf("exit %d, want 143 (SIGTERM)\n%s", r.code, r.stderr)
	}
	assertGone(t, ownRun(t, r.stderr))
}

func TestRunForwardsSignalsAndCleansUp(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			b := startRun(t, "run")
			t0 := time.Now()
			if err := b.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := b.wait(t); code != 128+int(sig) {
				t.Errorf("exit %d, want %d\n%s", code, 128+int(sig), b.stderr)
			}
			if d := time.Since(t0); d > 60*time.Second {
				t.Errorf("the command was not stopped: devstack took %v", d)
			}
			assertGone(t, b.project)
		})
	}
	// Interrupted while the stack is being made: what exists is removed.
	t.Run("during up", func(t *testing.T) {
		b := spawnRun(t, "run")
		b.await(t, b.stderr, "creating volume")
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := b.wait(t); code != 143 {
			t.Errorf("exit %d, want 143\n%s", code, b.stderr)
		}
		assertGone(t, b.project)
	})
}

func TestRunKeepLsPruneAndDownAll(t *testing.T) {
	t.Parallel()
	view := newDockerView(t)
	everyday := newStack(t)
	everyday.mustRun("up")
	view.allow(everyday.project)

	kept := devstack(t, nil, "run", "--keep", "--", "true")
	orphan := ownRun(t, kept.stderr)
	view.allow(orphan)
	if kept.code != 0 || !strings.Contains(kept.stderr, "devstack down -p "+orphan+" --volumes --yes") {
		t.Fatalf("run --keep: exit %d, no down command\n%s", kept.code, kept.stderr)
	}
	labels := docker(t, "inspect", "-f", `{{index .Config.Labels "io.devstack.ephemeral"}} {{index .Config.Labels "io.devstack.owner"}}`, "devstack-"+orphan+"-mysql")
	host, _ := os.Hostname()
	if ephemeral, owner, _ := strings.Cut(labels, " "); ephemeral != "true" || !strings.HasPrefix(owner, host+"/") {
		t.Errorf("kept stack labels: %q, want ephemeral and owned by a process on %s", labels, host)
	}

	live := startRun(t, "run")
	view.allow(live.project)

	stacks := map[string]emulator.StackInfo{}
	ls := view.devstack(t, "ls", "-o", "json")
	var listing struct{ Stacks []emulator.StackInfo }
	if err := json.Unmarshal([]byte(ls.stdout), &listing); err != nil || ls.code != 0 {
		t.Fatalf("ls -o json: exit %d, %v\n%s%s", ls.code, err, ls.stdout, ls.stderr)
	}
	list := listing.Stacks
	for _, s := range list {
		stacks[s.Project] = s
	}
	if s := stacks[everyday.project]; len(list) != 3 || s.State != "running" || s.Ephemeral || s.Owner != "" || s.OwnerAlive {
		t.Errorf("ls: everyday stack %+v among %d", s, len(list))
	}
	if s := stacks[orphan]; s.State != "running" || !s.Ephemeral || s.OwnerAlive || !s.Kept || time.Since(s.Created) > time.Hour {
		t.Errorf("ls: kept stack of a finished run %+v, want ephemeral, kept, with its owner gone", s)
	}
	if s := stacks[live.project]; !s.Ephemeral || !s.OwnerAlive || s.Owner != host+"/"+strconv.Itoa(live.cmd.Process.Pid) {
		t.Errorf("ls: stack of a running run %+v, want owned by pid %d", s, live.cmd.Process.Pid)
	}
	if !strings.Contains(ls.stdout, `"age": "`) {
		t.Errorf("ls -o json has no age:\n%s", ls.stdout)
	}

	if r := view.devstack(t, "prune", "--older-than", "1h"); r.code != 0 || r.stdout != "" {
		t.Errorf("prune --older-than 1h removed young stacks: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A kept stack outlives its owner on purpose: prune spares it.
	if r := view.devstack(t, "prune"); r.code != 0 || r.stdout != "" {
		t.Errorf("prune removed a kept stack: exit %d, removed %q\n%s", r.code, r.stdout, r.stderr)
	}

	if r := view.devstack(t, "down", "--all", "-p", everyday.project); r.code != 2 {
		t.Errorf("down --all -p: exit %d, want 2\n%s", r.code, r.stderr)
	}
	r := view.devstack(t, "down", "--all")
	if removed := strings.Fields(r.stdout); r.code != 0 || len(removed) != 2 || !slices.Contains(removed, live.project) || !slices.Contains(removed, orphan) {
		t.Errorf("down --all: exit %d, removed %q, want the kept %s and the live %s\n%s", r.code, r.stdout, orphan, live.project, r.stderr)
	}
	assertGone(t, orphan)
	assertGone(t, live.project)
	if st := everyday.status(); st.State != "running" {
		t.Errorf("everyday stack after prune and down --all: %s", st.State)
	}
	// Its stack gone under it, the run still ends with its command's code.
	if err := live.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := live.wait(t); code != 143 {
		t.Errorf("run whose stack was removed: exit %d, want 143\n%s", code, live.stderr)
	}
}

func TestKilledRunLeavesOrphanThatPruneRemoves(t *testing.T) {
	t.Parallel()
	view := newDockerView(t)
	b := startRun(t, "run")
	view.allow(b.project)
	// SIGKILL cannot be caught: devstack gets no chance to clean up.
	if err := syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.wait(t)
	if len(resources(t, b.project)) == 0 {
		t.Fatal("no stack left to prune")
	}
	var listing struct{ Stacks []emulator.StackInfo }
	if err := json.Unmarshal([]byte(view.devstack(t, "ls", "-o", "json").stdout), &listing); err != nil {
		t.Fatal(err)
	}
	list := listing.Stacks
	if len(list) != 1 || list[0].Project != b.project || !list[0].Ephemeral || list[0].OwnerAlive {
		t.Errorf("ls after SIGKILL: %+v, want %s orphaned", list, b.project)
	}
	if r := view.devstack(t, "prune"); r.code != 0 || r.stdout != b.project+"\n" {
		t.Errorf("prune: exit %d, removed %q\n%s", r.code, r.stdout, r.stderr)
	}
	assertGone(t, b.project)
}
