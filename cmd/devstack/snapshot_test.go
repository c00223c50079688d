package main

// Snapshots: save, restore, export and import against real Docker.

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
)

// upForSnapshots is a new stack, up, whose snapshots go when the test ends:
// they outlive the stack.
func upForSnapshots(t *testing.T, env ...string) *stack {
	t.Helper()
	s := newStack(t, env...)
	s.mustRun("up")
	return s
}

// saveMarked writes data marked with mark, saves it as snapshot mark, and
// returns what was saved.
func (s *stack) saveMarked(mark string) saved {
	s.t.Helper()
	s.scribble(mark)
	want := s.saved()
	s.mustRun("snapshot", "save", mark)
	return want
}

// saved is a stack's data and connection values, to compare after a
// restore.
type saved struct {
	state map[string]string
	keys  map[string]string
	env   map[string]string
}

func (s *stack) saved() saved { return saved{s.state(), s.redisDump(), s.envMap()} }

// sameData fails the test where the stack's data differs from want's.
func (s *stack) sameData(want saved, what string) {
	s.t.Helper()
	if d := diffState(want.state, s.state()); len(d) > 0 {
		s.t.Errorf("%s: tables and files differ from the snapshot's: %v", what, d)
	}
	if keys := s.redisDump(); !maps.Equal(keys, want.keys) {
		s.t.Errorf("%s: Redis holds keys %v, the snapshot %v", what, slices.Sorted(maps.Keys(keys)), slices.Sorted(maps.Keys(want.keys)))
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	s := upForSnapshots(t)
	s.scribble("one")
	want := s.saved()

	r := s.mustRun("snapshot", "save", "step-30", "-o", "json")
	var rep emulator.SaveReport
	must(t, json.Unmarshal([]byte(r.stdout), &rep))
	if rep.Snapshot.Name != "step-30" || rep.Snapshot.Project != s.project || !rep.Snapshot.Complete || len(rep.Foreign) != 0 {
		t.Errorf("save reported %+v", rep)
	}
	// Save stops nothing for good and changes no data.
	if st := s.status(); st.State != emulator.StateRunning {
		t.Errorf("after save the stack is %s", st.State)
	}
	s.sameData(want, "after save")

	// What the snapshot's volumes say about it.
	var version string
	must(t, s.root().QueryRow("SELECT VERSION()").Scan(&version))
	flavour, series := "mysql", strings.Join(strings.SplitN(version, ".", 3)[:2], ".")
	if strings.Contains(strings.ToLower(version), "mariadb") {
		flavour = "mariadb"
	}
	vols := snapshotVolumes(t, s.project)
	if len(vols) != 4 {
		t.Fatalf("snapshot volumes: %v", vols)
	}
	for _, v := range vols {
		var labels map[string]string
		must(t, json.Unmarshal([]byte(docker(t, "volume", "inspect", "-f", "{{json .Labels}}", v)), &labels))
		if _, ok := labels[emulator.LabelProject]; ok || labels[emulator.LabelSnapshot] != "step-30" || labels[emulator.LabelSnapshotOf] != s.project {
			t.Errorf("%s: labels %v", v, labels)
		}
		if strings.HasSuffix(v, "-record") && (labels["io.devstack.snapshot-flavour"] != flavour || labels["io.devstack.snapshot-mysql-version"] != series ||
			labels["io.devstack.snapshot-schema"] == "" || labels["io.devstack.snapshot-devstack-version"] == "") {
			t.Errorf("%s: server %s, labels %v", v, version, labels)
		}
	}
	if r := s.run("snapshot", "save", "step-30"); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("save over an existing name: exit %d, %s", r.code, r.stderr)
	}

	s.scribble("two")
	if d := diffState(want.state, s.state()); len(d) == 0 {
		t.Fatal("scribbling changed no table or file")
	}
	// Off a terminal, restore needs --yes and changes nothing without it.
	if r := s.run("snapshot", "restore", "step-30"); r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("restore without --yes: exit %d, %s", r.code, r.stderr)
	}
	// A template copy that a killed up left says that the data volume is
	// still to be filled from a template: not once a restore has filled it.
	docker(t, "create", "--name", "devstack-"+s.project+"-copy", "--label", emulator.LabelProject+"="+s.project, mysqlImage())
	s.mustRun("snapshot", "restore", "step-30", "--yes")
	s.sameData(want, "after restore")
	if env := s.envMap(); !maps.Equal(env, want.env) {
		t.Errorf("restore changed the connection values:\n%v\nwant\n%v", env, want.env)
	}
	if st := s.status(); st.State != emulator.StateRunning {
		t.Errorf("after restore the stack is %s", st.State)
	}

	var ls struct{ Snapshots []emulator.SnapshotInfo }
	must(t, json.Unmarshal([]byte(s.mustRun("snapshot", "ls", "-o", "json").stdout), &ls))
	if len(ls.Snapshots) != 1 || ls.Snapshots[0].Name != "step-30" || ls.Snapshots[0].Flavour != flavour || ls.Snapshots[0].MySQLVersion != series || ls.Snapshots[0].SizeBytes <= 0 {
		t.Errorf("snapshot ls: %+v", ls.Snapshots)
	}
	if got := complete(t, "-p", s.project, "snapshot", "restore", ""); !slices.Contains(got, "step-30") {
		t.Errorf("completing a snapshot name: %v", got)
	}
}

