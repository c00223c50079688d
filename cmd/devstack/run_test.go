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
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
)

var runProject = regexp.MustCompile(`throw-away stack (run-[0-9a-f]{8})`)

// devstack runs the binary without -p: run, ls and prune choose projects
// themselves, and down --all refuses one.
func devstack(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runBinary(t, t.TempDir(), env, args...)
}

// ownRun finds the project a `devstack run` announced, and makes sure it is
// gone when the test ends.
func ownRun(t *testing.T, stderr string) string {
	t.Helper()
	m := runProject.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("run did not name its stack:\n%s", stderr)
	}
	t.Cleanup(func() {
		devstack(t, nil, "-p", m[1], "down", "--volumes", "--yes")
	})
	return m[1]
}

func assertGone(t *testing.T, project string) {
	t.Helper()
	if left := resources(t, project); len(left) > 0 {
		t.Errorf("stack %s left behind: %v", project, left)
	}
}

// lockedBuffer collects a running process's output for polling.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// background is a `devstack run` whose command prints "started" and sleeps.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	project        string
	exited         chan struct{}
}

// spawnRun starts `devstack ARGS -- sh -c 'echo started; exec sleep 120'`.
func spawnRun(t *testing.T, args ...string) *background {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--", "sh", "-c", "echo started; exec sleep 120")...)
	cmd.Dir = t.TempDir()
	// Its own process group: no terminal that go test may run in signals it,
	// and the test can kill devstack and its command together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b := &background{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = b.stdout, b.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
	})
	return b
}

// startRun spawns a run and returns once its command has started.
func startRun(t *testing.T, args ...string) *background {
	t.Helper()
	b := spawnRun(t, args...)
	b.await(t, b.stdout, "started")
	return b
}

// await polls until out holds text, and learns the run's project.
func (b *background) await(t *testing.T, out *lockedBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), text) {
		select {
		case <-b.exited:
			t.Fatalf("devstack run ended before %q: exit %d\n%s", text, b.cmd.ProcessState.ExitCode(), b.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after 3 minutes:\n%s", text, b.stderr)
		}
	}
	if b.project == "" {
		b.project = ownRun(t, b.stderr.String())
	}
}

// wait returns devstack's exit code, or fails after a minute.
func (b *background) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-b.exited:
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		t.Fatalf("devstack run did not end:\n%s", b.stderr)
		return 0
	}
}

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
	var list []emulator.StackInfo
	if err := json.Unmarshal([]byte(ls.stdout), &list); err != nil || ls.code != 0 {
		t.Fatalf("ls -o json: exit %d, %v\n%s%s", ls.code, err, ls.stdout, ls.stderr)
	}
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
	var list []emulator.StackInfo
	if err := json.Unmarshal([]byte(view.devstack(t, "ls", "-o", "json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Project != b.project || !list[0].Ephemeral || list[0].OwnerAlive {
		t.Errorf("ls after SIGKILL: %+v, want %s orphaned", list, b.project)
	}
	if r := view.devstack(t, "prune"); r.code != 0 || r.stdout != b.project+"\n" {
		t.Errorf("prune: exit %d, removed %q\n%s", r.code, r.stdout, r.stderr)
	}
	assertGone(t, b.project)
}

// dockerView is a Docker endpoint that lists only the stacks a test allows:
// every request goes to the real engine, and the lists devstack discovers
// stacks by (containers, networks, volumes) come back filtered.
type dockerView struct {
	host     string
	mu       sync.Mutex
	projects map[string]bool
}

func newDockerView(t *testing.T) *dockerView {
	t.Helper()
	real := emulator.ResolveEndpoint(os.Getenv, os.Getenv("HOME"))
	sock, ok := strings.CutPrefix(real, "unix://")
	if !ok {
		t.Fatalf("the Docker view proxies a local socket, not %s: run these tests against a local engine", real)
	}
	dir, err := os.MkdirTemp("", "dv") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("unix", dir+"/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	v := &dockerView{host: "unix://" + dir + "/docker.sock", projects: map[string]bool{}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
		ModifyResponse: v.filter,
	}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return v
}

func (v *dockerView) allow(project string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.projects[project] = true
}

func (v *dockerView) devstack(t *testing.T, args ...string) result {
	t.Helper()
	return devstack(t, []string{"DOCKER_HOST=" + v.host}, args...)
}

func (v *dockerView) filter(resp *http.Response) error {
	path := resp.Request.URL.Path
	if resp.Request.Method != http.MethodGet || resp.StatusCode != http.StatusOK ||
		!(strings.HasSuffix(path, "/containers/json") || strings.HasSuffix(path, "/networks") || strings.HasSuffix(path, "/volumes")) {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if strings.HasSuffix(path, "/volumes") {
		var vl map[string]json.RawMessage
		if err := json.Unmarshal(body, &vl); err != nil {
			return err
		}
		if vl["Volumes"], err = v.keep(vl["Volumes"]); err != nil {
			return err
		}
		body, err = json.Marshal(vl)
	} else {
		body, err = v.keep(body)
	}
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// keep filters a JSON array of Docker objects to the allowed projects'.
func (v *dockerView) keep(list json.RawMessage) (json.RawMessage, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(list, &items); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	kept := []json.RawMessage{}
	for _, item := range items {
		var o struct{ Labels map[string]string }
		if err := json.Unmarshal(item, &o); err != nil {
			return nil, err
		}
		if v.projects[o.Labels[emulator.LabelProject]] {
			kept = append(kept, item)
		}
	}
	return json.Marshal(kept)
}
