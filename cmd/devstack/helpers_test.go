package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"golang.org/x/sys/unix"
)

// Helpers of the integration tests: the devstack binary run against a real
// Docker engine, and views of what Docker holds.

// binary is the devstack command the integration tests run; TestMain builds
// it unless -short.
var binary string

// integration skips a test that needs Docker under -short (make unit).
// Outside -short it runs, and fails without an engine.
func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Docker; runs without -short")
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// stack is one test's project; its commands run with free ports unless the
// test sets them.
type stack struct {
	t       *testing.T
	project string
	env     []string
	dir     string
}

func newStack(t *testing.T, env ...string) *stack {
	t.Helper()
	integration(t)
	s := &stack{t: t, project: config.EphemeralProject("it"), dir: t.TempDir()}
	s.env = append([]string{"DEVSTACK_MYSQL_PORT=0", "DEVSTACK_REDIS_PORT=0"}, env...)
	t.Cleanup(func() {
		s.run("down", "--volumes", "--yes")
		if left := resources(t, s.project); len(left) > 0 {
			t.Errorf("left behind after down --volumes: %v", left)
		}
		// Snapshots outlive their stack: a test's go with it.
		if vs := snapshotVolumes(t, s.project); len(vs) > 0 {
			docker(t, append([]string{"volume", "rm"}, vs...)...)
		}
	})
	return s
}

// envAppend adds settings to the stack's later commands.
func (s *stack) envAppend(env ...string) { s.env = append(s.env, env...) }

func (s *stack) run(args ...string) result {
	s.t.Helper()
	return s.runEnv(nil, args...)
}

func (s *stack) runEnv(extra []string, args ...string) result {
	s.t.Helper()
	return runBinary(s.t, s.dir, slices.Concat(s.env, extra), append([]string{"-p", s.project}, args...)...)
}

// runBinary runs devstack in dir with env added to this process's.
func runBinary(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run devstack %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func (s *stack) mustRun(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.code != 0 {
		s.t.Fatalf("devstack %v: exit %d\nstderr: %s", args, r.code, r.stderr)
	}
	return r
}

func (s *stack) envMap() map[string]string {
	s.t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(s.mustRun("env", "--format", "json").stdout), &m); err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *stack) status() emulator.StatusReport {
	s.t.Helper()
	var r emulator.StatusReport
	out := s.mustRun("status", "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		s.t.Fatalf("status -o json is not JSON: %v\n%s", err, out)
	}
	return r
}

func (s *stack) mysql(db string) *sql.DB {
	s.t.Helper()
	env := s.envMap()
	port, _ := strconv.Atoi(env["MYSQL_PORT"])
	conn := setup.OpenMySQL(env["MYSQL_HOST"], port, env["MYSQL_USER"], env["MYSQL_PASSWORD"], db)
	s.t.Cleanup(func() { conn.Close() })
	return conn
}

// docker runs the docker CLI: tests check state independently of devstack.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	integration(t)
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// resources lists every container, network and volume labelled for project.
func resources(t *testing.T, project string) []string {
	t.Helper()
	f := "label=" + emulator.LabelProject + "=" + project
	var all []string
	for _, args := range [][]string{
		{"ps", "-a", "--filter", f, "--format", "container {{.Names}}"},
		{"network", "ls", "--filter", f, "--format", "network {{.Name}}"},
		{"volume", "ls", "--filter", f, "--format", "volume {{.Name}}"},
	} {
		for _, l := range strings.Split(docker(t, args...), "\n") {
			if l != "" {
				all = append(all, l)
			}
		}
	}
	return all
}

// testImage builds (once per content) an image FROM the MySQL image with one
// more Dockerfile line, for tests that need a broken or odd MySQL.
func testImage(t *testing.T, name, line string) string {
	t.Helper()
	integration(t)
	dockerfile := "FROM " + mysqlImage() + "\n" + line + "\n"
	sum := sha256.Sum256([]byte(dockerfile))
	tag := "devstack-test/" + name + ":" + hex.EncodeToString(sum[:6])
	if exec.Command("docker", "image", "inspect", tag).Run() == nil {
		return tag
	}
	cmd := exec.Command("docker", "build", "-q", "-t", tag, "-")
	cmd.Stdin = strings.NewReader(dockerfile)
	if exec.Command("docker", "buildx", "version").Run() != nil {
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", tag, err, out)
	}
	return tag
}

