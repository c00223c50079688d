package converge

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// UpOptions tune Up; the zero value makes an everyday stack quietly.
type UpOptions struct {
	Lifetime stack.Lifetime
	Progress event.Sink
}

// RunOptions tune Up for save and restore.
type RunOptions struct {
	UpOptions
	// KeepData: the volumes hold a state to keep as it is (a snapshot just
	// restored, or the state just saved): up starts the services and
	// changes no data, neither seeding nor laying out the shared directory.
	KeepData bool
	// CopiedRoot is the root password that restored data may answer to
	// instead of the stack's: the snapshot's, which root then gives up.
	CopiedRoot string
}

// Up brings the stack to cfg's state; the caller holds the project lock.
func (e *Engine) Up(ctx context.Context, cfg config.Config, fx *seed.Fixtures, opts RunOptions) error {
	progress := opts.Progress
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return err
	}
	if err := o.ClashError(); err != nil {
		return err
	}
	// Spare networks hold nothing that runs (a container joins by name,
	// which they make ambiguous): they go before anything joins one.
	for _, n := range o.SpareNetworks {
		if err := e.Docker.RemoveNetwork(ctx, n.ID); err != nil && !engine.IsNotFound(err) {
			return fault.Env(err, "%v, made twice by an up the engine cut short", err)
		}
	}
	cfg = o.Follow(cfg)
	live, err := e.Inspect(ctx, o)
	if err != nil {
		return err
	}
	// The plan compares what the containers run with.
	maps.Copy(o.Containers, live)
	in := PlanInput{Config: cfg, Observed: o, life: opts.Lifetime, Tree: seeding.SharedTree(cfg, fx).Digest(), api: e.APIVersion(), FreePort: engine.FreeLocalPort, imageIDs: e.imageIDs(ctx, cfg)}
	// Data to keep comes from a snapshot or is the stack's own: a template
	// copy left half done before it is overwritten, and goes as a leftover.
	if _, ok := o.Volumes[o.Names.MySQLData]; !opts.KeepData && (!ok || o.CopyCutShort()) {
		if in.template, err = e.TemplateFor(ctx, cfg, fx); err != nil {
			return err
		}
	}
	p, err := PlanUp(in)
	if err != nil {
		return err
	}
	// Everything that can be refused is checked before anything is made, so
	// bad input leaves nothing behind.
	if err := e.preflight(ctx, p); err != nil {
		return err
	}
	if cfg.Bind != "" {
		progress.Step("stack", "the engine is remote: %s", ReachedAt(cfg))
	}
	if e.Tunnels != nil {
		ports := []int{p.pinned.MySQLPort, p.pinned.RedisPort}
		if cfg.Gearmand.Enabled {
			ports = append(ports, p.pinned.GearmandPort)
		}
		for _, port := range ports {
			if err := e.Tunnels.Forward(ctx, port); err != nil {
				return err
			}
		}
		progress.Step("stack", "the engine is reached through ssh, and so are its ports, while devstack runs; for other programs: %s", e.Tunnels.Command(ports...))
	}
	u := &upRun{e: e, cfg: cfg, plan: p, seeder: seed.NewSeeder(fx), progress: progress, redisUp: make(chan error, 1), othersMayStart: make(chan struct{}), templateMade: func() error { return nil }, keepData: opts.KeepData, copiedRoot: opts.CopiedRoot}
	if err := u.applyPlan(ctx); err != nil {
		return e.failedUp(ctx, o, p, err, progress)
	}
	if _, failed := o.Volumes[p.names.Failed]; failed {
		if err := e.Docker.RemoveVolume(ctx, p.names.Failed); err != nil && !engine.IsNotFound(err) {
			return fault.Env(err, "%v, the record of an up that failed", err)
		}
	}
	return nil
}

