package emulator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// Unit tests of the decisions devstack makes, against a fake engine: no
// Docker needed.

func testConfig(project string) config.Config {
	cfg := config.DefaultConfig()
	cfg.Project = project
	return cfg
}

func countingPorts() func() (int, error) {
	next := 40000
	return func() (int, error) { next++; return next, nil }
}

// netID is the ID of the stacks' networks in these tests.
const netID = "net-1"

// spec is role's container as up makes it with cfg and v.
func spec(cfg config.Config, role string, v stack.Pinned) docker.ContainerSpec {
	s := stack.Target{Config: cfg, Names: stack.NamesFor(cfg.Project), Pinned: v, Tree: stack.TreeID("tree", cfg.Shared.String())}.Specs()[role]
	return stack.Labelled(s, cfg.Project, role, stack.SpecHash(stack.Target{Config: cfg, Pinned: v, Tree: "tree"}.Template(stack.Bare)[role]), stack.Lifetime{})
}

// container is what Docker would hold for role after an up with cfg.
func container(cfg config.Config, role string, v stack.Pinned, status string) docker.Container {
	s := spec(cfg, role, v)
	env := maps.Clone(s.Env)
	env["PATH"] = "/usr/bin" // the image's own
	return docker.Container{Name: s.Name, Image: s.Image, Labels: s.Labels, Env: env, Ports: s.Ports,
		State: docker.State{Status: status, Running: status == "running"}, Networks: map[string]string{s.Network: netID}}
}

