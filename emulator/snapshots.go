package emulator

import (
	"context"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/internal/snapshot"
)

// ListSnapshots returns the snapshots of cfg's project, or of every project
// with all, oldest first.
func ListSnapshots(ctx context.Context, e *Engine, cfg config.Config, all bool) ([]snapshot.SnapshotInfo, error) {
	return e.List(ctx, cfg, all)
}

// RemoveSnapshot removes one of the project's snapshots and returns its
// volumes.
func RemoveSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, progress event.Sink) ([]string, error) {
	return e.Remove(ctx, cfg, name, progress)
}

// ExportSnapshot writes one of the project's snapshots as one file.
func ExportSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, opts snapshot.ExportOptions) (*snapshot.ExportReport, error) {
	return e.Export(ctx, cfg, name, opts)
}

// ImportSnapshot makes a snapshot of the project from an export.
func ImportSnapshot(ctx context.Context, e *Engine, cfg config.Config, opts snapshot.ImportOptions) (*snapshot.SnapshotInfo, error) {
	return e.Import(ctx, cfg, opts)
}

// RestoreSnapshot brings the project's stack to exactly the state of one of
// its snapshots and starts it: the services stop (their data goes), one short-
// lived container copies the snapshot's volumes over the stack's, and the
// services start on that data, which nothing seeds.
func RestoreSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, opts snapshot.SnapshotOptions) (*snapshot.RestoreReport, error) {
	return e.Restore(ctx, cfg, name, opts)
}

// SaveSnapshot copies a running stack's three volumes into a snapshot: Redis
// saves to disk, the services stop (MySQL cleanly), one short-lived container
// copies the volumes, and the services start again with their data as it was:
// nothing is seeded.
func SaveSnapshot(ctx context.Context, e *Engine, cfg config.Config, name string, opts snapshot.SnapshotOptions) (*snapshot.SaveReport, error) {
	return e.Save(ctx, cfg, name, opts)
}
