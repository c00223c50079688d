package snapshot

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// A restore keeps a journal: the volume devstack-<project>-restoring, made
// before the restore changes anything and removed once it is complete. Its
// labels are the project's, io.devstack.restoring=<snapshot> and the values
// the stack gets (those its data volume pins). Every step of a restore can
// be done again, so a restore cut short anywhere is finished by doing it
// again from the start: every command that works on the stack does that
// first (Settle), and status reports the stack as restoring meanwhile.

// labelRestoring, on the journal, names the snapshot being restored.
const labelRestoring = "io.devstack.restoring"

// partJournal is the journal's io.devstack.service.
const partJournal = "journal"

// RestoreReport is `snapshot restore -o json`; its shape is a contract.
type RestoreReport struct {
	Snapshot SnapshotInfo           `json:"snapshot"`
	Status   *converge.StatusReport `json:"status"`
	TookMS   int64                  `json:"took_ms"`
}

// Restore brings the project's stack to exactly the state of one
// of its snapshots and starts it: the services stop (their data goes), one
// short-lived container copies the snapshot's volumes over the stack's, and
// the services start on that data, which nothing seeds. A snapshot saved
// from this project brings back its pinned values too; one imported from
// elsewhere gets this project's. A snapshot of another MySQL flavour or
// major.minor version is refused, before anything changes.
func (e *Engine) Restore(ctx context.Context, cfg config.Config, name string, opts SnapshotOptions) (*RestoreReport, error) {
	t0 := time.Now()
	progress := opts.Progress
	if err := ValidateSnapshotName(name); err != nil {
		return nil, err
	}
	fx, unlock, err := e.LockForFixtures(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, target, err := e.planRestore(ctx, &cfg, name)
	if err != nil {
		return nil, err
	}
	n := stack.NamesFor(cfg.Project)
	if err := e.Docker.CreateVolume(ctx, docker.Volume{Name: n.Restoring, Labels: journalLabels(cfg.Project, name, target)}); err != nil {
		return nil, err
	}
	progress.Note("restoring snapshot %s into project %s", s, cfg.Project)
	if err := e.restore(ctx, cfg, fx, s, target, progress); err != nil {
		return nil, err
	}
	r, err := e.Status(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	return &RestoreReport{Snapshot: s.SnapshotInfo, Status: r, TookMS: time.Since(t0).Milliseconds()}, nil
}

// planRestore checks everything a restore can be refused for, before it
// changes anything, and returns the snapshot and the values the stack gets.
// cfg becomes the configuration as it applies to the stack: with the images
// its containers run where no setting names one (observe.Observed.Follow).
func (e *Engine) planRestore(ctx context.Context, cfg *config.Config, name string) (*snapshot, stack.Pinned, error) {
	s, err := e.completeSnapshot(ctx, cfg.Project, name)
	if err != nil {
		return nil, stack.Pinned{}, err
	}
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, stack.Pinned{}, err
	}
	if err := o.ClashError(); err != nil {
		return nil, stack.Pinned{}, err
	}
	*cfg = o.Follow(*cfg)
	f, err := e.serverFlavour(ctx, *cfg, o)
	if err != nil {
		return nil, stack.Pinned{}, err
	}
	if err := s.compatible(cfg.MySQL.Image, f.Name(), f.Series()); err != nil {
		return nil, stack.Pinned{}, err
	}
	target, err := restoreTarget(*cfg, s, o, engine.FreeLocalPort)
	if err != nil {
		return nil, stack.Pinned{}, err
	}
	return s, target, e.restorable(ctx, *cfg, target)
}

// completeSnapshot finds a snapshot that is complete.
func (e *Engine) completeSnapshot(ctx context.Context, project, name string) (*snapshot, error) {
	s, err := e.findSnapshot(ctx, project, name)
	switch {
	case err != nil:
		return nil, err
	case s == nil:
		return nil, noSnapshot(project, name)
	case !s.Complete:
		return nil, incomplete(project, name)
	}
	return s, nil
}

func incomplete(project, name string) error {
	return fault.Usage("snapshot %s of project %s is incomplete (what made it was cut short): save it again with --force, or remove it with `devstack snapshot rm %s`", name, project, name)
}

// restoreTarget is what the stack's pinned values become. A snapshot saved
// from this project brings its own back. One imported from elsewhere takes
// this project's passwords and ports (new ones for a new stack) and keeps
// only what its rows carry: the pipeline's UUID and the creation time.
func restoreTarget(cfg config.Config, s *snapshot, o *observe.Observed, freePort func() (int, error)) (stack.Pinned, error) {
	labels := s.pinned.Labels()
	if s.ImportedFrom != "" {
		labels = map[string]string{}
		maps.Copy(labels, o.PinnedLabels())
		maps.Copy(labels, map[string]string{stack.LabelDashboardUUID: s.pinned.DashboardUUID, stack.LabelSeeded: s.pinned.Created.Format(time.RFC3339)})
	}
	return stack.ChoosePinned(cfg, labels, converge.PublishedPort(o.Containers[config.ServiceGearmand]), freePort)
}

// restorable refuses, before a restore changes anything, a port the stack
// would publish that something else holds, and fetches missing images.
func (e *Engine) restorable(ctx context.Context, cfg config.Config, v stack.Pinned) error {
	ports := map[string]int{config.ServiceMySQL: v.MySQLPort, config.ServiceRedis: v.RedisPort, config.ServiceGearmand: v.GearmandPort}
	for _, role := range cfg.Services() {
		if err := e.CheckPort(ctx, cfg.Project, role, ports[role]); err != nil {
			return err
		}
	}
	images := observe.Images(&cfg)
	for _, role := range cfg.Services() {
		if err := e.EnsureImage(ctx, *images[role], observe.ImageVariable(role)); err != nil {
			return err
		}
	}
	return nil
}

func journalLabels(project, snapshot string, target stack.Pinned) map[string]string {
	l := stack.Lifetime{}.Labels(project, partJournal)
	maps.Copy(l, target.Labels())
	l[labelRestoring] = snapshot
	return l
}

// restore brings the stack to the snapshot's state, journal in place, and
// removes the journal once it is complete.
func (e *Engine) restore(ctx context.Context, cfg config.Config, fx *seed.Fixtures, s *snapshot, target stack.Pinned, progress event.Sink) error {
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return err
	}
	// Their data goes anyway: no clean shutdown.
	stop := func(ctx context.Context) error { return e.stopServices(ctx, o, 0) }
	if !volumesReady(o, target) {
		// A volume to make, or to make again: the services go first.
		if err := stop(ctx); err != nil {
			return err
		}
		if err := e.prepareVolumes(ctx, o, target); err != nil {
			return err
		}
		stop = nil
	}
	err = e.CopyVolumes(ctx, server.VolumeCopy{Name: o.Names.Copy, Labels: stack.Lifetime{}.Labels(cfg.Project, stack.PartHelper), Image: cfg.MySQL.Image,
		Pairs: s.volumes.pairs(stackVolumes(o.Names)), Stop: stop})
	if err != nil {
		return err
	}
	if err := e.Up(ctx, cfg, fx, converge.RunOptions{UpOptions: converge.UpOptions{Progress: progress}, KeepData: true, CopiedRoot: s.pinned.RootPassword}); err != nil {
		return err
	}
	if err := e.Docker.RemoveVolume(ctx, o.Names.Restoring); err != nil && !engine.IsNotFound(err) {
		return fault.Env(err, "%v, the journal of the restore", err)
	}
	return nil
}

