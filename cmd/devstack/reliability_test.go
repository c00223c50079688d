package main

// Integration tests of the faults a laptop puts a stack through: a crashing
// service, a volume a wrong image left, a removed network, hostile values.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
)

// A MySQL image whose server exits at once: up reports the crash and
// its log line within 30 s, on a new stack (where the crash comes in making
// the seeded template) and on one that ran; the crashed container is then
// stopped, not left restarting, and status says so, and why.
func TestCrashingServiceIsReportedAtOnce(t *testing.T) {
	t.Parallel()
	crash := crashImage(t)
	for _, existing := range []bool{false, true} {
		s := newStack(t)
		if existing {
			s.mustRun("up")
			if _, err := s.mysql("MCP").Exec("CREATE TABLE notes (id INT PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.mysql("MCP").Exec("INSERT INTO notes VALUES (1)"); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Now()
		r := s.runEnv([]string{"DEVSTACK_MYSQL_IMAGE=" + crash}, "up")
		if took := time.Since(t0); r.code != 1 || took > 30*time.Second || !strings.Contains(r.stderr, "boom") || !strings.Contains(r.stderr, "devstack-") {
			t.Fatalf("up with a crashing MySQL (stack existed: %v): exit %d after %s, want 1 within 30 s naming the container and its log\n%s", existing, r.code, took.Round(time.Second), r.stderr)
		}
		if !existing {
			// A first up that fails removes what it made, and says why.
			if left := resources(t, s.project); !slices.Equal(left, []string{"volume devstack-" + s.project + "-failed"}) {
				t.Errorf("a failed first up left %v, want only the record of why", left)
			}
			st := s.status()
			if st.State != emulator.StateAbsent || !strings.HasPrefix(st.Reason, "the last up failed: mysql: making the seeded template") || !strings.Contains(st.Reason, "boom") {
				t.Errorf("status after a failed first up: %+v", st)
			}
			continue
		}
		s.envAppend("DEVSTACK_MYSQL_IMAGE=" + crash)
		checkStoppedAfterFailure(t, s)
		// An up on an existing stack that fails keeps its data.
		s.envAppend("DEVSTACK_MYSQL_IMAGE=" + mysqlImage())
		s.mustRun("up")
		var n int
		if err := s.mysql("MCP").QueryRow("SELECT COUNT(*) FROM notes").Scan(&n); err != nil || n != 1 {
			t.Errorf("after a failed up and a good one, the app user's table has %d rows (%v)", n, err)
		}
	}
}

// checkStoppedAfterFailure: a container that failed an up is stopped, its data
// kept, rather than left crash-looping under its restart policy once devstack
// has exited; status says partial, and why.
func checkStoppedAfterFailure(t *testing.T, s *stack) {
	t.Helper()
	time.Sleep(3 * time.Second) // long enough for a restart policy to show
	st := s.status()
	if st.Services[0].State != emulator.ServiceExited || st.State != emulator.StatePartial || !strings.Contains(st.Reason, "boom") {
		t.Fatalf("status after an up whose MySQL crashed: %+v, want mysql exited, the stack partial, and why", st)
	}
	if got := docker(t, "inspect", "-f", "{{.State.Status}}", "devstack-"+s.project+"-mysql"); got != "exited" {
		t.Fatalf("the crashing container after the failed up is %s, want exited", got)
	}
}

// An image that ships a data directory cannot fill a new data volume (every
// mount has no-copy): the volume is initialised as the stack's, and a later
// up with another image finds it right.
func TestImageFilesNeverFillTheDataVolume(t *testing.T) {
	t.Parallel()
	shipsData := testImage(t, "ships-data", `RUN mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null`)
	s := newStack(t, "DEVSTACK_MYSQL_IMAGE="+shipsData)
	s.mustRun("up")
	r := s.runEnv([]string{"DEVSTACK_MYSQL_IMAGE=" + mysqlImage()}, "up")
	if r.code != 0 {
		t.Fatalf("up with the right image after one that ships data: exit %d\n%s", r.code, r.stderr)
	}
}

// foreignVolume makes the stack's MySQL data volume, labelled as devstack
// labels it, but initialised by somebody else, with extra databases.
func foreignVolume(t *testing.T, s *stack, databases ...string) {
	t.Helper()
	vol := "devstack-" + s.project + "-mysql-data"
	docker(t, "volume", "create", "--label", emulator.LabelProject+"="+s.project, "--label", emulator.LabelService+"=mysql", vol)
	script := "mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null"
	for _, db := range databases {
		script += " && mkdir /var/lib/mysql/" + db
	}
	docker(t, "run", "--rm", "--entrypoint", "sh", "-v", vol+":/var/lib/mysql", mysqlImage(), "-c", script)
}

// A labelled volume that was never set up (no devstack marker, no database
// but the system ones) is initialised again; one with data is never deleted:
// up says how to purge it and exits 2, without retrying until a timeout.
func TestVolumeWithOtherCredentials(t *testing.T) {
	t.Parallel()
	if !strings.Contains(docker(t, "run", "--rm", "--entrypoint", "sh", mysqlImage(), "-c", "command -v mariadb-install-db || true"), "mariadb-install-db") {
		t.Skip("the MySQL image is not the MariaDB stand-in: cannot make a foreign data directory")
	}
	blank := newStack(t)
	foreignVolume(t, blank)
	if r := blank.run("up"); r.code != 0 || !strings.Contains(r.stderr, "initialising it again") {
		t.Fatalf("up on a never set up volume: exit %d\n%s", r.code, r.stderr)
	}
	blank.mustRun("up") // the passwords are pinned now

	used := newStack(t)
	foreignVolume(t, used, "payroll")
	t0 := time.Now()
	r := used.run("up")
	if r.code != 2 || time.Since(t0) > time.Minute || !strings.Contains(r.stderr, "payroll") || !strings.Contains(r.stderr, "down -p "+used.project+" --volumes --yes") {
		t.Fatalf("up on a volume with data: exit %d after %s\n%s", r.code, time.Since(t0).Round(time.Second), r.stderr)
	}
	if out := docker(t, "run", "--rm", "--entrypoint", "ls", "-v", "devstack-"+used.project+"-mysql-data:/d", mysqlImage(), "/d"); !strings.Contains(out, "payroll") {
		t.Fatalf("the volume's data is gone: %s", out)
	}
}

// Containers whose network was removed are made again on the new one, data
// intact.
func TestUpRecoversFromARemovedNetwork(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	if _, err := s.mysql("MCP").Exec("CREATE TABLE kept (id INT)"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"mysql", "redis", "helper"} {
		docker(t, "stop", "devstack-"+s.project+"-"+c)
	}
	docker(t, "network", "rm", "devstack-"+s.project)
	if r := s.run("up"); r.code != 0 {
		t.Fatalf("up after the network was removed: exit %d\n%s", r.code, r.stderr)
	}
	var n int
	if err := s.mysql("MCP").QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'MCP' AND table_name = 'kept'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("data after the network came back: %d, %v", n, err)
	}
}

// Nothing a stack runs is published beyond 127.0.0.1: not the helper's
// image-declared port, not anything else.
func TestEveryPublishedPortIsLoopback(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	for _, name := range strings.Fields(docker(t, "ps", "--filter", "label="+emulator.LabelProject+"="+s.project, "--format", "{{.Names}}")) {
		var ports map[string][]struct{ HostIp, HostPort string }
		if err := json.Unmarshal([]byte(docker(t, "inspect", "-f", "{{json .NetworkSettings.Ports}}", name)), &ports); err != nil {
			t.Fatal(err)
		}
		for port, bindings := range ports {
			for _, b := range bindings {
				if b.HostIp != "127.0.0.1" {
					t.Errorf("%s publishes %s on %s:%s", name, port, b.HostIp, b.HostPort)
				}
			}
			if strings.HasSuffix(name, "-helper") && len(bindings) > 0 {
				t.Errorf("the helper publishes %s", port)
			}
		}
	}
}

// Passwords with the characters env files and shells care about reach every
// consumer intact: docker run --env-file, a dotenv library, eval, JSON.
func TestEnvFormatsRoundTripHostilePasswords(t *testing.T) {
	t.Parallel()
	app := `a!b#c$d'e"f` + "`g`h"
	redisPW := `r$1#2!'"` + "`x`"
	s := newStack(t, "DEVSTACK_MYSQL_PASSWORD="+app, "DEVSTACK_REDIS_PASSWORD="+redisPW)
	s.mustRun("up")
	dir := t.TempDir()
	write := func(name string, args ...string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(s.mustRun(args...).stdout), 0o600))
		return p
	}
	// docker: a client on the stack's network connects with what it got.
	dockerFile := write("docker.env", "env", "--network", "--format", "docker")
	out := docker(t, "run", "--rm", "--network", "devstack-"+s.project, "--env-file", dockerFile, "--entrypoint", "sh", mysqlImage(), "-c",
		`printf '%s\n' "$MYSQL_PASSWORD" && mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e 'SELECT 42' MCP`)
	if lines := strings.Split(out, "\n"); len(lines) < 2 || lines[0] != app || !slices.Contains(lines, "42") {
		t.Errorf("docker --env-file: %q", out)
	}
	// dotenv: python-dotenv reads back every value.
	dotFile := write("dot.env", "env", "--format", "dotenv")
	py := exec.Command("/usr/bin/python3", "-c", `import json, sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))`, dotFile)
	pyOut, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("python-dotenv: %v\n%s", err, pyOut)
	}
	var dot map[string]string
	must(t, json.Unmarshal(pyOut, &dot))
	env := s.envMap()
	for k, v := range env {
		if dot[k] != v {
			t.Errorf("dotenv %s: %q, want %q", k, dot[k], v)
		}
	}
	if env["MYSQL_PASSWORD"] != app || env["REDIS_PASSWORD"] != redisPW {
		t.Errorf("json: %q, %q", env["MYSQL_PASSWORD"], env["REDIS_PASSWORD"])
	}
	// shell: eval, then real clients. REDIS_URL percent-encodes the
	// password, which redis-py decodes (redis-cli 7.0 does not: it gets
	// REDISCLI_AUTH).
	shFile := write("sh.env", "env", "--format", "shell")
	sh := exec.Command("bash", "-c", `eval "$(cat "$1")" &&
		REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping &&
		/usr/bin/python3 -c 'import os, redis; print(redis.from_url(os.environ["REDIS_URL"]).ping())' &&
		mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e 'SELECT 7' MCP`, "sh", shFile)
	if out, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(out), "PONG") || !strings.Contains(string(out), "True") || !strings.HasSuffix(strings.TrimSpace(string(out)), "7") {
		t.Errorf("shell: %v\n%s", err, out)
	}
}