func TestSnapshotExportImport(t *testing.T) {
	t.Parallel()
	a := upForSnapshots(t)
	a.scribble("bug")
	a.mustRun("snapshot", "save", "bug")
	file := filepath.Join(t.TempDir(), "bug.tar.gz")
	line := strings.Fields(a.mustRun("snapshot", "export", "bug", file).stdout)
	data, err := os.ReadFile(file)
	must(t, err)
	sum := sha256.Sum256(data)
	if len(line) != 2 || line[0] != hex.EncodeToString(sum[:]) || line[1] != file {
		t.Errorf("export printed %v, the file's sha256 is %x", line, sum)
	}
	if _, err := os.Stat(file + ".partial"); err == nil {
		t.Error("export left its temporary file")
	}
	// - writes the same archive to stdout.
	stdout := filepath.Join(t.TempDir(), "stdout.tar.gz")
	must(t, os.WriteFile(stdout, []byte(a.mustRun("snapshot", "export", "bug", "-").stdout), 0o600))

	b := newStack(t)
	b.mustRun("snapshot", "import", stdout)
	b.mustRun("snapshot", "restore", "bug", "--yes")
	want := a.saved()
	b.sameData(want, "imported into a fresh project")
	env := b.envMap()
	for _, k := range []string{"MYSQL_PORT", "REDIS_PORT", "MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"} {
		if env[k] == want.env[k] {
			t.Errorf("the imported stack shares %s with the one it came from", k)
		}
	}

	// A damaged file is refused and changes nothing: not the stack, not the
	// snapshots.
	before, snaps := b.state(), snapshotVolumes(t, b.project)
	for name, damaged := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"corrupted": corrupt(data, len(data)/3),
		"no CRC":    data[:len(data)-4],
	} {
		path := filepath.Join(t.TempDir(), name+".tar.gz")
		must(t, os.WriteFile(path, damaged, 0o600))
		r := b.run("snapshot", "import", path, "damaged")
		if r.code != 2 || !strings.Contains(r.stderr, "nothing was imported") {
			t.Errorf("%s: exit %d, %s", name, r.code, r.stderr)
		}
	}
	if d := diffState(before, b.state()); len(d) > 0 {
		t.Errorf("refused imports changed %v", d)
	}
	if after := snapshotVolumes(t, b.project); !sameSet(strings.Join(after, " "), strings.Join(snaps, " ")) {
		t.Errorf("refused imports left volumes: %v, before %v", after, snaps)
	}
	if left := docker(t, "ps", "-aq", "--filter", "name=devstack-"+b.project+"-copy"); left != "" {
		t.Errorf("refused imports left their container")
	}
}

func corrupt(data []byte, at int) []byte {
	out := append([]byte(nil), data...)
	for i := at; i < at+16 && i < len(out); i++ {
		out[i] ^= 0x5a
	}
	return out
}