// volumesReady reports whether the stack's volumes all exist and the data
// volume pins the values the stack gets already.
func volumesReady(o *observe.Observed, target stack.Pinned) bool {
	for part, name := range stackVolumes(o.Names) {
		v, exists := o.Volumes[name]
		if !exists || part == config.ServiceMySQL && !samePinned(v.Labels, target) {
			return false
		}
	}
	return true
}

// prepareVolumes readies the stack's volumes for the snapshot's data: each
// exists, and the data volume pins the values the stack gets. Docker cannot
// relabel a volume, so a data volume whose values change is made again,
// after its container.
func (e *Engine) prepareVolumes(ctx context.Context, o *observe.Observed, target stack.Pinned) error {
	for part, name := range stackVolumes(o.Names) {
		v, exists := o.Volumes[name]
		if exists && (part != config.ServiceMySQL || samePinned(v.Labels, target)) {
			continue
		}
		labels := stack.Lifetime{}.Labels(o.Names.Project, part)
		if exists {
			labels = maps.Clone(v.Labels)
			if err := e.removeDataVolume(ctx, o, name); err != nil {
				return err
			}
		}
		if part == config.ServiceMySQL {
			maps.Copy(labels, target.Labels())
			// The data is the snapshot's now, not a template's copy.
			delete(labels, server.LabelFromTemplate)
		}
		if err := e.Docker.CreateVolume(ctx, docker.Volume{Name: name, Labels: labels}); err != nil {
			return err
		}
	}
	return nil
}