// env prints what the running containers use, and says on stderr when the
// config has changed a password that only the next up applies.
func TestEnvNotesAPendingPasswordChange(t *testing.T) {
	t.Parallel()
	s := newStack(t, "DEVSTACK_MYSQL_PASSWORD=first")
	s.mustRun("up")
	r := s.runEnv([]string{"DEVSTACK_MYSQL_PASSWORD=second"}, "env", "--format", "json")
	var env map[string]string
	must(t, json.Unmarshal([]byte(r.stdout), &env))
	if r.code != 0 || env["MYSQL_PASSWORD"] != "first" || !strings.Contains(r.stderr, "mysql.password") || !strings.Contains(r.stderr, "devstack up") {
		t.Errorf("env with a pending change: exit %d, password %q\n%s", r.code, env["MYSQL_PASSWORD"], r.stderr)
	}
	if r := s.run("env"); strings.Contains(r.stderr, "devstack up") {
		t.Errorf("a note without a pending change: %s", r.stderr)
	}
}

// A missing helper makes the stack partial, and seed says to run up.
func TestMissingHelperMakesTheStackPartial(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	docker(t, "rm", "-f", "devstack-"+s.project+"-helper")
	if st := s.status(); st.State != emulator.StatePartial || len(st.Services) != 2 {
		t.Errorf("status without the helper: %+v", st)
	}
	if r := s.run("seed"); r.code != 1 || !strings.Contains(r.stderr, "devstack up") {
		t.Errorf("seed without the helper: exit %d\n%s", r.code, r.stderr)
	}
	s.mustRun("up")
	if st := s.status(); st.State != emulator.StateRunning {
		t.Errorf("after up: %s", st.State)
	}
}

