package converge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
)

// Unit tests of the decisions devstack makes, against a fake engine: no
// Docker needed.

func TestPlanFor(t *testing.T) {
	cfg := stacktest.Config("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	want := stacktest.Spec(cfg, config.ServiceMySQL, v)
	running := stacktest.Container(cfg, config.ServiceMySQL, v, "running")
	stopped := stacktest.Container(cfg, config.ServiceMySQL, v, "exited")
	stale := stacktest.Container(cfg, config.ServiceMySQL, v, "running")
	stale.Labels[stack.LabelConfigHash] = "0000"
	other := cfg
	other.MySQL.Image = "mysql:8.4"
	newPassword, newPort := v, v
	newPassword.AppPassword, newPort.MySQLPort = "b", 3
	// The helper joins no network: Docker reports it on "none".
	helper := stacktest.Container(cfg, stack.PartHelper, v, "exited")
	helper.Networks = map[string]string{docker.NoNetwork: "none-id"}
	for _, tc := range []struct {
		name    string
		current *docker.Container
		want    docker.ContainerSpec
		network string
		action  action
	}{
		{"missing", nil, want, stacktest.NetID, create},
		{"running, same settings", &running, want, stacktest.NetID, keep},
		{"stopped, same settings", &stopped, want, stacktest.NetID, start},
		{"made from other settings", &stale, want, stacktest.NetID, recreate},
		{"image changed in the config", &running, stacktest.Spec(other, config.ServiceMySQL, v), stacktest.NetID, recreate},
		{"password changed", &running, stacktest.Spec(cfg, config.ServiceMySQL, newPassword), stacktest.NetID, recreate},
		{"port changed", &stopped, stacktest.Spec(cfg, config.ServiceMySQL, newPort), stacktest.NetID, recreate},
		{"its network was removed", &stopped, want, "", recreate},
		{"its network was made again", &stopped, want, "net-2", recreate},
		{"helper, the stack's network made again", &helper, stacktest.Spec(cfg, stack.PartHelper, v), "net-2", start},
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
	cfg := stacktest.Config("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	want := stacktest.Spec(cfg, config.ServiceMySQL, v)
	podman := stacktest.Container(cfg, config.ServiceMySQL, v, "running")
	podman.Networks = map[string]string{want.Network: want.Network}
	podman.Image, podman.ImageID = "localhost/"+want.Image, "0123abcd"
	for _, tc := range []struct {
		name, network, image string
		action               action
	}{
		{"network by name, image by ID", stacktest.NetID, "sha256:0123abcd", keep},
		{"the image under its name is another now", stacktest.NetID, "sha256:4567", recreate},
		{"the network is gone", "", "sha256:0123abcd", recreate},
	} {
		if got := planFor(&podman, want, tc.network, tc.image); got != tc.action {
			t.Errorf("%s: planned %d, want %d", tc.name, got, tc.action)
		}
	}
	// Without an ID (the image is not here yet), the names are compared.
	if got := planFor(&podman, want, stacktest.NetID, ""); got != recreate {
		t.Errorf("image not here, another name: planned %d, want recreate", got)
	}
}

func TestPlanUpNewStack(t *testing.T) {
	cfg := stacktest.Config("p")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	o := &observe.Observed{Names: stack.NamesFor("p"), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
	p, err := PlanUp(PlanInput{Config: cfg, Observed: o, life: stack.Lifetime{Ephemeral: true}, Tree: "tree", FreePort: stacktest.Ports()})
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
		if pinnedHere != (vol.Name == o.Names.MySQLData) {
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
	cfg := stacktest.Config("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 63306, RedisPort: 63379, DashboardUUID: "u", Created: time.Unix(0, 0).UTC()}
	n := stack.NamesFor("p")
	o := &observe.Observed{Names: n, Containers: map[string]docker.Container{}, Network: &docker.Network{ID: stacktest.NetID, Name: n.Network},
		Volumes: map[string]docker.Volume{n.MySQLData: {Name: n.MySQLData, Labels: v.Labels()}, n.RedisData: {Name: n.RedisData}, n.Shared: {Name: n.Shared}}}
	for _, role := range stack.CoreRoles {
		o.Containers[role] = stacktest.Container(cfg, role, v, "running")
	}
	p, err := PlanUp(PlanInput{Config: cfg, Observed: o, life: stack.Lifetime{}, Tree: "tree", FreePort: stacktest.Ports()})
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
	cfg := stacktest.Config("p")
	labels := stack.Pinned{RootPassword: "root-from-volume", AppPassword: "app-from-volume", MySQLPort: 41000, RedisPort: 41001, DashboardUUID: "uuid", Created: time.Unix(100, 0).UTC()}.Labels()
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	v, err := stack.ChoosePinned(cfg, labels, 0, stacktest.Ports())
	if err != nil {
		t.Fatal(err)
	}
	if v.RootPassword != "root-from-volume" || v.MySQLPort != 41000 || v.RedisPort != 41001 || v.DashboardUUID != "uuid" {
		t.Errorf("pinned values not kept: %+v", v)
	}
	cfg.MySQL.Password, cfg.MySQL.Port = "from-config", 50000
	if v, _ = stack.ChoosePinned(cfg, labels, 0, stacktest.Ports()); v.AppPassword != "from-config" || v.MySQLPort != 50000 {
		t.Errorf("the config does not win: %+v", v)
	}
	// A free port equal to MySQL's is not taken twice.
	ports := []int{42000, 42000, 42001}
	fresh := stacktest.Config("q")
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

// onFake is an engine that answers as f does.
func onFake(f *fake.Engine) *Engine {
	return New(engine.NewConn(docker.Said(f)))
}

func stackOnFake(t *testing.T, project string) (*fake.Engine, *Engine) {
	f := stacktest.Running(project)
	return f, onFake(f)
}

func TestDownRemovesContainersAndNetworkKeepsVolumes(t *testing.T) {
	f, e := stackOnFake(t, "p")
	r, err := e.Down(context.Background(), "p", DownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := e.Observe(context.Background(), "p")
	if len(o.Containers) != 0 || o.Network != nil || len(o.Volumes) != 3 {
		t.Fatalf("after down: %d containers, network %v, %d volumes", len(o.Containers), o.Network, len(o.Volumes))
	}
	if !slices.ContainsFunc(f.Calls, func(c string) bool { return strings.HasPrefix(c, "stop ") }) {
		t.Errorf("containers were not stopped before removal: %v", f.Calls)
	}
	if len(r.Containers) != 3 || len(r.Networks) != 1 || len(r.Volumes) != 0 {
		t.Errorf("down reports %+v", r)
	}
	if r, err = e.Down(context.Background(), "p", DownOptions{Volumes: true}); err != nil || len(r.Volumes) != 3 {
		t.Fatalf("down --volumes: %+v, %v", r, err)
	}
	if o, _ = e.Observe(context.Background(), "p"); !o.Absent() {
		t.Fatalf("after down --volumes: %+v", o)
	}
}

// A container that a killed up had asked for is created by Docker after
// down's first look: down looks again and removes it too.
func TestDownRemovesAContainerCreatedLate(t *testing.T) {
	f, e := stackOnFake(t, "p")
	late := stacktest.Container(stacktest.Config("p"), stack.PartHelper, stack.Pinned{}, "created")
	late.Name += "-late"
	f.BeforeList = func(call int) {
		if call == 1 {
			f.AddContainer(late)
		}
	}
	if _, err := e.Down(context.Background(), "p", DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.Calls, "remove "+late.Name) {
		t.Errorf("late container not removed: %v", f.Calls)
	}
	if o, _ := e.Observe(context.Background(), "p"); !o.Absent() {
		t.Fatalf("left behind: %+v", o)
	}
}

// An interrupted up's template copy whose create finished after the only
// look that found no container holds the data volume: the volume's removal
// fails, and a second look removes the copy, then the volume.
func TestRemoveLooksAgainWhenAVolumeIsHeld(t *testing.T) {
	f, e := stackOnFake(t, "p")
	ctx := context.Background()
	if _, err := e.Down(ctx, "p", DownOptions{}); err != nil {
		t.Fatal(err)
	}
	seen, err := e.Observe(ctx, "p")
	if err != nil || len(seen.All()) != 0 {
		t.Fatalf("after down: %v, %v", seen.All(), err)
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
	if o, _ := e.Observe(ctx, "p"); !o.Absent() {
		t.Fatalf("left behind: %+v", o)
	}
}

func TestDownNeverTouchesUnlabelledResources(t *testing.T) {
	f := fake.New()
	n := stack.NamesFor("p")
	f.AddVolume(docker.Volume{Name: n.MySQLData})
	f.AddContainer(docker.Container{Name: n.MySQL})
	_, err := onFake(f).Down(context.Background(), "p", DownOptions{Volumes: true})
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "did not create") {
		t.Fatalf("clash: %v", err)
	}
	if len(f.Calls) > 0 {
		t.Fatalf("touched: %v", f.Calls)
	}
}

func TestStatusStates(t *testing.T) {
	cfg := stacktest.Config("p")
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
		o := &observe.Observed{Names: n, Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
		live := map[string]docker.Container{}
		for role, st := range tc.states {
			c := docker.Container{Image: "img", State: st, Labels: map[string]string{stack.LabelService: role}}
			o.Containers[role] = c
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
	cfg := stacktest.Config("p")
	all := stack.Blueprint{Config: cfg, Names: stack.NamesFor("p"), Pinned: stack.Pinned{MySQLPort: 1, RedisPort: 2}, Tree: "tree"}.Specs()
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
	cfg := stacktest.Config("p")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	o := &observe.Observed{Names: stack.NamesFor("p"), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	port := held.Addr().(*net.TCPAddr).Port
	// MySQL gets the held port, the others free ones (the next port up may be another test's).
	redis, _ := engine.FreeLocalPort()
	ports := []int{port, redis}
	freePort := func() (int, error) { p := ports[0]; ports = append(ports[1:], 0); return p, nil }
	p, err := PlanUp(PlanInput{Config: cfg, Observed: o, life: stack.Lifetime{}, Tree: "tree", FreePort: freePort})
	if err != nil {
		t.Fatal(err)
	}
	f.AddImage(cfg.MySQL.Image)
	f.AddImage(cfg.Redis.Image)
	e := onFake(f)
	err = e.preflight(context.Background(), p)
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "is taken") {
		t.Fatalf("port held by another process: %v", err)
	}
	own := stacktest.Container(cfg, config.ServiceMySQL, p.pinned, "running")
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
	cfg := stacktest.Config("p")
	f.AddImage(cfg.MySQL.Image)
	o := &observe.Observed{Names: stack.NamesFor("p"), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
	p, err := PlanUp(PlanInput{Config: cfg, Observed: o, life: stack.Lifetime{}, Tree: "tree", FreePort: stacktest.Ports()})
	if err != nil {
		t.Fatal(err)
	}
	u := &upRun{e: onFake(f), cfg: cfg, plan: p, progress: nil}
	s := p.Specs[stack.PartHelper]
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
	u.e = onFake(f)
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
		cfg := stacktest.Config("p")
		o := &observe.Observed{Names: stack.NamesFor("p"), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
		e := onFake(f)
		p, err := PlanUp(PlanInput{Config: cfg, Observed: o, Tree: "tree", api: e.APIVersion(), FreePort: stacktest.Ports()})
		if err != nil {
			t.Fatal(err)
		}
		for _, role := range []string{config.ServiceMySQL, config.ServiceRedis} {
			if h := p.Specs[role].Health; h == nil || h.StartInterval != interval {
				t.Errorf("API %q, %s: health check %+v, want start interval %s", api, role, h, interval)
			}
		}
	}
}

// A template copy cut short (its container left behind) is done again, and
// the short-lived container goes.
func TestPlanRefillsADataVolumeWhoseCopyWasCutShort(t *testing.T) {
	cfg := stacktest.Config("p")
	n := stack.NamesFor("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2, Created: time.Unix(100, 0).UTC()}
	o := &observe.Observed{Names: n, Containers: map[string]docker.Container{}, Network: &docker.Network{ID: stacktest.NetID, Name: n.Network},
		Volumes: map[string]docker.Volume{n.MySQLData: {Name: n.MySQLData, Labels: v.Labels()}, n.RedisData: {Name: n.RedisData}, n.Shared: {Name: n.Shared}},
		Others:  []docker.Container{{Name: n.TemplateCopy}}}
	tmpl := &server.Template{Key: "k", Volume: server.TemplateVolume("k"), RootPassword: "t", Created: time.Unix(50, 0).UTC()}
	p, err := PlanUp(PlanInput{Config: cfg, Observed: o, Tree: "tree", FreePort: stacktest.Ports(), template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if p.template != tmpl || len(p.leftovers) != 1 || p.pinned.Created != v.Created {
		t.Errorf("cut-short copy: template %v, leftovers %v, created %v", p.template, p.leftovers, p.pinned.Created)
	}
	o.Others = nil
	if p, _ = PlanUp(PlanInput{Config: cfg, Observed: o, Tree: "tree", FreePort: stacktest.Ports(), template: tmpl}); p.template != nil {
		t.Errorf("an existing data volume got a template copy")
	}
}

// A stack copied from an old template seeds rows with the template's time,
// but its resources say they are new: prune --older-than goes by them.
func TestPlanFromAnOldTemplateMakesANewStack(t *testing.T) {
	cfg := stacktest.Config("p")
	n := stack.NamesFor("p")
	o := &observe.Observed{Names: n, Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
	old := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	tmpl := &server.Template{Key: "k", Volume: server.TemplateVolume("k"), RootPassword: "t", Created: old}
	p, err := PlanUp(PlanInput{Config: cfg, Observed: o, Tree: "tree", FreePort: stacktest.Ports(), template: tmpl})
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
	a, b := stacktest.Config("p"), stacktest.Config("q")
	a.Gearmand.Enabled, b.Gearmand.Enabled = true, true
	b.MySQL.Image, b.Redis.Image, b.Gearmand.Image, b.Shared.UID = "mariadb:11", "valkey:8", "gearmand:1", 333
	va := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2, GearmandPort: 3}
	vb := stack.Pinned{RootPassword: "R", AppPassword: "A", RedisPassword: "x", MySQLPort: 4, RedisPort: 5, GearmandPort: 6}
	ha, hb := stack.Blueprint{Config: a, Pinned: va, Tree: "tree"}.Parameterised(stack.Bare), stack.Blueprint{Config: b, Pinned: vb, Tree: "tree"}.Parameterised(stack.Bare)
	for _, role := range stack.Roles(a) {
		if stack.SpecHash(ha[role]) != stack.SpecHash(hb[role]) {
			t.Errorf("%s: the hash follows configured values:\n%+v\n%+v", role, ha[role], hb[role])
		}
	}
	if other := (stack.Blueprint{Config: a, Pinned: va, Tree: "other tree"}).Parameterised(stack.Bare); stack.SpecHash(other[stack.PartHelper]) == stack.SpecHash(ha[stack.PartHelper]) {
		t.Error("the helper's hash does not follow the fixtures' shared tree")
	}
}

// A name the label search missed but that carries the project's label was
// made meanwhile (a create in flight when an interrupted up cleans up): it
// is the stack's, not a clash.
func TestClashIsOnlyANameWithoutTheLabel(t *testing.T) {
	e := New(nil)
	o := &observe.Observed{Names: stack.NamesFor("p"), Volumes: map[string]docker.Volume{}}
	adopted := false
	lookup := func(project string, adopt func()) func() (map[string]string, func(), error) {
		return func() (map[string]string, func(), error) {
			return map[string]string{stack.LabelProject: project}, adopt, nil
		}
	}
	stacktest.Must(t, e.Clash(o, "volume", "mine", lookup("p", func() { adopted = true })))
	stacktest.Must(t, e.Clash(o, "volume", "theirs", lookup("q", func() { t.Error("adopted another project's volume") })))
	stacktest.Must(t, e.Clash(o, "volume", "gone", func() (map[string]string, func(), error) { return nil, nil, docker.ErrNotFound }))
	if !adopted || !slices.Equal(o.Clashes, []string{"volume theirs"}) {
		t.Errorf("adopted %v, clashes %v", adopted, o.Clashes)
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
	cfg := stacktest.Config("p")
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
		o := &observe.Observed{Names: n, Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{
			n.Failed: {Name: n.Failed, Labels: map[string]string{stack.LabelFailure: "mysql: boom"}},
		}}
		live := map[string]docker.Container{}
		for role, st := range map[string]docker.State{config.ServiceMySQL: tc.mysql, config.ServiceRedis: up, stack.PartHelper: up} {
			c := docker.Container{Image: "img", State: st, Labels: map[string]string{stack.LabelService: role}}
			o.Containers[role] = c
			if role != stack.PartHelper {
				live[role] = c
			}
		}
		if r := statusOf(cfg, o, live); r.State != tc.state || r.Reason != tc.reason {
			t.Errorf("%s: %s %q, want %s %q", tc.name, r.State, r.Reason, tc.state, tc.reason)
		}
	}
}