// crashImage is the MySQL image whose entrypoint and server say boom and
// exit at once, however the container starts them: through the image's
// entrypoint, or directly.
func crashImage(t *testing.T) string {
	t.Helper()
	return testImage(t, "crash", `RUN for b in mariadbd mysqld; do printf '#!/bin/sh\necho boom >&2\nexit 3\n' >/usr/local/bin/$b && chmod 0755 /usr/local/bin/$b; done
ENTRYPOINT ["sh", "-c", "echo boom >&2; exit 3", "crash"]`)
}

func mysqlImage() string {
	if v := os.Getenv("DEVSTACK_MYSQL_IMAGE"); v != "" {
		return v
	}
	return "mysql:8.0"
}

func sameSet(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

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
	integration(t)
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

// dockerView is a Docker endpoint that lists only the stacks a test allows:
// every request goes to the real engine, and the lists devstack discovers
// stacks by (containers, networks, volumes) come back filtered.
type dockerView struct {
	host     string
	mu       sync.Mutex
	projects map[string]bool
	// templates lets the seeded templates (which belong to no project)
	// through.
	templates bool
}

func newDockerView(t *testing.T) *dockerView {
	t.Helper()
	integration(t)
	real, _ := emulator.ResolveEndpoint(os.Getenv, os.Getenv("HOME"))
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
		if v.projects[o.Labels[emulator.LabelProject]] || (v.templates && o.Labels[emulator.LabelTemplate] != "") {
			kept = append(kept, item)
		}
	}
	return json.Marshal(kept)
}

const processingDir = emulator.SharedDir + "/sharedMicroServiceTasksConfigs/processingMCPConfigs"

func (s *stack) root() *sql.DB {
	s.t.Helper()
	env := s.envMap()
	port, _ := strconv.Atoi(env["MYSQL_PORT"])
	db := setup.OpenMySQL(env["MYSQL_HOST"], port, "root", env["MYSQL_ROOT_PASSWORD"], "")
	s.t.Cleanup(func() { db.Close() })
	return db
}

// state is a fingerprint of the stack's data: a checksum of every table of
// MCP and SS, and every path on the shared volume with its content's hash.
func (s *stack) state() map[string]string {
	s.t.Helper()
	db := s.root()
	out := map[string]string{}
	for _, table := range queryStrings(s.t, db, "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables WHERE table_schema IN ('MCP', 'SS')") {
		d, t, _ := strings.Cut(table, ".")
		var name string
		var sum sql.NullInt64
		if err := db.QueryRow(fmt.Sprintf("CHECKSUM TABLE `%s`.`%s`", d, t)).Scan(&name, &sum); err != nil {
			s.t.Fatalf("checksum %s.%s: %v", d, t, err)
		}
		out[table] = fmt.Sprint(sum.Int64)
	}
	listing := s.helper("sh", "-c", "cd "+emulator.SharedDir+" && find . -type f -exec sha256sum {} + ; find . -type d -printf 'dir %p %m %u:%g\\n'")
	for _, l := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			out["file "+f[1]] = strings.Join(append(f[:1:1], f[2:]...), " ")
		}
	}
	return out
}

// helper runs a command in the stack's helper container, which mounts the
// shared volume.
func (s *stack) helper(argv ...string) string {
	s.t.Helper()
	return docker(s.t, append([]string{"exec", "devstack-" + s.project + "-helper"}, argv...)...)
}

func diffState(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: added %q", k, v))
		}
	}
	sort.Strings(d)
	return d
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.String)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func choicePairs(t *testing.T, data string) []string {
	t.Helper()
	var doc struct {
		Choices []struct {
			AppliesTo string `xml:"appliesTo"`
			GoToChain string `xml:"goToChain"`
		} `xml:"preconfiguredChoices>preconfiguredChoice"`
	}
	if err := xml.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range doc.Choices {
		out = append(out, c.AppliesTo+" "+c.GoToChain)
	}
	sort.Strings(out)
	return out
}