// A stack whose containers all run is not running when its last up failed
// or a service does not answer as devstack set it up: status says partial,
// and why, until an up succeeds.
func TestStatusAfterAFailedUp(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	env := s.envMap()
	asRoot := func(password, statement string) {
		t.Helper()
		docker(t, "exec", "-e", "MYSQL_PWD="+password, "devstack-"+s.project+"-mysql", "mysql", "-uroot", "-h127.0.0.1", "-e", statement)
	}
	asRoot(env["MYSQL_ROOT_PASSWORD"], "ALTER USER 'archivematica'@'%' IDENTIFIED BY 'changed-by-hand'")
	st := s.status()
	if st.State != emulator.StatePartial || !strings.Contains(st.Reason, "mysql does not answer") || st.Services[0].Health == "healthy" {
		t.Errorf("status with the app user refused: %+v", st)
	}

	// Root's password changed behind devstack's back: up fails on the
	// running stack, and says so until an up succeeds.
	asRoot(env["MYSQL_ROOT_PASSWORD"], "ALTER USER 'root'@'%' IDENTIFIED BY 'changed-by-hand'")
	r := s.run("up")
	if r.code == 0 {
		t.Fatalf("up with root's password changed by hand succeeded:\n%s", r.stderr)
	}
	st = s.status()
	if st.State != emulator.StatePartial || !strings.HasPrefix(st.Reason, "the last up failed: ") || !strings.Contains(st.Reason, "root password") {
		t.Errorf("status after a failed up: %+v", st)
	}
	if out := s.mustRun("status").stdout; !strings.Contains(out, "partial\nwhy: the last up failed: ") {
		t.Errorf("status for people after a failed up:\n%s", out)
	}
	if ls := s.mustRun("ls").stdout; !regexp.MustCompile(`(?m)^` + s.project + `\s+partial`).MatchString(ls) {
		t.Errorf("ls after a failed up:\n%s", ls)
	}

	asRoot("changed-by-hand", "ALTER USER 'root'@'%' IDENTIFIED BY '"+env["MYSQL_ROOT_PASSWORD"]+"'")
	s.mustRun("up")
	if st := s.status(); st.State != emulator.StateRunning || st.Reason != "" {
		t.Errorf("status after an up that succeeded: %+v", st)
	}
	if left := docker(t, "volume", "ls", "-q", "--filter", "name=devstack-"+s.project+"-failed"); left != "" {
		t.Errorf("the record of the failed up outlived an up that succeeded: %s", left)
	}
}