// removeDataVolume removes the stack's data volume and its container.
func (e *Engine) removeDataVolume(ctx context.Context, o *observe.Observed, name string) error {
	if c, ok := o.Containers[config.ServiceMySQL]; ok {
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	if err := e.Docker.RemoveVolume(ctx, name); err != nil && !engine.IsNotFound(err) {
		return fault.Env(err, "%v; stop the containers that use it", err)
	}
	return nil
}

// samePinned reports whether labels pin exactly v.
func samePinned(labels map[string]string, v stack.Pinned) bool {
	want := v.Labels()
	for _, k := range []string{stack.LabelRootPassword, stack.LabelAppPassword, stack.LabelMySQLPort, stack.LabelRedisPort, stack.LabelGearmandPort, stack.LabelDashboardUUID, stack.LabelSeeded} {
		if labels[k] != want[k] {
			return false
		}
	}
	return true
}

// Settle finishes a restore that was cut short, as its journal records; the
// caller holds the project lock.
func (e *Engine) Settle(ctx context.Context, cfg config.Config, progress event.Sink) error {
	j, err := e.journal(ctx, cfg.Project)
	if err != nil || j == nil {
		return err
	}
	name := j.Labels[labelRestoring]
	fx, err := seeding.Load(cfg)
	if err != nil {
		return err
	}
	s, err := e.findSnapshot(ctx, cfg.Project, name)
	if err != nil {
		return err
	}
	if s == nil || !s.Complete {
		return fault.Env(nil, "a restore of snapshot %s into project %s was cut short, and the snapshot is gone: the stack's data may be incomplete; delete it with `devstack down -p %s --volumes --yes`", name, cfg.Project, cfg.Project)
	}
	progress.Note("finishing the restore of snapshot %s, which was cut short", s)
	if err := e.restore(ctx, cfg, fx, s, stack.KnownPinned(cfg, j.Labels), progress); err != nil {
		return &fault.Error{Code: fault.ExitCode(err), Err: err, Msg: fmt.Sprintf("%v (while finishing the restore of snapshot %s, which was cut short; to give it up, delete the stack's data with `devstack down -p %s --volumes --yes`)", err, name, cfg.Project)}
	}
	return nil
}

// SettleUnlocked is Settle for a command that does not hold the project
// lock: it takes the lock only when there is a restore to finish.
func (e *Engine) SettleUnlocked(ctx context.Context, cfg config.Config, progress event.Sink) error {
	if j, err := e.journal(ctx, cfg.Project); err != nil || j == nil {
		return err
	}
	unlock, err := e.LockSettled(ctx, cfg, progress)
	if err == nil {
		unlock()
	}
	return err
}

// LockForFixtures reads the fixtures, so that bad ones are refused before
// anything waits, then takes LockSettled: where the commands that bring a
// stack up start.
func (e *Engine) LockForFixtures(ctx context.Context, cfg config.Config, progress event.Sink) (*seed.Fixtures, func(), error) {
	fx, err := seeding.Load(cfg)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := e.LockSettled(ctx, cfg, progress)
	return fx, unlock, err
}

// following is cfg as it applies to the project's stack: with the images
// its containers run where no setting names one (observe.Observed.Follow).
func (e *Engine) following(ctx context.Context, cfg config.Config) (config.Config, error) {
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return cfg, err
	}
	return o.Follow(cfg), nil
}

