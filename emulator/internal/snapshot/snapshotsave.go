package snapshot

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// SnapshotOptions tune save and restore.
type SnapshotOptions struct {
	// Version is devstack's own, which a snapshot records.
	Version string
	// Force lets save replace a snapshot of the same name.
	Force    bool
	Progress event.Sink
}

// SaveReport is `snapshot save -o json`; its shape is a contract.
type SaveReport struct {
	Snapshot SnapshotInfo `json:"snapshot"`
	// Foreign are the containers devstack did not make that use the
	// stack's volumes: the copy may not be consistent across them.
	Foreign []string `json:"foreign_containers"`
	TookMS  int64    `json:"took_ms"`
}

// Save copies a running stack's three volumes into a snapshot:
// Redis saves to disk, the services stop (MySQL cleanly), one short-lived
// container copies the volumes, and the services start again with their
// data as it was: nothing is seeded. A snapshot of the same name is
// replaced only with opts.Force.
func (e *Engine) Save(ctx context.Context, cfg config.Config, name string, opts SnapshotOptions) (*SaveReport, error) {
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
	o, err := e.runningStack(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cfg = o.Follow(cfg)
	old, err := e.findSnapshot(ctx, cfg.Project, name)
	if err != nil {
		return nil, err
	}
	if old != nil && !opts.Force {
		return nil, fault.Usage("project %s has a snapshot %s already: pass --force to replace it, or choose another name", cfg.Project, name)
	}
	r := &SaveReport{}
	if r.Foreign, err = e.foreignUsers(ctx, o); err != nil {
		return nil, err
	}
	if len(r.Foreign) > 0 {
		progress.Note("the snapshot may not be consistent: containers devstack did not make use the stack's volumes (%s), and what they write during the save may make the copies of MySQL, Redis and the shared directory disagree; stop them first", strings.Join(r.Foreign, ", "))
	}
	s, err := e.newSnapshot(ctx, cfg, o, name, opts.Version)
	if err != nil {
		return nil, err
	}
	if old != nil {
		progress.Note("replacing snapshot %s", old)
		if err := e.removeSnapshot(ctx, old); err != nil {
			return nil, err
		}
	}
	progress.Note("saving snapshot %s of project %s", name, cfg.Project)
	if err := e.save(ctx, cfg, fx, o, s, progress); err != nil {
		if rerr := e.removeSnapshot(context.WithoutCancel(ctx), s); rerr != nil {
			return nil, fmt.Errorf("%w (and removing the unfinished snapshot failed: %v)", err, rerr)
		}
		return nil, err
	}
	r.Snapshot, r.TookMS = s.SnapshotInfo, time.Since(t0).Milliseconds()
	return r, nil
}

// runningStack observes the project's stack and fails unless every service
// runs: a snapshot records what its server says of itself.
func (e *Engine) runningStack(ctx context.Context, cfg config.Config) (*observe.Observed, error) {
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	if err := o.ClashError(); err != nil {
		return nil, err
	}
	for _, role := range cfg.Services() {
		if c, ok := o.Containers[role]; !ok || !c.State.Running {
			return nil, fault.Env(nil, "the %s stack is not running (%s is down): run `devstack up` first", cfg.Project, role)
		}
	}
	return o, nil
}

// newSnapshot describes a snapshot of the running stack: its server's
// flavour and schema, and the values the stack runs with. Redis saves to
// disk now, so that one that cannot write fails the save before anything
// stops.
func (e *Engine) newSnapshot(ctx context.Context, cfg config.Config, o *observe.Observed, name, version string) (*snapshot, error) {
	live, err := e.Inspect(ctx, o)
	if err != nil {
		return nil, err
	}
	v := converge.Connection(cfg, o, live)
	root := setup.OpenMySQL(cfg.Host, v.MySQLPort, "root", v.RootPassword, "")
	defer root.Close()
	f, err := setup.ReadFlavour(ctx, root)
	if err != nil {
		return nil, fault.Env(err, "cannot read the MySQL version of the %s stack: %v", cfg.Project, err)
	}
	schema, err := setup.SchemaDigest(ctx, root)
	if err != nil {
		return nil, fault.Env(err, "cannot read the schema of the %s stack: %v", cfg.Project, err)
	}
	rdb := setup.OpenRedis(cfg.Host, v.RedisPort, v.RedisPassword)
	defer rdb.Close()
	if err := rdb.Save(ctx).Err(); err != nil {
		return nil, fault.Env(err, "Redis of the %s stack cannot save to disk: %v", cfg.Project, err)
	}
	return &snapshot{SnapshotInfo: SnapshotInfo{Name: name, Project: cfg.Project, Created: time.Now().UTC().Truncate(time.Second),
		Flavour: f.Name(), MySQLVersion: f.Series(), Image: live[config.ServiceMySQL].Image, DevstackVersion: version, Schema: schema, SizeBytes: -1},
		pinned: v, volumes: snapshotVolumesOf(cfg.Project, name)}, nil
}

// save makes the snapshot's volumes and copies the stack into them while
// its services are stopped, then starts them again, keeping their data.
func (e *Engine) save(ctx context.Context, cfg config.Config, fx *seed.Fixtures, o *observe.Observed, s *snapshot, progress event.Sink) error {
	if err := e.makeSnapshotVolumes(ctx, s); err != nil {
		return err
	}
	copied := e.CopyVolumes(ctx, server.VolumeCopy{Name: o.Names.Copy, Labels: stack.Lifetime{}.Labels(cfg.Project, stack.PartHelper), Image: cfg.MySQL.Image,
		Pairs: stackVolumes(o.Names).pairs(s.volumes), Strip: true,
		Stop: func(ctx context.Context) error { return e.stopServices(ctx, o, server.CleanStop) }})
	if copied == nil {
		copied = e.recordSnapshot(ctx, s)
	}
	// The stack comes back whatever became of the copy.
	started := e.Up(ctx, cfg, fx, converge.RunOptions{UpOptions: converge.UpOptions{Progress: progress}, KeepData: true})
	if copied != nil {
		return copied
	}
	return started
}

// stopServices stops the stack's services in parallel (not the helper,
// which holds no data), each within timeout before Docker kills it.
func (e *Engine) stopServices(ctx context.Context, o *observe.Observed, timeout time.Duration) error {
	var steps []func(context.Context) error
	for _, role := range []string{config.ServiceMySQL, config.ServiceRedis, config.ServiceGearmand} {
		c, ok := o.Containers[role]
		if !ok {
			continue
		}
		steps = append(steps, func(ctx context.Context) error {
			if err := e.Docker.Stop(ctx, c.ID, timeout); err != nil && !engine.IsNotFound(err) {
				return err
			}
			return nil
		})
	}
	return engine.Parallel(ctx, steps...)
}

// foreignUsers names the containers devstack did not make that mount one
// of the stack's volumes.
func (e *Engine) foreignUsers(ctx context.Context, o *observe.Observed) ([]string, error) {
	all, err := e.Docker.Containers(ctx)
	if err != nil {
		return nil, err
	}
	ours := slices.Collect(maps.Values(stackVolumes(o.Names)))
	foreign := []string{}
	for _, c := range all {
		if c.Labels[stack.LabelProject] != o.Names.Project && slices.ContainsFunc(c.Volumes, func(v string) bool { return slices.Contains(ours, v) }) {
			foreign = append(foreign, c.Name)
		}
	}
	slices.Sort(foreign)
	return foreign, nil
}