// checkDjangoPassword asks Django's own check_password whether hash verifies
// password. Debian's python3-django belongs to /usr/bin/python3, which may
// not be the python3 first on PATH.
func checkDjangoPassword(t *testing.T, password, hash string) bool {
	t.Helper()
	const script = `import sys, django
from django.conf import settings
settings.configure()
django.setup()
from django.contrib.auth.hashers import check_password
print(check_password(sys.argv[1], sys.argv[2]))`
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		out, err := exec.Command(py, "-c", script, password, hash).CombinedOutput()
		if err == nil {
			return strings.TrimSpace(string(out)) == "True"
		}
		if !strings.Contains(string(out), "No module named") && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("%s: %v %s", py, err, out)
		}
	}
	t.Fatal("no python3 with Django: run scripts/test-deps.sh")
	return false
}

// copyFixtures copies the embedded defaults' source files into a directory
// that the test can edit.
func copyFixtures(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("../../fixtures", n))
		if err != nil {
			t.Fatal(err)
		}
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, n), data, 0o644))
	}
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	must(t, err)
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	must(t, os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

// freePort is a port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// composeFile is a file of the repository's compose/ folder.
func composeFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../../compose", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dockerCompose runs `docker compose` (scripts/compose.sh provides it) with
// env added to this process's.
func dockerCompose(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"compose"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// composeStack is a stack the test made with compose/docker-compose.yml,
// as project newStack would pick, with fixed free ports; down removes it.
func composeStack(t *testing.T) *stack {
	t.Helper()
	s := newStack(t)
	s.env = []string{"DEVSTACK_PROJECT=" + s.project, fmt.Sprintf("DEVSTACK_MYSQL_PORT=%d", freePort(t)), fmt.Sprintf("DEVSTACK_REDIS_PORT=%d", freePort(t))}
	if out, err := dockerCompose(t, s.env, "-f", composeFile(t, "docker-compose.yml"), "up", "--wait"); err != nil {
		t.Fatalf("docker compose up --wait: %v\n%s", err, out)
	}
	return s
}

// started identifies each of a project's containers and when it started.
func started(t *testing.T, project string) string {
	t.Helper()
	ids := docker(t, "ps", "-a", "-q", "--no-trunc", "--filter", "label="+emulator.LabelProject+"="+project)
	return docker(t, append([]string{"inspect", "-f", "{{.Name}} {{.Id}} {{.State.StartedAt}}"}, strings.Fields(ids)...)...)
}

// treeListing describes a local tree: each path with its type, mode, and
// content or link target.
func treeListing(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			sum := sha256.Sum256(data)
			line += " " + hex.EncodeToString(sum[:8])
		}
		lines = append(lines, line)
		return nil
	})
	must(t, err)
	return strings.Join(lines, "\n")
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden checks that out is exactly one JSON document and that, with the
// values that vary between runs replaced by placeholders, it is
// testdata/<name>.json. subst maps values (project names, passwords, ports
// inside strings) to placeholders; the values of the keys in volatile are
// replaced by their type ("<number>", "<string>", ...).
func golden(t *testing.T, name, out string, subst map[string]string, volatile ...string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: stdout is not JSON: %v\n%s", name, err, out)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
		t.Fatalf("%s: more than one JSON document on stdout:\n%s", name, out)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(normalise(doc, subst, volatile)))
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".json")
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -args -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func normalise(v any, subst map[string]string, volatile []string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if slices.Contains(volatile, k) && e != nil {
				x[k] = placeholder(e)
			} else {
				x[k] = normalise(e, subst, volatile)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = normalise(e, subst, volatile)
		}
	case string:
		for value, p := range subst {
			x = strings.ReplaceAll(x, value, p)
		}
		return x
	}
	return v
}

func placeholder(v any) string {
	switch v.(type) {
	case float64:
		return "<number>"
	case bool:
		return "<bool>"
	case []any:
		return "<list>"
	case map[string]any:
		return "<object>"
	}
	return "<string>"
}

// mustMarshal is json.Marshal for values that always marshal.
func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

