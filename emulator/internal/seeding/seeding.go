// Package seeding reads the fixtures and applies them to MySQL and the shared
// directory, saying what fails in devstack's words (bad input or a broken
// environment).
package seeding

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
	"github.com/wellcomecollection/devstack/fixtures"
)

// Load reads and validates the fixtures before anything is written;
// a bad fixture is bad input.
func Load(cfg config.Config) (*seed.Fixtures, error) {
	fx, err := seed.Load(cfg.Fixtures)
	var fe *fixtures.Error
	if errors.As(err, &fe) {
		return nil, fault.Usage("%v", fe)
	}
	if err != nil {
		return nil, fault.Env(err, "cannot read fixtures: %v", err)
	}
	return fx, nil
}

// ErrNoAppTables means `schema: none` and the apps have not migrated yet.
var ErrNoAppTables = errors.New("no app tables")

// MySQL creates the built-in schema (unless `schema: none`) and applies
// the fixtures' rows.
func MySQL(ctx context.Context, cfg config.Config, root *sql.DB, sd *seed.Seeder, v stack.Pinned) (seed.Changes, error) {
	if cfg.Schema == config.SchemaBuiltin {
		if err := setup.LoadSchema(ctx, root, sd.F.Schema); err != nil {
			return seed.Changes{}, schemaError(cfg, err)
		}
	} else if missing := setup.MissingTables(ctx, root); len(missing) > 0 {
		return seed.Changes{}, fmt.Errorf("%w: %s", ErrNoAppTables, strings.Join(missing, ", "))
	}
	c, err := sd.Apply(ctx, root, v.DashboardUUID, v.Created)
	if err != nil {
		return c, fault.Env(err, "seeding MySQL failed: %v", err)
	}
	return c, nil
}

// schemaError classifies a failed schema load.
func schemaError(cfg config.Config, err error) error {
	switch {
	case errors.Is(err, setup.ErrBadSchema):
		return fault.Usage("%s", strings.ReplaceAll(err.Error(), setup.ErrBadSchema.Error()+": ", ""))
	case errors.Is(err, setup.ErrOldSchema):
		return fault.Usage("%v with its 9-table schema, which Archivematica's own migrations cannot complete: delete the stack's data with `devstack down -p %s --volumes --yes`, then run `devstack up` again", err, cfg.Project)
	}
	return fault.Env(err, "cannot load the schema: %v", err)
}

// NoAppTablesHint is what to do when the apps' tables are not there yet.
func NoAppTablesHint(err error) string {
	return fmt.Sprintf("schema is none and the apps' tables are missing (%s): run the apps' migrations, then `devstack seed`",
		strings.TrimPrefix(err.Error(), ErrNoAppTables.Error()+": "))
}

// SharedTree is what the fixtures put in the shared directory.
func SharedTree(cfg config.Config, fx *seed.Fixtures) shared.Tree {
	return shared.Tree{Dirs: fx.Layout, Files: fx.Files, Owner: cfg.Shared.Owner()}
}

// SyncShared lays out the shared directory and writes the fixtures' files;
// with reset, it empties the directory first.
func SyncShared(ctx context.Context, c shared.Container, cfg config.Config, fx *seed.Fixtures, reset bool) (shared.SyncResult, error) {
	if reset {
		return shared.Reset(ctx, c, SharedTree(cfg, fx))
	}
	return shared.Sync(ctx, c, SharedTree(cfg, fx))
}

// SharedError makes a path outside the shared directory bad input.
func SharedError(err error) error {
	if errors.Is(err, shared.ErrOutside) {
		return fault.Usage("%v", err)
	}
	return err
}