func TestPlanFor(t *testing.T) {
	cfg := testConfig("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	want := spec(cfg, config.ServiceMySQL, v)
	running := container(cfg, config.ServiceMySQL, v, "running")
	stopped := container(cfg, config.ServiceMySQL, v, "exited")
	stale := container(cfg, config.ServiceMySQL, v, "running")
	stale.Labels[stack.LabelConfigHash] = "0000"
	other := cfg
	other.MySQL.Image = "mysql:8.4"
	newPassword, newPort := v, v
	newPassword.AppPassword, newPort.MySQLPort = "b", 3
	// The helper joins no network: Docker reports it on "none".
	helper := container(cfg, stack.PartHelper, v, "exited")
	helper.Networks = map[string]string{docker.NoNetwork: "none-id"}
	for _, tc := range []struct {
		name    string
		current *docker.Container
		want    docker.ContainerSpec
		network string
		action  action
	}{
		{"missing", nil, want, netID, create},
		{"running, same settings", &running, want, netID, keep},
		{"stopped, same settings", &stopped, want, netID, start},
		{"made from other settings", &stale, want, netID, recreate},
		{"image changed in the config", &running, spec(other, config.ServiceMySQL, v), netID, recreate},
		{"password changed", &running, spec(cfg, config.ServiceMySQL, newPassword), netID, recreate},
		{"port changed", &stopped, spec(cfg, config.ServiceMySQL, newPort), netID, recreate},
		{"its network was removed", &stopped, want, "", recreate},
		{"its network was made again", &stopped, want, "net-2", recreate},
		{"helper, the stack's network made again", &helper, spec(cfg, stack.PartHelper, v), "net-2", start},
	} {
		if got := planFor(tc.current, tc.want, tc.network, ""); got != tc.action {
			t.Errorf("%s: planned %d, want %d", tc.name, got, tc.action)
		}
	}
}

// Podman reports what Docker reports by ID otherwise: the network by its
// name, the image under a name of its own (localhost/…). Up must keep such a
// container, and replace one whose image is another under the same name.
func TestPlanForPodman(t *testing.T) {
	cfg := testConfig("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	want := spec(cfg, config.ServiceMySQL, v)
	podman := container(cfg, config.ServiceMySQL, v, "running")
	podman.Networks = map[string]string{want.Network: want.Network}
	podman.Image, podman.ImageID = "localhost/"+want.Image, "0123abcd"
	for _, tc := range []struct {
		name, network, image string
		action               action
	}{
		{"network by name, image by ID", netID, "sha256:0123abcd", keep},
		{"the image under its name is another now", netID, "sha256:4567", recreate},
		{"the network is gone", "", "sha256:0123abcd", recreate},
	} {
		if got := planFor(&podman, want, tc.network, tc.image); got != tc.action {
			t.Errorf("%s: planned %d, want %d", tc.name, got, tc.action)
		}
	}
	// Without an ID (the image is not here yet), the names are compared.
	if got := planFor(&podman, want, netID, ""); got != recreate {
		t.Errorf("image not here, another name: planned %d, want recreate", got)
	}
}

func TestPlanUpNewStack(t *testing.T) {
	cfg := testConfig("p")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	o := &observed{names: stack.NamesFor("p"), containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
	p, err := planUp(planInput{cfg: cfg, o: o, life: stack.Lifetime{Ephemeral: true}, tree: "tree", freePort: countingPorts()})
	if err != nil {
		t.Fatal(err)
	}
	if !p.newNetwork || len(p.newVolumes) != 3 {
		t.Fatalf("new stack: network %v, volumes %v", p.newNetwork, p.newVolumes)
	}
	for _, role := range stack.CoreRoles {
		if p.actions[role] != create {
			t.Errorf("%s: %d, want create", role, p.actions[role])
		}
	}
	// Values chosen now are pinned on the MySQL data volume only.
	for _, vol := range p.newVolumes {
		_, pinnedHere := vol.Labels[stack.LabelRootPassword]
		if pinnedHere != (vol.Name == o.names.MySQLData) {
			t.Errorf("volume %s carries pinned values: %v", vol.Name, pinnedHere)
		}
		if vol.Labels[stack.LabelEphemeral] != "true" || vol.Labels[stack.LabelProject] != "p" {
			t.Errorf("volume %s labels: %v", vol.Name, vol.Labels)
		}
	}
	if p.pinned.MySQLPort == 0 || p.pinned.MySQLPort == p.pinned.RedisPort {
		t.Errorf("ports %d, %d", p.pinned.MySQLPort, p.pinned.RedisPort)
	}
	if got := p.portChecks(); len(got) != 2 || got[config.ServiceMySQL] != p.pinned.MySQLPort {
		t.Errorf("port checks %v", got)
	}
	if got := p.images(); len(got) != 2 || got[cfg.MySQL.Image] != "DEVSTACK_MYSQL_IMAGE" {
		t.Errorf("images %v", got)
	}
}

func TestPlanUpWarmStackDoesNothing(t *testing.T) {
	cfg := testConfig("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 63306, RedisPort: 63379, DashboardUUID: "u", Created: time.Unix(0, 0).UTC()}
	n := stack.NamesFor("p")
	o := &observed{names: n, containers: map[string]docker.Container{}, network: &docker.Network{ID: netID, Name: n.Network},
		volumes: map[string]docker.Volume{n.MySQLData: {Name: n.MySQLData, Labels: v.Labels()}, n.RedisData: {Name: n.RedisData}, n.Shared: {Name: n.Shared}}}
	for _, role := range stack.CoreRoles {
		o.containers[role] = container(cfg, role, v, "running")
	}
	p, err := planUp(planInput{cfg: cfg, o: o, life: stack.Lifetime{}, tree: "tree", freePort: countingPorts()})
	if err != nil {
		t.Fatal(err)
	}
	if p.newNetwork || len(p.newVolumes) > 0 || len(p.portChecks()) > 0 || len(p.images()) > 0 {
		t.Fatalf("warm stack: %+v", p)
	}
	for role, a := range p.actions {
		if a != keep {
			t.Errorf("%s: %d, want keep", role, a)
		}
	}
	if p.pinned != v {
		t.Errorf("pinned values not kept: %+v, want %+v", p.pinned, v)
	}
}

func TestChoosePinned(t *testing.T) {
	cfg := testConfig("p")
	labels := stack.Pinned{RootPassword: "root-from-volume", AppPassword: "app-from-volume", MySQLPort: 41000, RedisPort: 41001, DashboardUUID: "uuid", Created: time.Unix(100, 0).UTC()}.Labels()
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	v, err := stack.ChoosePinned(cfg, labels, 0, countingPorts())
	if err != nil {
		t.Fatal(err)
	}
	if v.RootPassword != "root-from-volume" || v.MySQLPort != 41000 || v.RedisPort != 41001 || v.DashboardUUID != "uuid" {
		t.Errorf("pinned values not kept: %+v", v)
	}
	cfg.MySQL.Password, cfg.MySQL.Port = "from-config", 50000
	if v, _ = stack.ChoosePinned(cfg, labels, 0, countingPorts()); v.AppPassword != "from-config" || v.MySQLPort != 50000 {
		t.Errorf("the config does not win: %+v", v)
	}
	// A free port equal to MySQL's is not taken twice.
	ports := []int{42000, 42000, 42001}
	fresh := testConfig("q")
	fresh.MySQL.Port, fresh.Redis.Port = 0, 0
	v, err = stack.ChoosePinned(fresh, nil, 0, func() (int, error) { p := ports[0]; ports = ports[1:]; return p, nil })
	if err != nil || v.MySQLPort != 42000 || v.RedisPort != 42001 {
		t.Errorf("fresh ports %d, %d (%v)", v.MySQLPort, v.RedisPort, err)
	}
	if len(v.RootPassword) != 32 || v.RootPassword == v.AppPassword || v.DashboardUUID == "" || v.Created.IsZero() {
		t.Errorf("fresh values: %+v", v)
	}
	if _, err := stack.ChoosePinned(fresh, nil, 0, func() (int, error) { return 0, errors.New("no ports") }); fault.ExitCode(err) != fault.ExitEnv {
		t.Errorf("no free port: %v", err)
	}
}

func stackOnFake(t *testing.T, project string) (*fake.Engine, *Engine) {
	t.Helper()
	f := fake.New()
	cfg := testConfig(project)
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	n := stack.NamesFor(project)
	f.AddNetwork(n.Network, map[string]string{stack.LabelProject: project})
	for _, name := range []string{n.MySQLData, n.RedisData, n.Shared} {
		f.AddVolume(docker.Volume{Name: name, Labels: map[string]string{stack.LabelProject: project}})
	}
	for _, role := range stack.CoreRoles {
		f.AddContainer(container(cfg, role, v, "running"))
	}
	return f, newEngine(engine.NewConn(docker.Said(f)))
}

func TestDownRemovesContainersAndNetworkKeepsVolumes(t *testing.T) {
	f, e := stackOnFake(t, "p")
	r, err := Down(context.Background(), e, testConfig("p"), DownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := e.observe(context.Background(), "p")
	if len(o.containers) != 0 || o.network != nil || len(o.volumes) != 3 {
		t.Fatalf("after down: %d containers, network %v, %d volumes", len(o.containers), o.network, len(o.volumes))
	}
	if !slices.ContainsFunc(f.Calls, func(c string) bool { return strings.HasPrefix(c, "stop ") }) {
		t.Errorf("containers were not stopped before removal: %v", f.Calls)
	}
	if len(r.Containers) != 3 || len(r.Networks) != 1 || len(r.Volumes) != 0 {
		t.Errorf("down reports %+v", r)
	}
	if r, err = Down(context.Background(), e, testConfig("p"), DownOptions{Volumes: true}); err != nil || len(r.Volumes) != 3 {
		t.Fatalf("down --volumes: %+v, %v", r, err)
	}
	if o, _ = e.observe(context.Background(), "p"); !o.absent() {
		t.Fatalf("after down --volumes: %+v", o)
	}
}

// A container that a killed up had asked for is created by Docker after
// down's first look: down looks again and removes it too.
func TestDownRemovesAContainerCreatedLate(t *testing.T) {
	f, e := stackOnFake(t, "p")
	late := container(testConfig("p"), stack.PartHelper, stack.Pinned{}, "created")
	late.Name += "-late"
	f.BeforeList = func(call int) {
		if call == 1 {
			f.AddContainer(late)
		}
	}
	if _, err := Down(context.Background(), e, testConfig("p"), DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Calls, "remove "+late.Name) {
		t.Errorf("late container not removed: %v", f.Calls)
	}
	if o, _ := e.observe(context.Background(), "p"); !o.absent() {
		t.Fatalf("left behind: %+v", o)
	}
}

// An interrupted up's template copy whose create finished after the only
// look that found no container holds the data volume: the volume's removal
// fails, and a second look removes the copy, then the volume.
func TestRemoveLooksAgainWhenAVolumeIsHeld(t *testing.T) {
	f, e := stackOnFake(t, "p")
	ctx := context.Background()
	if _, err := Down(ctx, e, testConfig("p"), DownOptions{}); err != nil {
		t.Fatal(err)
	}
	seen, err := e.observe(ctx, "p")
	if err != nil || len(seen.all()) != 0 {
		t.Fatalf("after down: %v, %v", seen.all(), err)
	}
	n := stack.NamesFor("p")
	f.AddContainer(docker.Container{Name: n.TemplateCopy, Labels: map[string]string{stack.LabelProject: "p"}, Volumes: []string{n.MySQLData}, State: docker.State{Status: "created"}})
	r, err := e.remove(ctx, seen, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.Containers, n.TemplateCopy) || len(r.Volumes) != 3 {
		t.Errorf("removed %+v", r)
	}
	if o, _ := e.observe(ctx, "p"); !o.absent() {
		t.Fatalf("left behind: %+v", o)
	}
}

func TestDownNeverTouchesUnlabelledResources(t *testing.T) {
	f := fake.New()
	n := stack.NamesFor("p")
	f.AddVolume(docker.Volume{Name: n.MySQLData})
	f.AddContainer(docker.Container{Name: n.MySQL})
	_, err := Down(context.Background(), newEngine(engine.NewConn(docker.Said(f))), testConfig("p"), DownOptions{Volumes: true})
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("clash: %v", err)
	}
	if len(f.Calls) > 0 {
		t.Fatalf("touched: %v", f.Calls)
	}
}

func TestPruneSelects(t *testing.T) {
	now := time.Now()
	old := now.Add(-3 * time.Hour)
	young := now.Add(-10 * time.Second)
	for _, tc := range []struct {
		name  string
		s     StackInfo
		opts  PruneOptions
		taken bool
	}{
		{"everyday stacks never", StackInfo{Created: old}, PruneOptions{All: true}, false},
		{"orphan", StackInfo{Ephemeral: true, Created: old}, PruneOptions{}, true},
		{"owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Created: old}, PruneOptions{}, false},
		{"kept orphan", StackInfo{Ephemeral: true, Kept: true, Created: old}, PruneOptions{}, false},
		{"young orphan within grace", StackInfo{Ephemeral: true, Created: young}, PruneOptions{Grace: time.Minute}, false},
		{"all, owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Kept: true, Created: young}, PruneOptions{All: true}, true},
		{"older than, owner alive", StackInfo{Ephemeral: true, OwnerAlive: true, Created: old}, PruneOptions{OlderThan: time.Hour}, true},
		{"not older than", StackInfo{Ephemeral: true, Created: young}, PruneOptions{OlderThan: time.Hour}, false},
	} {
		if got := tc.opts.selects(tc.s, now); got != tc.taken {
			t.Errorf("%s: selected %v, want %v", tc.name, got, tc.taken)
		}
	}
}

func TestOwnerAlive(t *testing.T) {
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for owner, alive := range map[string]bool{
		fmt.Sprintf("%s/%d", host, os.Getpid()):          true,
		fmt.Sprintf("%s/%d", host, dead.Process.Pid):     false,
		"another-host/" + strconv.Itoa(dead.Process.Pid): true, // cannot know: never remove
		"garbage":        true,
		host + "/0":      true,
		host + "/banana": true,
	} {
		if got := stack.OwnerAlive(owner); got != alive {
			t.Errorf("stack.OwnerAlive(%q) = %v, want %v", owner, got, alive)
		}
	}
}

func TestStatusStates(t *testing.T) {
	cfg := testConfig("p")
	n := stack.NamesFor("p")
	for _, tc := range []struct {
		name     string
		states   map[string]docker.State // by role; missing roles have no container
		state    string
		services []string
		reason   string
	}{
		{"absent", nil, StateAbsent, []string{ServiceMissing, ServiceMissing}, ""},
		{"running", map[string]docker.State{config.ServiceMySQL: up, config.ServiceRedis: up, stack.PartHelper: up}, StateRunning, []string{StateRunning, StateRunning}, ""},
		{"no helper", map[string]docker.State{config.ServiceMySQL: up, config.ServiceRedis: up}, StatePartial, []string{StateRunning, StateRunning}, "the helper is not running"},
		{"helper only", map[string]docker.State{stack.PartHelper: up}, StatePartial, []string{ServiceMissing, ServiceMissing}, "mysql is missing; redis is missing"},
		{"one exited", map[string]docker.State{config.ServiceMySQL: up, config.ServiceRedis: {Status: "exited"}, stack.PartHelper: up}, StatePartial, []string{StateRunning, ServiceExited}, "redis is exited"},
		{"crash loop", map[string]docker.State{config.ServiceMySQL: {Status: "restarting", Running: true, Restarting: true, RestartCount: 4}, config.ServiceRedis: up, stack.PartHelper: up}, StatePartial, []string{ServiceRestarting, StateRunning}, "mysql is restarting"},
		{"stopped", map[string]docker.State{config.ServiceMySQL: {Status: "exited"}, config.ServiceRedis: {Status: "exited"}, stack.PartHelper: {Status: "exited"}}, StateStopped, []string{ServiceExited, ServiceExited}, ""},
	} {
		o := &observed{names: n, containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
		live := map[string]docker.Container{}
		for role, st := range tc.states {
			c := docker.Container{Image: "img", State: st, Labels: map[string]string{stack.LabelService: role}}
			o.containers[role] = c
			if role != stack.PartHelper {
				live[role] = c
			}
		}
		r := statusOf(cfg, o, live)
		var got []string
		for _, s := range r.Services {
			got = append(got, s.State)
		}
		if r.State != tc.state || !slices.Equal(got, tc.services) || r.Reason != tc.reason {
			t.Errorf("%s: stack %s, services %v, reason %q; want %s, %v, %q", tc.name, r.State, got, r.Reason, tc.state, tc.services, tc.reason)
		}
	}
}

var up = docker.State{Status: "running", Running: true, Health: "healthy"}

func TestFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		state    docker.State
		restarts int
		failed   bool
	}{
		{"running", up, 0, false},
		{"starting", docker.State{Status: "running", Running: true, Health: "starting"}, 0, false},
		{"restart loop between restarts", docker.State{Status: "running", Running: true, RestartCount: 2}, 0, true},
		{"restart loop, restarting", docker.State{Status: "restarting", Running: true, Restarting: true, RestartCount: 1, ExitCode: 3}, 0, true},
		{"restarted long before up", docker.State{Status: "running", Running: true, RestartCount: 2}, 2, false},
		{"exited", docker.State{Status: "exited", ExitCode: 3}, 0, true},
		{"unhealthy", docker.State{Status: "running", Running: true, Health: "unhealthy"}, 0, true},
	} {
		if got := engine.Failure(tc.state, tc.restarts) != ""; got != tc.failed {
			t.Errorf("%s: failed %v, want %v", tc.name, got, tc.failed)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, fault.ExitOK},
		{fault.Usage("bad"), fault.ExitUsage},
		{fault.Env(nil, "broken"), fault.ExitEnv},
		{fmt.Errorf("wrapped: %w", fault.Usage("bad")), fault.ExitUsage},
		{errors.New("unclassified"), fault.ExitEnv},
		{fault.PortTaken(config.ServiceMySQL, "127.0.0.1", 1), fault.ExitUsage},
	} {
		if got := fault.ExitCode(tc.err); got != tc.code {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

func TestSpecsPublishOnLoopbackOnly(t *testing.T) {
	cfg := testConfig("p")
	all := stack.Target{Config: cfg, Names: stack.NamesFor("p"), Pinned: stack.Pinned{MySQLPort: 1, RedisPort: 2}, Tree: "tree"}.Specs()
	for _, role := range slices.Sorted(maps.Keys(all)) {
		for _, p := range all[role].Ports {
			if p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes on %s", role, p.HostIP)
			}
		}
	}
	if len(all[stack.PartHelper].Ports) != 0 {
		t.Errorf("the helper publishes %v", all[stack.PartHelper].Ports)
	}
}

// A port that a container of the stack itself holds (started by the engine
// after a killed up) is no conflict; anyone else's is.
func TestPreflightPortHeldByTheStackItself(t *testing.T) {
	f := fake.New()
	cfg := testConfig("p")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	o := &observed{names: stack.NamesFor("p"), containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	p, err := planUp(planInput{cfg: cfg, o: o, life: stack.Lifetime{}, tree: "tree", freePort: func() (int, error) { port++; return port - 1, nil }})
	if err != nil {
		t.Fatal(err)
	}
	f.AddImage(cfg.MySQL.Image)
	f.AddImage(cfg.Redis.Image)
	e := newEngine(engine.NewConn(docker.Said(f)))
	err = e.preflight(context.Background(), p)
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "is taken") {
		t.Fatalf("port held by another process: %v", err)
	}
	own := container(cfg, config.ServiceMySQL, p.pinned, "running")
	own.Ports = []docker.Port{{ContainerPort: 3306, HostIP: "127.0.0.1", HostPort: p.pinned.MySQLPort}}
	f.AddContainer(own)
	if err := e.preflight(context.Background(), p); err != nil {
		t.Fatalf("port held by the stack's own container: %v", err)
	}
}

// The engine finishes a create that a killed up had sent after the next up
// looked: that up takes the container over (starting it) instead of failing
// on its name; a container of that name without the stack's label is
// somebody else's.
func TestCreateTakesOverAContainerAKilledUpLeft(t *testing.T) {
	ctx := context.Background()
	f := fake.New()
	cfg := testConfig("p")
	f.AddImage(cfg.MySQL.Image)
	o := &observed{names: stack.NamesFor("p"), containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
	p, err := planUp(planInput{cfg: cfg, o: o, life: stack.Lifetime{}, tree: "tree", freePort: countingPorts()})
	if err != nil {
		t.Fatal(err)
	}
	u := &upRun{e: newEngine(engine.NewConn(docker.Said(f))), cfg: cfg, plan: p, progress: nil}
	s := p.specs[stack.PartHelper]
	f.AddContainer(docker.Container{Name: s.Name, Image: s.Image, Env: s.Env, Labels: s.Labels, State: docker.State{Status: "created"}, Networks: map[string]string{s.Network: p.networkID}})
	if err := u.converge(ctx, stack.PartHelper); err != nil {
		t.Fatalf("a late create of the stack's own: %v", err)
	}
	if !slices.Contains(f.Calls, "start "+s.Name) {
		t.Errorf("the late container was not started: %v", f.Calls)
	}

	f = fake.New()
	f.AddImage(cfg.MySQL.Image)
	f.AddContainer(docker.Container{Name: s.Name, Labels: map[string]string{"owner": "someone"}})
	u.e = newEngine(engine.NewConn(docker.Said(f)))
	if err := u.converge(ctx, stack.PartHelper); fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("a foreign container under the name: %v", err)
	}
}

// Engines from API 1.44 take a health check's start interval, so Docker
// agrees soon after devstack's own probes; older ones reject the field.
func TestHealthCheckStartIntervalFollowsTheEngine(t *testing.T) {
	for api, interval := range map[string]time.Duration{"1.41": 0, "1.43": 0, "1.44": 100 * time.Millisecond, "1.51": 100 * time.Millisecond, "2.0": 100 * time.Millisecond, "": 0} {
		f := fake.New()
		f.API = api
		cfg := testConfig("p")
		o := &observed{names: stack.NamesFor("p"), containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
		e := newEngine(engine.NewConn(docker.Said(f)))
		p, err := planUp(planInput{cfg: cfg, o: o, tree: "tree", api: e.APIVersion(), freePort: countingPorts()})
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{config.ServiceMySQL, config.ServiceRedis} {
			if h := p.specs[role].Health; h == nil || h.StartInterval != interval {
				t.Errorf("API %q, %s: health check %+v, want start interval %s", api, role, h, interval)
			}
		}
	}
}

// A template copy cut short (its container left behind) is done again, and
// the short-lived container goes.
func TestPlanRefillsADataVolumeWhoseCopyWasCutShort(t *testing.T) {
	cfg := testConfig("p")
	n := stack.NamesFor("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2, Created: time.Unix(100, 0).UTC()}
	o := &observed{names: n, containers: map[string]docker.Container{}, network: &docker.Network{ID: netID, Name: n.Network},
		volumes: map[string]docker.Volume{n.MySQLData: {Name: n.MySQLData, Labels: v.Labels()}, n.RedisData: {Name: n.RedisData}, n.Shared: {Name: n.Shared}},
		others:  []docker.Container{{Name: n.TemplateCopy}}}
	tmpl := &server.Template{Key: "k", Volume: server.TemplateVolume("k"), RootPassword: "t", Created: time.Unix(50, 0).UTC()}
	p, err := planUp(planInput{cfg: cfg, o: o, tree: "tree", freePort: countingPorts(), template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if p.template != tmpl || len(p.leftovers) != 1 || p.pinned.Created != v.Created {
		t.Errorf("cut-short copy: template %v, leftovers %v, created %v", p.template, p.leftovers, p.pinned.Created)
	}
	o.others = nil
	if p, _ = planUp(planInput{cfg: cfg, o: o, tree: "tree", freePort: countingPorts(), template: tmpl}); p.template != nil {
		t.Errorf("an existing data volume got a template copy")
	}
}

// A stack copied from an old template seeds rows with the template's time,
// but its resources say they are new: prune --older-than goes by them.
func TestPlanFromAnOldTemplateMakesANewStack(t *testing.T) {
	cfg := testConfig("p")
	n := stack.NamesFor("p")
	o := &observed{names: n, containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
	old := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	tmpl := &server.Template{Key: "k", Volume: server.TemplateVolume("k"), RootPassword: "t", Created: old}
	p, err := planUp(planInput{cfg: cfg, o: o, tree: "tree", freePort: countingPorts(), template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if !p.pinned.Created.Equal(old) {
		t.Errorf("seeded time %v, want the template's %v", p.pinned.Created, old)
	}
	for _, v := range p.newVolumes {
		made, err := time.Parse(time.RFC3339, v.Labels[stack.LabelCreated])
		if err != nil || time.Since(made) > time.Minute {
			t.Errorf("volume %s: %s=%q, want now", v.Name, stack.LabelCreated, v.Labels[stack.LabelCreated])
		}
		if v.Name == n.MySQLData && stack.PinnedFrom(v.Labels).Created != old {
			t.Errorf("data volume pins seeded time %v, want %v", stack.PinnedFrom(v.Labels).Created, old)
		}
	}
}

// The config hash digests what devstack's code decides, not the values a
// configuration chooses, which planFor compares one by one: a compose file
// that takes them from variables carries the same hashes.
func TestConfigHashLeavesOutConfiguredValues(t *testing.T) {
	a, b := testConfig("p"), testConfig("q")
	a.Gearmand.Enabled, b.Gearmand.Enabled = true, true
	b.MySQL.Image, b.Redis.Image, b.Gearmand.Image, b.Shared.UID = "mariadb:11", "valkey:8", "gearmand:1", 333
	va := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2, GearmandPort: 3}
	vb := stack.Pinned{RootPassword: "R", AppPassword: "A", RedisPassword: "x", MySQLPort: 4, RedisPort: 5, GearmandPort: 6}
	ha, hb := stack.Target{Config: a, Pinned: va, Tree: "tree"}.Template(stack.Bare), stack.Target{Config: b, Pinned: vb, Tree: "tree"}.Template(stack.Bare)
	for _, role := range stack.Roles(a) {
		if stack.SpecHash(ha[role]) != stack.SpecHash(hb[role]) {
			t.Errorf("%s: the hash follows configured values:\n%+v\n%+v", role, ha[role], hb[role])
		}
	}
	if other := (stack.Target{Config: a, Pinned: va, Tree: "other tree"}).Template(stack.Bare); stack.SpecHash(other[stack.PartHelper]) == stack.SpecHash(ha[stack.PartHelper]) {
		t.Error("the helper's hash does not follow the fixtures' shared tree")
	}
}

// A name the label search missed but that carries the project's label was
// made meanwhile (a create in flight when an interrupted up cleans up): it
// is the stack's, not a clash.
func TestClashIsOnlyANameWithoutTheLabel(t *testing.T) {
	e := newEngine(nil)
	o := &observed{names: stack.NamesFor("p"), volumes: map[string]docker.Volume{}}
	adopted := false
	lookup := func(project string, adopt func()) func() (map[string]string, func(), error) {
		return func() (map[string]string, func(), error) {
			return map[string]string{stack.LabelProject: project}, adopt, nil
		}
	}
	must(t, e.clash(o, "volume", "mine", lookup("p", func() { adopted = true })))
	must(t, e.clash(o, "volume", "theirs", lookup("q", func() { t.Error("adopted another project's volume") })))
	must(t, e.clash(o, "volume", "gone", func() (map[string]string, func(), error) { return nil, nil, docker.ErrNotFound }))
	if !adopted || !slices.Equal(o.clashes, []string{"volume theirs"}) {
		t.Errorf("adopted %v, clashes %v", adopted, o.clashes)
	}
}

// A server that listens inside its container is told from one that does not
// yet, by /proc/net/tcp's state column.
func TestListening(t *testing.T) {
	proc := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 1 1 0 100 0 0 10 0
   1: 0100007F:18EB 0100007F:0CEA 01 00000000:00000000 00:00000000 00000000   101        0 2 1 0 100 0 0 10 0
`
	if !listening(proc, 3306) {
		t.Error("3306 listens")
	}
	if listening(proc, 6379) || listening(proc, 6379+1) {
		t.Error("a connection's port taken for a listener")
	}
}

// A stack whose last up failed says so, whatever its containers do now.
func TestStatusGivesTheFailedUpsReason(t *testing.T) {
	cfg := testConfig("p")
	n := stack.NamesFor("p")
	for _, tc := range []struct {
		name   string
		mysql  docker.State
		state  string
		reason string
	}{
		{"crashed and stopped", docker.State{Status: "exited"}, StatePartial, "the last up failed: mysql: boom"},
		{"running again", up, StatePartial, "the last up failed: mysql: boom"},
	} {
		o := &observed{names: n, containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{
			n.Failed: {Name: n.Failed, Labels: map[string]string{stack.LabelFailure: "mysql: boom"}},
		}}
		live := map[string]docker.Container{}
		for role, st := range map[string]docker.State{config.ServiceMySQL: tc.mysql, config.ServiceRedis: up, stack.PartHelper: up} {
			c := docker.Container{Image: "img", State: st, Labels: map[string]string{stack.LabelService: role}}
			o.containers[role] = c
			if role != stack.PartHelper {
				live[role] = c
			}
		}
		if r := statusOf(cfg, o, live); r.State != tc.state || r.Reason != tc.reason {
			t.Errorf("%s: %s %q, want %s %q", tc.name, r.State, r.Reason, tc.state, tc.reason)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
