package emulator

import (
	"context"
	"errors"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// The shared directory for people (`devstack shared`): through the stack's
// helper container, so it works wherever the volume lives.

// sharedDir finds a project's running helper.
func (e *Engine) sharedDir(ctx context.Context, cfg config.Config) (shared.Container, error) {
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	if c, ok := o.Containers[stack.PartHelper]; !ok || !c.State.Running {
		return nil, fault.Env(nil, "the %s stack's helper container is not running: run `devstack up` first", cfg.Project)
	}
	return e.Helper(o.Names), nil
}

// filesError classifies the shared package's refusals: bad paths are bad
// input, a full volume is the environment.
func filesError(cfg config.Config, err error) error {
	switch {
	case errors.Is(err, shared.ErrOutside), errors.Is(err, shared.ErrExists), errors.Is(err, shared.ErrNotFound),
		errors.Is(err, shared.ErrBadName), errors.Is(err, shared.ErrNotAFile):
		return fault.Usage("%v", err)
	case errors.Is(err, shared.ErrFull):
		return fault.Env(err, "%v (%s): free space on it, or put less; nothing was left under the name", err, stack.NamesFor(cfg.Project).Shared)
	}
	return err
}

// SharedList lists a folder of the shared directory, or one file.
func SharedList(ctx context.Context, e *Engine, cfg config.Config, p string) ([]shared.Entry, error) {
	c, err := e.sharedDir(ctx, cfg)
	if err != nil {
		return nil, err
	}
	entries, err := shared.List(ctx, c, p)
	return entries, filesError(cfg, err)
}

// SharedPut copies a local file or tree into the shared directory, owned by
// the stack's uid:gid; it returns where it went.
func SharedPut(ctx context.Context, e *Engine, cfg config.Config, local, remote string) (string, error) {
	// A reset or a down must not pull the folder from under the copy.
	unlock, err := lock.Project(ctx, cfg.Project, nil)
	if err != nil {
		return "", err
	}
	defer unlock()
	c, err := e.sharedDir(ctx, cfg)
	if err != nil {
		return "", err
	}
	dest, err := shared.Put(ctx, c, local, remote, cfg.Shared.Owner())
	return dest, filesError(cfg, err)
}

// SharedGet copies a file or tree of the shared directory here; it returns
// where it went.
func SharedGet(ctx context.Context, e *Engine, cfg config.Config, remote, local string) (string, error) {
	c, err := e.sharedDir(ctx, cfg)
	if err != nil {
		return "", err
	}
	dest, err := shared.Get(ctx, c, remote, local)
	return dest, filesError(cfg, err)
}

// SharedEntry is one item `devstack shared ls` shows.
type SharedEntry = shared.Entry