// screen is what a terminal shows after out: it follows the carriage
// return, erase-line and cursor-up sequences progress writes, and drops
// colours.
func screen(out string) []string {
	var lines []string
	row := 0
	color := regexp.MustCompile(`^\x1b\[[0-9;]*m`)
	up := regexp.MustCompile(`^\x1b\[([0-9]+)A`)
	for i := 0; i < len(out); {
		rest := out[i:]
		for row >= len(lines) {
			lines = append(lines, "")
		}
		switch {
		case strings.HasPrefix(rest, "\x1b[2K"):
			lines[row] = ""
			i += 4
		case up.MatchString(rest):
			m := up.FindStringSubmatch(rest)
			n, _ := strconv.Atoi(m[1])
			row = max(row-n, 0)
			i += len(m[0])
		case color.MatchString(rest):
			i += len(color.FindString(rest))
		case rest[0] == '\r':
			i++
		case rest[0] == '\n':
			row++
			i++
		default:
			lines[row] += rest[:1]
			i++
		}
	}
	return slices.DeleteFunc(lines, func(l string) bool { return l == "" })
}

// pty opens a pseudo-terminal and returns its terminal end.
func pty(t *testing.T) *os.File {
	t.Helper()
	_, tty := ptyPair(t)
	return tty
}

// ptyPair opens a pseudo-terminal: what a terminal emulator holds (master)
// and what a program runs on (tty).
func ptyPair(t *testing.T) (master, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	must(t, unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	must(t, err)
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR, 0)
	must(t, err)
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// snapshotVolumes lists the volumes of the project's snapshots.
func snapshotVolumes(t *testing.T, project string) []string {
	t.Helper()
	return strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label="+emulator.LabelSnapshotOf+"="+project))
}

// redisDump is every key of the stack's Redis with its serialised value.
func (s *stack) redisDump() map[string]string {
	s.t.Helper()
	env := s.envMap()
	port, _ := strconv.Atoi(env["REDIS_PORT"])
	rdb := setup.OpenRedis(env["REDIS_HOST"], port, env["REDIS_PASSWORD"])
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	must(s.t, err)
	out := map[string]string{}
	for _, k := range keys {
		v, err := rdb.Dump(ctx, k).Result()
		must(s.t, err)
		out[k] = v
	}
	return out
}

// scribble writes what a workflow leaves, marked: app rows (replacing
// earlier ones), a changed seeded row, Redis keys of several kinds, and files
// and a folder in the shared directory (replacing earlier ones). mark is a
// plain word.
func (s *stack) scribble(mark string) {
	s.t.Helper()
	db := s.root()
	for _, q := range []string{
		"DELETE FROM MCP.Accesses",
		"INSERT INTO MCP.Accesses (SIPUUID, resource, target, status, createdTime, updatedTime) SELECT UUID(), ?, 't', 's', NOW(), NOW() FROM information_schema.tables LIMIT 50",
		"UPDATE MCP.auth_user SET email = CONCAT(?, '@example.org') WHERE username = 'admin'",
	} {
		args := []any{mark}
		if !strings.Contains(q, "?") {
			args = nil
		}
		if _, err := db.Exec(q, args...); err != nil {
			s.t.Fatalf("%s: %v", q, err)
		}
	}
	env := s.envMap()
	port, _ := strconv.Atoi(env["REDIS_PORT"])
	rdb := setup.OpenRedis(env["REDIS_HOST"], port, env["REDIS_PASSWORD"])
	defer rdb.Close()
	ctx := context.Background()
	must(s.t, rdb.Set(ctx, "state", mark, 0).Err())
	must(s.t, rdb.Set(ctx, "only:"+mark, "1", 0).Err())
	must(s.t, rdb.HSet(ctx, "job", "step", mark).Err())
	must(s.t, rdb.RPush(ctx, "queue", mark).Err())
	dir := emulator.SharedDir + "/currentlyProcessing"
	s.helper("sh", "-c", "rm -rf "+dir+"/transfer-* && mkdir -p "+dir+"/transfer-"+mark+" && echo "+mark+" >"+dir+"/transfer-"+mark+"/a.txt && echo "+mark+" >"+dir+"/state.txt && chown -R 1000:1000 "+dir)
}