// failedUp cleans up after an up that failed once it had begun. A first up
// leaves nothing of the new stack, as bad input found before it began does:
// bad input nothing at all, any other failure the record of why, which
// status reports. An up on an existing stack leaves it as it is, its data
// kept, with that record. An up that was interrupted leaves what it made
// for the next up to finish.
func (e *Engine) failedUp(ctx context.Context, o *observe.Observed, p *upPlan, err error, progress event.Sink) error {
	ctx = context.WithoutCancel(ctx)
	if o.Absent() && !errors.Is(err, context.Canceled) {
		progress.Note("removing the new stack %s: %v", p.names.Project, err)
		if rerr := e.removeNew(ctx, p.names.Project, progress); rerr != nil {
			return fmt.Errorf("%w (and removing what up made failed: %v)", err, rerr)
		}
		if fault.ExitCode(err) == fault.ExitUsage {
			return err
		}
	}
	// A container that crashed is not left to restart for ever under its
	// restart policy: it stops, its data kept, until the next up. One that
	// runs but fails its health check stays: it may yet recover, or be in use.
	var cf *engine.ContainerFailed
	if errors.As(err, &cf) && cf.Crashed && !cf.Removed && !o.Absent() {
		if e.Docker.Stop(ctx, cf.Name, 2*time.Second) == nil {
			err = fmt.Errorf("%w (%s is stopped until the next up)", err, cf.Name)
		}
	}
	if rerr := e.recordFailure(ctx, p, err); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// recordFailure leaves the record of an up that failed once it had started
// to change the stack, so that status reports the stack as partial, and
// why, until an up succeeds. A record that is already there is replaced:
// labels cannot change.
func (e *Engine) recordFailure(ctx context.Context, p *upPlan, cause error) error {
	reason := cause.Error()
	if errors.Is(cause, context.Canceled) {
		reason = "interrupted"
	}
	if len(reason) > 1000 {
		reason = reason[:1000] + "..."
	}
	labels := p.life.Labels(p.names.Project, stack.PartFailure)
	labels[stack.LabelFailure] = reason
	name := p.names.Failed
	if err := e.Docker.RemoveVolume(ctx, name); err != nil && !engine.IsNotFound(err) {
		return fault.Env(err, "%v, the record of an up that failed", err)
	}
	if err := e.Docker.CreateVolume(ctx, docker.Volume{Name: name, Labels: labels}); err != nil {
		return fault.Env(err, "%v, to record the failed up", err)
	}
	return nil
}

// removeNew removes a stack up has just made, volumes included.
func (e *Engine) removeNew(ctx context.Context, project string, progress event.Sink) error {
	o, err := e.Observe(ctx, project)
	if err != nil {
		return err
	}
	_, err = e.remove(ctx, o, true, progress)
	return err
}

// preflight refuses a taken port and fetches missing images.
func (e *Engine) preflight(ctx context.Context, p *upPlan) error {
	for _, role := range stack.AllRoles {
		if port, ok := p.portChecks()[role]; ok {
			if err := e.CheckPort(ctx, p.names.Project, role, port); err != nil {
				return err
			}
		}
	}
	for ref, setting := range p.images() {
		if err := e.EnsureImage(ctx, ref, setting); err != nil {
			return err
		}
	}
	return nil
}

// CheckPort refuses a host port that role would publish and something else
// holds. The engine may have started a container of the stack since it was
// observed (the create of an up that was killed): its port is no conflict.
// Ports on a remote engine cannot be checked here.
func (e *Engine) CheckPort(ctx context.Context, project, role string, port int) error {
	if !e.Local() || engine.PortFree("127.0.0.1", port) {
		return nil
	}
	own, err := e.Docker.Containers(ctx, observe.ProjectLabel(project))
	if err != nil {
		return err
	}
	if !publishes(own, port) {
		return fault.PortTaken(role, "127.0.0.1", port)
	}
	return nil
}

// publishes reports whether one of the containers publishes host port port.
func publishes(cs []docker.Container, port int) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.HostPort == port {
				return true
			}
		}
	}
	return false
}

// upRun is one up applying its plan.
type upRun struct {
	e        *Engine
	cfg      config.Config
	plan     *upPlan
	seeder   *seed.Seeder
	progress event.Sink
	// restarts are the containers' restart counts when up took them on: a
	// higher count later means a crash.
	restarts sync.Map
	// lastListenCheck is when refusedWhileListening last looked, and
	// listeningSince when it first saw the server listen, by role.
	lastListenCheck, listeningSince sync.Map
	// restartedAfterStop marks the roles alive started again after a clean
	// stop another command sent.
	restartedAfterStop sync.Map
	// redisUp carries Redis's outcome to gearmand, whose queue lives there.
	redisUp chan error
	// othersMayStart is closed once the container that copies a template into
	// MySQL's new data volume has started, or when there is no copy: the
	// others start theirs then. The copy and the server's start after it
	// are the longest path, and container starts at once slow each other
	// down (measured: a cold up 10% quicker so, an up after down 10%
	// slower, so only the copy goes first).
	othersMayStart chan struct{}
	othersOnce     sync.Once
	// keepData and copiedRoot: see RunOptions.
	keepData   bool
	copiedRoot string
	// serverStart is how this up started MySQL's server, when it made its
	// container; entrypointOnly is set once a direct start has failed.
	serverStart    server.ServerStart
	entrypointOnly bool
	// firstServer is set while the container made is the stack's first
	// server, which a template is made from.
	firstServer *server.InPlace
	// templateMade waits for a template made in place to be complete.
	templateMade func() error
}