func TestSnapshotRestoreAcrossFlavoursRefused(t *testing.T) {
	t.Parallel()
	s := upForSnapshots(t)
	var version string
	must(t, s.root().QueryRow("SELECT VERSION()").Scan(&version))
	// A snapshot of the other flavour, complete but for its data.
	other, series, says := "mariadb", "10.11", "MariaDB 10.11"
	if strings.Contains(strings.ToLower(version), "mariadb") {
		other, series, says = "mysql", "8.0", "MySQL 8.0"
	}
	prefix := "devstack-snapshot-" + s.project + ".other-"
	for part, suffix := range map[string]string{"mysql": "mysql-data", "redis": "redis-data", "shared": "shared", "snapshot": "record"} {
		args := []string{"volume", "create", "--label", emulator.LabelSnapshot + "=other", "--label", emulator.LabelSnapshotOf + "=" + s.project,
			"--label", emulator.LabelService + "=" + part}
		if part == "snapshot" {
			args = append(args, "--label", "io.devstack.snapshot-flavour="+other, "--label", "io.devstack.snapshot-mysql-version="+series,
				"--label", "io.devstack.created="+time.Now().UTC().Format(time.RFC3339))
		}
		docker(t, append(args, prefix+suffix)...)
	}
	before := s.state()
	r := s.run("snapshot", "restore", "other", "--yes")
	if r.code != 2 || !strings.Contains(r.stderr, says) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("restore across flavours: exit %d, %q", r.code, r.stderr)
	}

	// A real snapshot restored with the Oracle MySQL image configured: the
	// running server is not that image's, so its server binary is asked.
	if oracle := os.Getenv("DEVSTACK_MYSQL_ORACLE_IMAGE"); oracle != "" && other == "mysql" {
		s.mustRun("snapshot", "save", "mariadb")
		r := s.runEnv([]string{"DEVSTACK_MYSQL_IMAGE=" + oracle}, "snapshot", "restore", "mariadb", "--yes")
		if r.code != 2 || !strings.Contains(r.stderr, "made with MariaDB") || !strings.Contains(r.stderr, "runs MySQL") {
			t.Errorf("restore on the Oracle image: exit %d, %q", r.code, r.stderr)
		}
	}
	if d := diffState(before, s.state()); len(d) > 0 {
		t.Errorf("a refused restore changed %v", d)
	}
	if st := s.status(); st.State != emulator.StateRunning {
		t.Errorf("after a refused restore the stack is %s", st.State)
	}
	if left := docker(t, "ps", "-aq", "--filter", "name=devstack-"+s.project+"-probe"); left != "" {
		t.Errorf("the probe container is left")
	}
}

// gearmand keeps its queue in Redis: a snapshot holds its jobs, and a
// restore brings them back with gearmand running again.
func TestSnapshotKeepsGearmandsQueue(t *testing.T) {
	t.Parallel()
	s := upForSnapshots(t, "DEVSTACK_GEARMAND_ENABLED=true", "DEVSTACK_GEARMAND_PORT=0")
	env := s.envMap()
	host, port := env["GEARMAN_HOST"], env["GEARMAN_PORT"]
	submit := exec.Command("gearman", "-h", host, "-p", port, "-b", "-f", "queued_before_save")
	submit.Stdin = strings.NewReader("job")
	if out, err := submit.CombinedOutput(); err != nil {
		t.Fatalf("gearman -b: %v\n%s", err, out)
	}
	s.mustRun("snapshot", "save", "queued")
	worker := exec.Command("gearman", "-h", host, "-p", port, "-w", "-f", "queued_before_save", "-c", "1")
	if out, err := worker.CombinedOutput(); err != nil || string(out) != "job" {
		t.Fatalf("the worker after save got %q (%v)", out, err)
	}
	if status := gearadmin(t, host, port); strings.Contains(status, "queued_before_save\t1") {
		t.Fatalf("the job is still queued after a worker took it: %q", status)
	}
	s.mustRun("snapshot", "restore", "queued", "--yes")
	if st := s.status(); st.State != emulator.StateRunning || len(st.Services) != 3 {
		t.Errorf("after restore: %+v", st)
	}
	if status := gearadmin(t, host, port); !strings.Contains(status, "queued_before_save\t1\t0") {
		t.Errorf("gearmand's queue after restore: %q", status)
	}
}

