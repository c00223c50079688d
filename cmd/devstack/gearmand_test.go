package main

// gearmand, opt-in, with its queue in the stack's Redis as production ran
// it. Checked with Debian's gearman client and worker.

import (
	"bytes"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// gearadmin returns gearmand's admin status lines (function, queued,
// running, workers).
func gearadmin(t *testing.T, host, port string) string {
	t.Helper()
	out, err := exec.Command("gearadmin", "-h", host, "-p", port, "--status").CombinedOutput()
	if err != nil {
		t.Fatalf("gearadmin: %v\n%s", err, out)
	}
	return strings.TrimSuffix(strings.TrimSpace(string(out)), ".")
}

func TestGearmandQueueLivesInRedis(t *testing.T) {
	t.Parallel()
	s := newStack(t, "DEVSTACK_GEARMAND_ENABLED=true", "DEVSTACK_GEARMAND_PORT=0")
	s.mustRun("up")
	st := s.status()
	if len(st.Services) != 3 || st.Services[2].Name != "gearmand" || st.Services[2].State != "running" || st.Services[2].Health != "healthy" || st.State != "running" {
		t.Fatalf("status with gearmand: %+v", st)
	}
	env := s.envMap()
	host, port := env["GEARMAN_HOST"], env["GEARMAN_PORT"]
	server := net.JoinHostPort(host, port)
	for _, k := range []string{"ARCHIVEMATICA_MCPSERVER_MCPSERVER_MCPARCHIVEMATICASERVER", "ARCHIVEMATICA_MCPCLIENT_MCPCLIENT_MCPARCHIVEMATICASERVER", "ARCHIVEMATICA_DASHBOARD_DASHBOARD_GEARMAN_SERVER"} {
		if env[k] != server {
			t.Errorf("%s = %q, want %s", k, env[k], server)
		}
	}
	if net := s.mustRun("env", "--network", "--format", "docker").stdout; !strings.Contains(net, "ARCHIVEMATICA_DASHBOARD_DASHBOARD_GEARMAN_SERVER=gearmand:4730\n") || !strings.Contains(net, "GEARMAN_PORT=4730\n") {
		t.Errorf("--network: %s", net)
	}

	submit := func(payload string) {
		cmd := exec.Command("gearman", "-h", host, "-p", port, "-b", "-f", "devstack_job")
		cmd.Stdin = strings.NewReader(payload)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gearman -b: %v\n%s", err, out)
		}
	}
	redisKeys := func() string {
		out, err := exec.Command("redis-cli", "-h", env["REDIS_HOST"], "-p", env["REDIS_PORT"], "--no-raw", "keys", "*").CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli: %v\n%s", err, out)
		}
		return string(out)
	}
	submit("first job")
	if status := gearadmin(t, host, port); !strings.Contains(status, "devstack_job\t1\t0\t0") {
		t.Errorf("status after a background job: %q", status)
	}
	if keys := redisKeys(); !strings.Contains(keys, "devstack_job") {
		t.Errorf("the job is not in Redis: %s", keys)
	}

	// The queue outlives gearmand: it is replayed from Redis.
	docker(t, "restart", "devstack-"+s.project+"-gearmand")
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("gearadmin", "-h", host, "-p", port, "--status").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("gearmand did not come back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if status := gearadmin(t, host, port); !strings.Contains(status, "devstack_job\t1\t0\t0") {
		t.Errorf("status after a restart of gearmand: %q", status)
	}
	worker := exec.Command("gearman", "-h", host, "-p", port, "-w", "-f", "devstack_job", "-c", "1")
	var out bytes.Buffer
	worker.Stdout = &out
	if err := worker.Run(); err != nil || out.String() != "first job" {
		t.Errorf("the worker got %q (%v)", out.String(), err)
	}

	submit("second job")
	s.mustRun("reset")
	if status := gearadmin(t, host, port); strings.Contains(status, "\t1\t") {
		t.Errorf("a job is queued after reset: %q", status)
	}
	if keys := strings.TrimSpace(redisKeys()); keys != "" && keys != "(empty array)" {
		t.Errorf("Redis after reset: %s", keys)
	}
}

// Off (the default), gearmand changes nothing: no container, the same
// status and env.
func TestGearmandOffChangesNothing(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	if st := s.status(); len(st.Services) != 2 {
		t.Errorf("status without gearmand: %+v", st)
	}
	for k := range s.envMap() {
		if strings.Contains(k, "GEARMAN") || strings.Contains(k, "MCPARCHIVEMATICASERVER") {
			t.Errorf("env without gearmand has %s", k)
		}
	}
	if out := docker(t, "ps", "-a", "--filter", "name=devstack-"+s.project+"-gearmand", "--format", "{{.Names}}"); out != "" {
		t.Errorf("a gearmand container: %s", out)
	}
	// Turned on and off again, it goes.
	s.mustRun("up") // no-op
	if r := s.runEnv([]string{"DEVSTACK_GEARMAND_ENABLED=true", "DEVSTACK_GEARMAND_PORT=0"}, "up"); r.code != 0 {
		t.Fatalf("up with gearmand: exit %d\n%s", r.code, r.stderr)
	}
	s.mustRun("up")
	if out := docker(t, "ps", "-a", "--filter", "name=devstack-"+s.project+"-gearmand", "--format", "{{.Names}}"); out != "" {
		t.Errorf("gearmand stays after it was turned off: %s", out)
	}
}
