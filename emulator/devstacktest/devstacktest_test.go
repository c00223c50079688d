package devstacktest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

// integration skips a test that needs Docker under -short (make unit).
func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Docker; runs without -short")
	}
}

// leftovers lists the containers, networks and volumes labelled for project.
func leftovers(t testing.TB, project string) []string {
	t.Helper()
	return labelled(t, emulator.LabelProject+"="+project)
}

// ephemeralOf lists project's resources labelled ephemeral and owned by this process.
func ephemeralOf(t testing.TB, project string) []string {
	t.Helper()
	host, _ := os.Hostname()
	return labelled(t, emulator.LabelProject+"="+project, emulator.LabelEphemeral+"=true", fmt.Sprintf("%s=%s/%d", emulator.LabelOwner, host, os.Getpid()))
}

// labelled lists the containers, networks and volumes carrying every label.
func labelled(t testing.TB, labels ...string) []string {
	t.Helper()
	// The test looks at Docker itself, not through devstack.
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	f := make(client.Filters).Add("label", labels...)
	var out []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs.Items {
		out = append(out, "container "+c.Names[0])
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Items {
		out = append(out, "volume "+v.Name)
	}
	return out
}

func TestFourParallelStacksAreIsolatedAndRemoved(t *testing.T) {
	integration(t)
	var mu sync.Mutex
	var projects, ports []string
	t.Run("stacks", func(t *testing.T) {
		for i := range 4 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				s := Start(t)
				env := s.Env()
				var one int
				if err := s.MySQL(t, "MCP").QueryRow("SELECT 1").Scan(&one); err != nil {
					t.Fatal(err)
				}
				if err := s.Redis(t).Ping(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
				// Seven resources, and the clone volume of a stack whose
				// server the seeded template was made from.
				labels := leftovers(t, s.Project)
				want := 7
				if slices.Contains(labels, "volume devstack-"+s.Project+"-mysql-clone") {
					want = 8
				}
				if len(labels) != want {
					t.Errorf("stack %s has %d labelled resources, want %d: %v", s.Project, len(labels), want, labels)
				}
				if n := len(ephemeralOf(t, s.Project)); n != want {
					t.Errorf("stack %s: %d of %d resources carry the ephemeral label and this process as owner", s.Project, n, want)
				}
				mu.Lock()
				projects = append(projects, s.Project)
				ports = append(ports, env["MYSQL_PORT"], env["REDIS_PORT"])
				mu.Unlock()
			})
		}
	})
	if len(projects) != 4 || len(slices.Compact(slices.Sorted(slices.Values(projects)))) != 4 {
		t.Fatalf("projects: %v", projects)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ports)))) != 8 {
		t.Errorf("ports clash: %v", ports)
	}
	for _, p := range projects {
		if left := leftovers(t, p); len(left) > 0 {
			t.Errorf("%s left %v", p, left)
		}
	}
}

func TestResetRestoresRowsKeysAndFiles(t *testing.T) {
	integration(t)
	t.Parallel()
	// Own fixtures and an extra user: both must be seeded, and survive Reset.
	fixtures := t.TempDir()
	settings, err := os.ReadFile("../../fixtures/settings.yaml")
	must(t, err)
	must(t, os.WriteFile(fixtures+"/settings.yaml", bytes.Replace(settings, []byte("site_url: http://127.0.0.1:62080"), []byte("site_url: http://harness.test"), 1), 0o644))
	s := Start(t, WithFixtures(fixtures), WithUsers(seed.Dashboard, seed.User{Username: "tester", Email: "tester@example.org", Password: "pw", APIKey: "tester-key"}))
	db := s.MySQL(t, "MCP")
	siteURL := func() string {
		var v string
		must(t, db.QueryRow("SELECT value FROM DashboardSettings WHERE name = 'site_url'").Scan(&v))
		return v
	}
	if got := siteURL(); got != "http://harness.test" {
		t.Errorf("WithFixtures: site_url = %q", got)
	}
	rdb := s.Redis(t)
	ctx := context.Background()
	if _, err := db.Exec("INSERT INTO SIPs (sipUUID, createdTime, hidden, sipType, dirUUIDs, status) VALUES ('22222222-2222-2222-2222-222222222222', NOW(6), 0, 'SIP', 0, 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM auth_user WHERE username = 'tester'"); err == nil {
		t.Log("deleted tester (no FK from a profile would stop it)")
	}
	if err := rdb.Set(ctx, "job:1", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.WriteFile(t, "watchedDirectories/activeTransfers/standardTransfer/t1/a.txt", []byte("hello"))
	if got := string(s.ReadFile(t, "watchedDirectories/activeTransfers/standardTransfer/t1/a.txt")); got != "hello" {
		t.Fatalf("read back %q", got)
	}

	s.Reset(t)

	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM SIPs").Scan(&n); err != nil || n != 0 {
		t.Errorf("SIPs after reset: %d %v", n, err)
	}
	var users []string
	rows, err := db.Query("SELECT username FROM auth_user ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u string
		_ = rows.Scan(&u)
		users = append(users, u)
	}
	rows.Close()
	if got := siteURL(); got != "http://harness.test" {
		t.Errorf("site_url after reset = %q", got)
	}
	if strings.Join(users, ",") != "admin,tester" {
		t.Errorf("users after reset: %v (want the fixture's admin and the extra tester)", users)
	}
	if k, err := rdb.DBSize(ctx).Result(); err != nil || k != 0 {
		t.Errorf("redis keys after reset: %d %v", k, err)
	}
	if _, err := s.h.ReadFile(ctx, "watchedDirectories/activeTransfers/standardTransfer/t1/a.txt"); err == nil {
		t.Error("file survived reset")
	}
	if cfg := s.ReadFile(t, "sharedMicroServiceTasksConfigs/processingMCPConfigs/defaultProcessingMCP.xml"); !bytes.Contains(cfg, []byte("<processingMCP>")) {
		t.Error("processing config missing after reset")
	}
}