// A restore killed while it copies leaves the stack restoring; the next
// command finishes it.
func TestSnapshotKilledRestoreRollsForward(t *testing.T) {
	t.Parallel()
	s := upForSnapshots(t)
	want := s.saveMarked("one")
	s.scribble("two")

	// Killed once its copy has begun: Docker's events say when the copy's
	// container starts; the copy waits until the services are down, then
	// takes some tenths of a second, and the services' start a second more.
	copying := "devstack-" + s.project + "-snapshot"
	events := exec.Command("docker", "events", "--since", strconv.FormatInt(time.Now().Unix(), 10),
		"--filter", "container="+copying, "--filter", "event=start", "--format", "{{.Actor.Attributes.name}}")
	started, err := events.StdoutPipe()
	must(t, err)
	must(t, events.Start())
	t.Cleanup(func() { _ = events.Process.Kill(); _ = events.Wait() })
	cmd := exec.Command(binary, "-p", s.project, "snapshot", "restore", "one", "--yes")
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Dir = s.dir
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	seen := make(chan struct{})
	go func() { _, _ = bufio.NewReader(started).ReadString('\n'); close(seen) }()
	select {
	case <-seen:
	case <-exited:
		t.Fatalf("restore ended (exit %d) without starting its copy", cmd.ProcessState.ExitCode())
	}
	time.Sleep(300 * time.Millisecond)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	<-exited

	if st := s.status(); st.State != emulator.StateRestoring {
		t.Errorf("status after a killed restore: %s", st.State)
	}
	r := s.mustRun("env")
	if !strings.Contains(r.stderr, "finishing the restore of snapshot one") {
		t.Errorf("env did not say it finished the restore:\n%s", r.stderr)
	}
	s.sameData(want, "after the restore was finished")
	if st := s.status(); st.State != emulator.StateRunning {
		t.Errorf("after the restore was finished the stack is %s", st.State)
	}
	if left := docker(t, "ps", "-aq", "--filter", "name="+copying); left != "" {
		t.Errorf("the killed restore's copy container is left")
	}
}

// Snapshots are no part of the stack: down --volumes leaves them, a restore
// brings the stack back with its pinned values, and snapshot rm removes
// them.
func TestSnapshotsOutliveDownVolumes(t *testing.T) {
	t.Parallel()
	s := upForSnapshots(t)
	want := s.saveMarked("kept")
	s.mustRun("down", "--volumes", "--yes")
	if left := resources(t, s.project); len(left) > 0 {
		t.Errorf("down --volumes left %v", left)
	}
	if vols := snapshotVolumes(t, s.project); len(vols) != 4 {
		t.Fatalf("down --volumes took snapshot volumes: %v left", vols)
	}

	s.mustRun("snapshot", "restore", "kept", "--yes")
	s.sameData(want, "restored after down --volumes")
	if env := s.envMap(); !maps.Equal(env, want.env) {
		t.Errorf("a restore in place did not bring back the pinned values:\n%v\nwant\n%v", env, want.env)
	}

	r := s.mustRun("snapshot", "rm", "kept")
	if vols := snapshotVolumes(t, s.project); len(vols) != 0 || len(strings.Fields(r.stdout)) != 4 {
		t.Errorf("snapshot rm left %v (printed %q)", vols, r.stdout)
	}
	if r := s.run("snapshot", "rm", "kept"); r.code != 2 {
		t.Errorf("rm of a removed snapshot: exit %d, %s", r.code, r.stderr)
	}
	// A name no snapshot may have is bad input, refused before Docker.
	if r := s.runEnv([]string{"DOCKER_HOST=unix:///nonexistent"}, "snapshot", "save", "Not/A/Name"); r.code != 2 || !strings.Contains(r.stderr, "invalid snapshot name") {
		t.Errorf("a bad name: exit %d, %s", r.code, r.stderr)
	}
}
