package emulator

import (
	"context"
	"errors"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/compose"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// Up brings a project's stack to the configured state: it observes what
// Docker has, plans what to create, start or replace, and applies the plan:
// network and volumes first, then each service's steps in parallel. On a
// running, up-to-date stack it creates and starts nothing. A restore that
// was cut short is finished first.
func Up(ctx context.Context, e *Engine, cfg config.Config, opts UpOptions) (*StatusReport, error) {
	progress := opts.Progress
	fx, unlock, err := e.core.LockForFixtures(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := e.core.Up(ctx, cfg, fx, converge.RunOptions{UpOptions: opts}); err != nil {
		return nil, err
	}
	r, err := e.core.Status(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	// Something stopped the stack since it was ready (the engine, a user's
	// docker stop): an up that leaves no running stack failed.
	if r.State != converge.StateRunning {
		return r, fault.Env(nil, "the stack is %s after up: %s; run `devstack up` again", r.State, stack.FirstNonEmpty(r.Reason, "a container stopped since it was ready"))
	}
	return r, nil
}

// Down stops the project's containers gracefully and removes them and the
// network. Volumes stay unless opts.Volumes. Only resources with the
// project's label are touched; names held by others are reported, after the
// rest is done, as an error. A restore that was cut short is finished
// first, unless the data goes anyway; one that cannot be finished does not
// keep the containers up, and its journal stays for the next command.
func Down(ctx context.Context, e *Engine, cfg config.Config, opts DownOptions) (*DownReport, error) {
	progress := opts.Progress
	unlock, err := lock.Project(ctx, cfg.Project, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var unsettled error
	if !opts.Volumes {
		unsettled = e.core.Settle(ctx, cfg, progress)
	}
	r, err := e.core.DownLocked(ctx, cfg.Project, opts)
	return r, errors.Join(unsettled, err)
}

// Status reports a project's stack as Docker has it, found by label.
func Status(ctx context.Context, e *Engine, cfg config.Config) (*StatusReport, error) {
	return e.core.Status(ctx, cfg, false)
}

// ListSnapshots returns the snapshots of cfg's project, or of every project
// with all, oldest first.
func ListSnapshots(ctx context.Context, e *Engine, cfg config.Config, all bool) ([]SnapshotInfo, error) {
	return e.core.List(ctx, cfg, all)
}

// RemoveSnapshot removes one of the project's snapshots and returns its
// volumes.
func RemoveSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, progress event.Sink) ([]string, error) {
	return e.core.Remove(ctx, cfg, name, progress)
}

// ExportSnapshot writes one of the project's snapshots as one file.
func ExportSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, opts ExportOptions) (*ExportReport, error) {
	return e.core.Export(ctx, cfg, name, opts)
}

// ImportSnapshot makes a snapshot of the project from an export.
func ImportSnapshot(ctx context.Context, e *Engine, cfg config.Config, opts ImportOptions) (*SnapshotInfo, error) {
	return e.core.Import(ctx, cfg, opts)
}

// RestoreSnapshot brings the project's stack to exactly the state of one of
// its snapshots and starts it: the services stop (their data goes), one short-
// lived container copies the snapshot's volumes over the stack's, and the
// services start on that data, which nothing seeds.
func RestoreSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, opts SnapshotOptions) (*RestoreReport, error) {
	return e.core.Restore(ctx, cfg, name, opts)
}

// SaveSnapshot copies a running stack's three volumes into a snapshot: Redis
// saves to disk, the services stop (MySQL cleanly), one short-lived container
// copies the volumes, and the services start again with their data as it was:
// nothing is seeded.
func SaveSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, opts SnapshotOptions) (*SaveReport, error) {
	return e.core.Save(ctx, cfg, name, opts)
}

// Compose returns the compose file of the stack cfg describes: the same
// stack, seeded the same way, for docker compose without devstack.
func Compose(cfg config.Config) ([]byte, error) { return compose.File(cfg) }