// Helper tests: run only as a child `go test` by the test below, to prove a
// failing or panicking test still removes its stack.
func TestHelperFailing(t *testing.T) {
	if os.Getenv("DEVSTACKTEST_CHILD") != "fail" {
		t.Skip("run by TestFailingAndPanickingTestsLeaveNothing")
	}
	s := Start(t)
	fmt.Println("PROJECT", s.Project)
	t.Fatal("failing on purpose")
}

func TestHelperPanicking(t *testing.T) {
	if os.Getenv("DEVSTACKTEST_CHILD") != "panic" {
		t.Skip("run by TestFailingAndPanickingTestsLeaveNothing")
	}
	s := Start(t)
	fmt.Println("PROJECT", s.Project)
	panic("panicking on purpose")
}

func TestFailingAndPanickingTestsLeaveNothing(t *testing.T) {
	integration(t)
	t.Parallel()
	for _, mode := range []string{"fail", "panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			name := map[string]string{"fail": "TestHelperFailing", "panic": "TestHelperPanicking"}[mode]
			cmd := exec.Command("go", "test", "-count=1", "-v", "-run", "^"+name+"$", ".")
			cmd.Env = append(os.Environ(), "DEVSTACKTEST_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("child test passed:\n%s", out)
			}
			var project string
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if m := regexp.MustCompile(`^PROJECT (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
					project = m[1]
				}
			}
			if project == "" {
				t.Fatalf("child made no stack:\n%s", out)
			}
			if left := leftovers(t, project); len(left) > 0 {
				t.Errorf("a %sing test left %v", mode, left)
			}
		})
	}
}

// TestHelperStartForever is run as a child process that is killed during Start.
func TestHelperStartForever(t *testing.T) {
	if os.Getenv("DEVSTACKTEST_CHILD") != "kill" {
		t.Skip("run by TestKilledDuringStartIsPrunedLater")
	}
	Start(t)
	select {}
}

// A test process killed with SIGKILL in the middle of Start never runs its
// cleanup: its half-made stack must show as orphaned and go with a prune.
func TestKilledDuringStartIsPrunedLater(t *testing.T) {
	integration(t)
	t.Parallel()
	bin := t.TempDir() + "/devstacktest.test"
	if out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	child := exec.Command(bin, "-test.run", "^TestHelperStartForever$")
	child.Env = append(os.Environ(), "DEVSTACKTEST_CHILD=kill")
	var childOut bytes.Buffer
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e, err := emulator.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d", host, child.Process.Pid)
	mine := func() *emulator.StackInfo {
		stacks, err := emulator.ListStacks(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		for i := range stacks {
			if stacks[i].Owner == owner {
				return &stacks[i]
			}
		}
		return nil
	}
	// Kill it as soon as its first resource exists, long before Start returns.
	deadline := time.Now().Add(time.Minute)
	for mine() == nil {
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("the child made no stack")
		}
		time.Sleep(20 * time.Millisecond)
	}
	project := mine().Project
	must(t, child.Process.Kill())
	_ = child.Wait()
	// Docker finishes requests the dead process had already sent: let the
	// stack settle, as a later prune would find it.
	for prev, stable := "", time.Now(); time.Since(stable) < time.Second; time.Sleep(100 * time.Millisecond) {
		if cur := strings.Join(leftovers(t, project), ","); cur != prev {
			prev, stable = cur, time.Now()
		}
	}

	st := mine()
	if st == nil || !st.Ephemeral || st.OwnerAlive {
		all, _ := emulator.ListStacks(ctx, e)
		t.Fatalf("killed stack %s of %s not listed as an orphan: %+v; its resources: %v; stacks: %+v; the child said:\n%s", project, owner, st, leftovers(t, project), all, childOut.String())
	}
	removed, err := emulator.Prune(ctx, e, emulator.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed.Stacks, st.Project) {
		t.Errorf("prune removed %v, not %s", removed, st.Project)
	}
	if left := leftovers(t, st.Project); len(left) > 0 {
		t.Errorf("after prune: %v", left)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