// An unreachable DEVSTACK_HOST is final at once; a name that does not
// resolve is refused before anything is made.
func TestUnreachableHost(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	if r := s.runEnv([]string{"DEVSTACK_HOST=no-such-host.invalid"}, "up"); r.code != 2 || !strings.Contains(r.stderr, "DEVSTACK_HOST") {
		t.Errorf("unresolvable host: exit %d\n%s", r.code, r.stderr)
	}
	if left := resources(t, s.project); len(left) > 0 {
		t.Errorf("a refused host left %v", left)
	}
	t0 := time.Now()
	// ::2 is an IPv6 address nothing routes to.
	r := s.runEnv([]string{"DEVSTACK_HOST=::2"}, "up")
	// Final at the first dial, not after readiness's three minutes: the
	// bound leaves room for a loaded machine's template copy.
	if took := time.Since(t0); r.code != 1 || took > 30*time.Second || !strings.Contains(r.stderr, "cannot reach") {
		t.Errorf("unreachable host: exit %d after %s\n%s", r.code, took.Round(time.Second), r.stderr)
	}
	libraryLog := regexp.MustCompile(`^(\[mysql\]|redis:) \d{4}/\d\d/\d\d`)
	for _, line := range strings.Split(r.stderr, "\n") {
		if libraryLog.MatchString(line) {
			t.Errorf("a client library's log reached the output: %s", line)
		}
	}
}