func (u *upRun) applyPlan(ctx context.Context) error {
	// Short-lived containers a process that died left behind.
	if err := u.e.removeContainers(ctx, u.plan.leftovers, false, u.progress); err != nil {
		return err
	}
	if err := u.makeNetworkAndVolumes(ctx); err != nil {
		return err
	}
	return engine.Parallel(ctx, u.part(config.ServiceMySQL, u.upMySQL), u.part(config.ServiceRedis, u.upRedis),
		u.part(config.ServiceGearmand, u.upGearmand), u.part(stack.PartHelper, u.upHelper))
}

// part names the part of the stack that a step's error comes from.
func (u *upRun) part(name string, step func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := step(ctx)
		if err == nil || errors.Is(err, context.Canceled) || strings.HasPrefix(err.Error(), name+":") {
			return err
		}
		return fmt.Errorf("%s: %w", name, err)
	}
}

// releaseOthers says that the template's copy has started, or that there is
// none.
func (u *upRun) releaseOthers() { u.othersOnce.Do(func() { close(u.othersMayStart) }) }

// afterCopyStart waits until the template's copy has started.
func (u *upRun) afterCopyStart(ctx context.Context) error {
	select {
	case <-u.othersMayStart:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (u *upRun) makeNetworkAndVolumes(ctx context.Context) error {
	n := u.plan.names
	if u.plan.newNetwork {
		u.progress.Step(stack.PartNetwork, "creating network %s", n.Network)
		id, err := u.e.Docker.CreateNetwork(ctx, n.Network, u.plan.life.Labels(n.Project, stack.PartNetwork))
		if err != nil {
			return err
		}
		u.plan.networkID = id
		u.progress.Done(stack.PartNetwork, 0, "done: created %s", n.Network)
	}
	for _, v := range u.plan.newVolumes {
		u.progress.Step(v.Labels[stack.LabelService], "creating volume %s", v.Name)
		if err := u.e.Docker.CreateVolume(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// converge brings one container to its planned state.
func (u *upRun) converge(ctx context.Context, role string) error {
	s := u.plan.Specs[role]
	if a := u.plan.actions[role]; a == keep || a == start {
		c, err := u.e.Docker.Inspect(ctx, u.plan.current[role].ID)
		if err != nil {
			return err
		}
		u.restarts.Store(role, c.State.RestartCount)
	}
	switch u.plan.actions[role] {
	case start:
		u.progress.Step(role, "starting %s", s.Name)
		if err := u.e.Docker.Start(ctx, u.plan.current[role].ID); err != nil {
			if perr := engine.PublishFailed(role, s.Ports[0], err); perr != nil {
				return perr
			}
			return err
		}
	case recreate:
		u.progress.Step(role, "settings changed, replacing %s (data kept)", s.Name)
		if err := u.e.RemoveContainer(ctx, u.plan.current[role].ID); err != nil {
			return err
		}
		return u.create(ctx, role)
	case create:
		return u.create(ctx, role)
	case remove:
		u.progress.Step(role, "not configured any more, removing %s", u.plan.current[role].Name)
		return u.e.RemoveContainer(ctx, u.plan.current[role].ID)
	}
	return nil
}

func (u *upRun) create(ctx context.Context, role string) error {
	s := u.plan.Specs[role]
	u.progress.Step(role, "creating %s from %s", s.Name, s.Image)
	err := u.runContainer(ctx, role)
	if errors.Is(err, docker.ErrNameTaken) {
		return u.adopt(ctx, role, err)
	}
	if perr := engine.PublishFailed(role, s.Ports[0], err); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	return nil
}

// runContainer makes and starts role's container: a service through
// testcontainers, the helper (which publishes nothing) directly. MySQL's
// server is started by the image's entrypoint, or directly (server.Engine.ServerSpec).
func (u *upRun) runContainer(ctx context.Context, role string) error {
	s := u.plan.Specs[role]
	switch role {
	case stack.PartHelper:
		return u.e.Docker.RunHelper(ctx, s)
	case config.ServiceMySQL:
		if u.firstServer != nil {
			s = u.firstServer.Spec(s)
		}
		var err error
		if s, u.serverStart, err = u.e.ServerSpec(ctx, s, !u.entrypointOnly); err != nil {
			return err
		}
	}
	return u.e.Docker.RunService(ctx, s)
}

// adopt handles a container that appeared under role's name after up
// looked: the engine finishing a create that a killed up had sent. One with
// the stack's label is the stack's: planned again and brought in line. Any
// other is somebody else's.
func (u *upRun) adopt(ctx context.Context, role string, taken error) error {
	s := u.plan.Specs[role]
	c, err := u.e.Docker.Inspect(ctx, s.Name)
	if err != nil || c.Labels[stack.LabelProject] != u.plan.names.Project {
		return fault.Usage("name taken by a container devstack did not create: %s; remove or rename it, or use another project (-p)", s.Name)
	}
	switch planFor(&c, s, u.plan.networkID, u.plan.imageIDs[s.Image]) {
	case keep:
		return nil
	case start:
		if err := u.e.Docker.Start(ctx, c.ID); err != nil {
			return err
		}
		return nil
	}
	if err := u.e.RemoveContainer(ctx, c.ID); err != nil {
		return err
	}
	if err := u.runContainer(ctx, role); err != nil {
		return fault.Env(err, "%v (after %v)", err, taken)
	}
	return nil
}

// alive fails permanently when role's container has failed since up took
// it on.
func (u *upRun) alive(ctx context.Context, role string) error {
	restarts, _ := u.restarts.Load(role)
	n, _ := restarts.(int)
	err := u.e.Alive(ctx, u.plan.Specs[role].Name, n)
	var cf *engine.ContainerFailed
	if errors.As(err, &cf) && cf.CleanStop {
		// A clean stop this up did not send: a killed command's (a save
		// stops MySQL) that the engine finished meanwhile. Start it again,
		// once.
		if _, again := u.restartedAfterStop.LoadOrStore(role, true); !again {
			u.progress.Step(role, "%s was stopped by another command meanwhile; starting it again", u.plan.Specs[role].Name)
			if serr := u.e.Docker.Start(ctx, u.plan.Specs[role].Name); serr != nil {
				return err
			}
			return nil
		}
	}
	return err
}

// probeError makes a failed readiness probe final when waiting cannot help.
func (u *upRun) probeError(ctx context.Context, role string, err error) error {
	if engine.Unreachable(err) {
		return engine.Permanent(fault.Env(err, "cannot reach %s at %s: %v; check the host setting (DEVSTACK_HOST)", role, u.cfg.Host, err))
	}
	if aerr := u.alive(ctx, role); aerr != nil {
		return aerr
	}
	if errors.Is(err, syscall.ECONNREFUSED) && u.cfg.Bind != "" && u.refusedWhileListening(ctx, role) {
		p := u.plan.Specs[role].Ports[0]
		return engine.Permanent(fault.Usage("%s listens in its container, but %s:%d refuses connections from here: the engine published it on an address that does not lead to it; set DEVSTACK_HOST to the address this machine reaches the engine's machine at", role, u.cfg.Host, p.HostPort))
	}
	return err
}

// refusedWhileListening reports whether role's server has listened on its
// port inside its container (/proc/net/tcp*, which every Linux container
// has) for three seconds while its published port refused from here: a
// remote engine's port that refuses that long after never will (the
// engine's proxy takes a moment after the start). It looks at most once a
// second.
func (u *upRun) refusedWhileListening(ctx context.Context, role string) bool {
	if since, ok := u.listeningSince.Load(role); ok {
		return time.Since(since.(time.Time)) > 3*time.Second
	}
	last, _ := u.lastListenCheck.Load(role)
	if t, ok := last.(time.Time); ok && time.Since(t) < time.Second {
		return false
	}
	u.lastListenCheck.Store(role, time.Now())
	s := u.plan.Specs[role]
	out, err := (engine.InContainer{Docker: u.e.Docker, Name: s.Name}).Exec(ctx, "cat", "/proc/net/tcp", "/proc/net/tcp6")
	if err == nil && listening(out, s.Ports[0].ContainerPort) {
		u.listeningSince.Store(role, time.Now())
	}
	return false
}

// listening reports whether /proc/net/tcp lines hold a socket listening on
// port (state 0A).
func listening(procNetTCP string, port int) bool {
	suffix := fmt.Sprintf(":%04X", port)
	for line := range strings.Lines(procNetTCP) {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" {
			return true
		}
	}
	return false
}

// ready reports a service that up had to start.
func (u *upRun) ready(role string, since time.Time) {
	if u.plan.actions[role] != keep {
		took := time.Since(since)
		u.progress.Done(role, took, "ready in %.1fs", took.Seconds())
	}
}

// upRedis: the container and a Redis that answers PING.
func (u *upRun) upRedis(ctx context.Context) (err error) {
	defer func() { u.redisUp <- err }()
	t0 := time.Now()
	if u.plan.actions[config.ServiceRedis] != keep {
		if err := u.afterCopyStart(ctx); err != nil {
			return err
		}
	}
	if err := u.converge(ctx, config.ServiceRedis); err != nil {
		return err
	}
	if err := u.waitRedis(ctx); err != nil {
		return err
	}
	u.ready(config.ServiceRedis, t0)
	return nil
}

// waitRedis polls until Redis answers PING.
func (u *upRun) waitRedis(ctx context.Context) error {
	v := u.plan.pinned
	rdb := setup.OpenRedis(u.cfg.Host, v.RedisPort, v.RedisPassword)
	defer rdb.Close()
	return engine.Poll(ctx, 60*time.Second, "Redis ("+u.plan.names.Redis+")", func(ctx context.Context) error {
		if err := rdb.Ping(ctx).Err(); err != nil {
			return u.probeError(ctx, config.ServiceRedis, err)
		}
		return nil
	})
}

// upHelper: the helper container and the shared directory's layout and
// files. A helper that is kept was made with the current fixtures, after
// they were laid out: nothing to do.
func (u *upRun) upHelper(ctx context.Context) error {
	a := u.plan.actions[stack.PartHelper]
	if a == keep {
		return nil
	}
	t0 := time.Now()
	if err := u.afterCopyStart(ctx); err != nil {
		return err
	}
	n := u.plan.names
	name := n.Helper
	if a == create || a == recreate {
		// A new helper takes its name last, once the shared directory is
		// laid out: one that runs under it had its layout done, which up
		// then leaves alone, even after an up killed half way.
		name = n.NewHelper
		if err := u.newHelper(ctx, a); err != nil {
			return err
		}
	} else if err := u.converge(ctx, stack.PartHelper); err != nil {
		return err
	}
	c, tree := engine.InContainer{Docker: u.e.Docker, Name: name}, seeding.SharedTree(u.cfg, u.seeder.F)
	// The copy a reset starts from, made now while MySQL boots.
	if err := shared.Prepare(ctx, c, tree); err != nil {
		return err
	}
	u.ready(stack.PartHelper, t0)
	if !u.keepData {
		lay := shared.Sync
		if u.plan.newVolume(n.Shared) {
			lay = shared.Reset
		}
		res, err := lay(ctx, c, tree)
		if err != nil {
			return err
		}
		u.progress.Done(stack.PartShared, 0, "done: %s laid out, %d files written", stack.SharedDir, len(res.Written))
	}
	if name != n.Helper {
		if err := u.e.Docker.Rename(ctx, name, n.Helper); err != nil {
			return err
		}
	}
	return nil
}

// newHelper makes the helper under its temporary name, replacing the one
// there is (recreate) and one a killed up left under that name.
func (u *upRun) newHelper(ctx context.Context, a action) error {
	n, s := u.plan.names, u.plan.Specs[stack.PartHelper]
	if a == recreate {
		u.progress.Step(stack.PartHelper, "settings changed, replacing %s (data kept)", s.Name)
		if err := u.e.RemoveContainer(ctx, u.plan.current[stack.PartHelper].ID); err != nil {
			return err
		}
	}
	u.progress.Step(stack.PartHelper, "creating %s from %s", s.Name, s.Image)
	s.Name = n.NewHelper
	return u.e.RunOwnHelper(ctx, s)
}

// Helper reaches the shared directory through the stack's helper container.
func (e *Engine) Helper(n stack.Names) shared.Container {
	return engine.InContainer{Docker: e.Docker, Name: n.Helper}
}

// imageIDs resolves the configured images that are here to their IDs, for
// the plan; one that is not here (yet) is left out, and compared by name.
func (e *Engine) imageIDs(ctx context.Context, cfg config.Config) map[string]string {
	ids := map[string]string{}
	refs := observe.Images(&cfg)
	for _, role := range cfg.Services() {
		ref := *refs[role]
		if _, done := ids[ref]; done || ref == "" {
			continue
		}
		if img, err := e.Docker.Image(ctx, ref); err == nil {
			ids[ref] = img.ID
		}
	}
	return ids
}

// ReachedAt says where the stack's ports are published, and so who can reach
// them.
func ReachedAt(cfg config.Config) string {
	if cfg.Bind == "" {
		return "ports published on 127.0.0.1 of the engine's machine, reached at " + cfg.Host
	}
	return "ports published on " + cfg.Bind + ", reachable from every network that reaches that address"
}