// LockSettled takes the project lock and finishes a restore that was cut
// short, where every command that changes a stack starts; the caller
// unlocks.
func (e *Engine) LockSettled(ctx context.Context, cfg config.Config, progress event.Sink) (func(), error) {
	unlock, err := lock.Project(ctx, cfg.Project, progress)
	if err != nil {
		return nil, err
	}
	if err := e.Settle(ctx, cfg, progress); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// journal returns the project's restore journal, or nil. A volume of that
// name without the project's label is not one: observe reports it.
func (e *Engine) journal(ctx context.Context, project string) (*docker.Volume, error) {
	name := stack.NamesFor(project).Restoring
	v, err := e.Docker.Volume(ctx, name)
	if engine.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if v.Labels[stack.LabelProject] != project || v.Labels[labelRestoring] == "" {
		return nil, nil
	}
	return &v, nil
}

// serverFlavour is what cfg's MySQL image runs: asked of the stack's
// server when it runs that image, else of the image's server binary.
func (e *Engine) serverFlavour(ctx context.Context, cfg config.Config, o *observe.Observed) (setup.Flavour, error) {
	if c, ok := o.Containers[config.ServiceMySQL]; ok && c.State.Running && c.Image == cfg.MySQL.Image {
		live, err := e.Inspect(ctx, o)
		if err != nil {
			return setup.Flavour{}, err
		}
		v := converge.Connection(cfg, o, live)
		root := setup.OpenMySQL(cfg.Host, v.MySQLPort, "root", v.RootPassword, "")
		defer root.Close()
		if f, err := setup.ReadFlavour(ctx, root); err == nil {
			return f, nil
		}
	}
	return e.imageFlavour(ctx, cfg)
}

// versionScript prints the version of an image's server binary, whichever
// name it has.
const versionScript = `mysqld --version 2>/dev/null || mariadbd --version`

// imageFlavour asks the server binary of cfg's MySQL image for its version,
// in a short-lived container of the project.
func (e *Engine) imageFlavour(ctx context.Context, cfg config.Config) (setup.Flavour, error) {
	image, n := cfg.MySQL.Image, stack.NamesFor(cfg.Project)
	if err := e.EnsureImage(ctx, image, "DEVSTACK_MYSQL_IMAGE"); err != nil {
		return setup.Flavour{}, err
	}
	spec := docker.ContainerSpec{Name: n.Probe, Image: image, Entrypoint: []string{"sh", "-c", versionScript}, Labels: stack.Lifetime{}.Labels(cfg.Project, stack.PartHelper), Network: docker.NoNetwork, StopSignal: "SIGKILL"}
	if err := e.RunOwnHelper(ctx, spec); err != nil {
		return setup.Flavour{}, fault.Env(err, "%v, to read its MySQL version", err)
	}
	defer e.Docker.Remove(context.WithoutCancel(ctx), n.Probe)
	var out strings.Builder
	code, err := e.Docker.Wait(ctx, n.Probe)
	if err == nil {
		err = e.Docker.Logs(ctx, n.Probe, docker.LogOptions{}, &out, &out)
	}
	if err != nil {
		return setup.Flavour{}, fault.Env(err, "%v, to read the MySQL version of %s", err, image)
	}
	f, perr := setup.BinaryFlavour(out.String())
	if code != 0 || perr != nil {
		return setup.Flavour{}, fault.Env(perr, "cannot read the MySQL version of %s: `%s` exited with code %d: %s", image, versionScript, code, strings.TrimSpace(out.String()))
	}
	return f, nil
}
