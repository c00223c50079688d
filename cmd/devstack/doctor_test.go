package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

// doctorChecks runs doctor -o json and returns its checks by name, and its
// exit code.
func (s *stack) doctorChecks(env ...string) (map[string]emulator.Check, int) {
	s.t.Helper()
	r := s.runEnv(env, "doctor", "-o", "json")
	var rep emulator.DoctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		s.t.Fatalf("doctor -o json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	checks := map[string]emulator.Check{}
	for _, c := range rep.Checks {
		checks[c.Name] = c
	}
	if len(checks) != 6 || rep.OK != (r.code == 0) {
		s.t.Errorf("doctor: exit %d, report %+v", r.code, rep)
	}
	return checks, r.code
}

func TestDoctor(t *testing.T) {
	t.Parallel()
	s := newStack(t, fmt.Sprintf("DEVSTACK_MYSQL_PORT=%d", freePort(t)), fmt.Sprintf("DEVSTACK_REDIS_PORT=%d", freePort(t)))
	checks, code := s.doctorChecks()
	if code != 0 {
		t.Fatalf("doctor fails on a working engine: %+v", checks)
	}
	if e := checks["engine"].Detail; !strings.Contains(e, "unix://") {
		t.Errorf("engine: %q names no endpoint", e)
	}
	if text := s.mustRun("doctor").stdout; strings.Count(text, "✓") != 6 {
		t.Errorf("doctor's text:\n%s", text)
	}

	// Nothing answers: it fails and names the endpoint.
	r := s.runEnv([]string{"DOCKER_HOST=unix:///nowhere/docker.sock"}, "doctor")
	if r.code != 1 || !strings.Contains(r.stdout, "✗ engine") || !strings.Contains(r.stdout, "unix:///nowhere/docker.sock (DOCKER_HOST)") {
		t.Errorf("doctor without an engine: exit %d\n%s", r.code, r.stdout)
	}

	// A configured port that something else holds is named.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	checks, code = s.doctorChecks(fmt.Sprintf("DEVSTACK_MYSQL_PORT=%d", taken))
	if p := checks["ports"]; code != 1 || p.OK || !strings.Contains(p.Detail, fmt.Sprintf("port %d", taken)) || !strings.Contains(p.Fix, "DEVSTACK_MYSQL_PORT") {
		t.Errorf("a taken port: exit %d, %+v", code, p)
	}

	// The stack's own ports count as free.
	s.mustRun("up")
	if checks, code = s.doctorChecks(); code != 0 || !strings.Contains(checks["ports"].Detail, "held by this stack") {
		t.Errorf("doctor on a running stack: exit %d, %+v", code, checks["ports"])
	}
}

// Images no setting names follow the stack: after an up with the images
// chosen by variables (as make up chooses stand-ins), doctor and a plain up
// in a shell without them check and keep the images the stack runs, and
// doctor says what chose each image.
func TestDoctorChecksTheImagesTheStackRuns(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	unset := []string{"DEVSTACK_MYSQL_IMAGE=", "DEVSTACK_REDIS_IMAGE="}
	checks, _ := s.doctorChecks("DEVSTACK_MYSQL_IMAGE=" + mysqlImage())
	if d := checks["images"].Detail; !strings.Contains(d, "mysql: "+mysqlImage()+", from DEVSTACK_MYSQL_IMAGE") {
		t.Errorf("doctor does not say the variable chose the image: %q", d)
	}
	if checks, _ = s.doctorChecks(unset...); !strings.Contains(checks["images"].Detail, "mysql: mysql:8.0, from the default") {
		t.Errorf("doctor without a stack or a setting: %q", checks["images"].Detail)
	}

	s.mustRun("up")
	checks, code := s.doctorChecks(unset...)
	if d := checks["images"]; code != 0 || !d.OK || !strings.Contains(d.Detail, "mysql: "+mysqlImage()+", from the stack's container, present") {
		t.Errorf("doctor on a stack made with other images: exit %d, %+v", code, d)
	}
	if r := s.runEnv(unset, "up"); r.code != 0 || strings.Contains(r.stderr, "replacing") || strings.Contains(r.stderr, "creating") {
		t.Errorf("up without the image settings touched the stack: exit %d\n%s", r.code, r.stderr)
	}
	if st := s.status(); st.Services[0].Image != mysqlImage() {
		t.Errorf("the stack runs %s, not %s", st.Services[0].Image, mysqlImage())
	}
}

// With DOCKER_HOST unset, the docker CLI's current context decides, here
// one whose socket is the engine's under another path.
func TestStatusFollowsTheDockerContext(t *testing.T) {
	t.Parallel()
	integration(t)
	real, _ := emulator.ResolveEndpoint(os.Getenv, os.Getenv("HOME"))
	sock, ok := strings.CutPrefix(real, "unix://")
	if !ok {
		t.Fatalf("the test links a local socket, not %s", real)
	}
	dir, err := os.MkdirTemp("", "ctx") // short: socket paths are limited
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Symlink(sock, filepath.Join(dir, "engine.sock")))
	dockerConfig := filepath.Join(dir, "config")
	sum := sha256.Sum256([]byte("devstack-test"))
	meta := filepath.Join(dockerConfig, "contexts", "meta", hex.EncodeToString(sum[:]))
	must(t, os.MkdirAll(meta, 0o700))
	must(t, os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"devstack-test","Endpoints":{"docker":{"Host":"unix://`+dir+`/engine.sock"}}}`), 0o600))
	must(t, os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(`{"currentContext":"devstack-test"}`), 0o600))

	env := []string{"DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_CONFIG=" + dockerConfig}
	project := config.EphemeralProject("ctx")
	r := devstack(t, env, "-p", project, "status", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"state": "absent"`) {
		t.Fatalf("status through the context: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = devstack(t, env, "-p", project, "doctor")
	if !strings.Contains(r.stdout, "unix://"+dir+"/engine.sock (context devstack-test)") {
		t.Errorf("doctor does not name the context:\n%s", r.stdout)
	}
}