// A schema that the server refuses, on a new stack, leaves nothing behind.
func TestRefusedSchemaOnANewStackLeavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "schema"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "schema", "MCP.sql"), []byte("CREATE TABLE IF NOT EXISTS `broken` (`id` int NOT NULL, FOREIGN KEY (`id`) REFERENCES `nowhere` (`id`)) ENGINE=InnoDB;\n"), 0o644))
	s := newStack(t, "DEVSTACK_FIXTURES="+dir)
	if r := s.run("up"); r.code != 2 || !strings.Contains(r.stderr, "broken") {
		t.Fatalf("up with a refused schema: exit %d\n%s", r.code, r.stderr)
	}
	if left := resources(t, s.project); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// users add refuses an empty password and text that is not UTF-8, with exit
// 2 and before it looks for a stack.
func TestUsersAddRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, args := range [][]string{
		{"users", "add", "--username", "bob", "--email", "bob@example.org", "--password", ""},
		{"users", "add", "--username", "b\xffb", "--email", "bob@example.org"},
		{"users", "add", "--username", "bob", "--email", "bob@example.org", "--password", "p\xfe"},
	} {
		if r := s.run(args...); r.code != 2 {
			t.Errorf("%q: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	cmd := exec.Command(binary, "-p", s.project, "users", "add", "--username", "bob", "--email", "bob@example.org", "--password-stdin")
	cmd.Stdin = strings.NewReader("\n")
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("an empty line on stdin: %v", err)
	}
}

// reset during an up of the same project waits for the up, then works.
func TestResetWaitsForARunningUp(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	up := exec.Command(binary, "-p", s.project, "up")
	up.Env = append(os.Environ(), s.env...)
	var upErr lockedBuffer
	up.Stderr = &upErr
	must(t, up.Start())
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(upErr.String(), "creating") {
		if time.Now().After(deadline) {
			t.Fatalf("up never started: %s", upErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := s.run("reset")
	if err := up.Wait(); err != nil {
		t.Fatalf("up: %v\n%s", err, upErr.String())
	}
	if r.code != 0 {
		t.Errorf("reset during up: exit %d\n%s", r.code, r.stderr)
	}
}

// Oracle's mysql client and MariaDB's each connect with nothing but what env
// prints, on either flavour: Oracle's from a container on the stack's
// network (the Oracle MySQL image carries it), MariaDB's from this machine.
func TestMySQLClientsConnectWithEnvAlone(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	oracle := os.Getenv("DEVSTACK_MYSQL_ORACLE_IMAGE")
	if oracle == "" {
		oracle = "mysql:8.0" // the official image is Oracle's
	}
	f := filepath.Join(t.TempDir(), "env")
	must(t, os.WriteFile(f, []byte(s.mustRun("env", "--network", "--format", "docker").stdout), 0o600))
	query := `mysql -h"$MYSQL_HOST" -P"$MYSQL_PORT" -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e 'SELECT CONCAT(VERSION(), " ", DATABASE())' MCP`
	out := docker(t, "run", "--rm", "--network", "devstack-"+s.project, "--env-file", f, "--entrypoint", "sh", oracle, "-c",
		"mysql --version && "+query)
	if !strings.Contains(out, "MCP") {
		t.Errorf("Oracle's client with env alone:\n%s", out)
	}
	sh := filepath.Join(t.TempDir(), "env.sh")
	must(t, os.WriteFile(sh, []byte(s.mustRun("env", "--format", "shell").stdout), 0o600))
	host := exec.Command("bash", "-c", `. "$1" && mysql --version && `+query, "sh", sh)
	if out, err := host.CombinedOutput(); err != nil || !strings.Contains(string(out), "MCP") || !strings.Contains(string(out), "MariaDB") {
		t.Errorf("MariaDB's client with env alone: %v\n%s", err, out)
	}
}
