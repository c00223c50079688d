package emulator

import (
	"context"
	"errors"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

// ListUsers returns the dashboard and storage-service users of a running stack.
func ListUsers(ctx context.Context, e *Engine, cfg config.Config) ([]seed.UserRow, error) {
	s, err := Attach(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := seed.ListUsers(ctx, s.root)
	if err != nil {
		return nil, fault.Env(err, "cannot list users: %v", err)
	}
	return rows, nil
}

// AddUser creates a user as the dashboard or storage service's user form
// does. An empty password or API key is generated; the returned user carries
// the values used, to be shown once.
func AddUser(ctx context.Context, e *Engine, cfg config.Config, service string, u seed.User) (seed.User, error) {
	if err := checkService(service); err != nil {
		return u, err
	}
	if u.Password == "" {
		u.Password = stack.NewSecret()
	}
	if u.APIKey == "" {
		u.APIKey = strings.ToLower(stack.NewSecret())
	}
	if err := seed.ValidateUser(u, func(key, format string, args ...any) error {
		return fault.Usage("--%s: "+format, append([]any{strings.ReplaceAll(key, "_", "-")}, args...)...)
	}); err != nil {
		return u, err
	}
	unlock, err := lock.Project(ctx, cfg.Project, nil)
	if err != nil {
		return u, err
	}
	defer unlock()
	s, err := Attach(ctx, e, cfg)
	if err != nil {
		return u, err
	}
	defer s.Close()
	err = s.seeder.AddUser(ctx, s.root, service, u)
	if errors.Is(err, seed.ErrUserExists) {
		return u, fault.Usage("%s user %q exists already", service, u.Username)
	}
	if err != nil {
		return u, fault.Env(err, "cannot add %s user %s: %v", service, u.Username, err)
	}
	return u, nil
}

// RemoveUser deletes a user and the rows that belong to it.
func RemoveUser(ctx context.Context, e *Engine, cfg config.Config, service, username string) error {
	if err := checkService(service); err != nil {
		return err
	}
	unlock, err := lock.Project(ctx, cfg.Project, nil)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := Attach(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	err = seed.RemoveUser(ctx, s.root, service, username)
	if errors.Is(err, seed.ErrNoUser) {
		return fault.Usage("no %s user %q", service, username)
	}
	if err != nil {
		return fault.Env(err, "cannot remove %s user %s: %v", service, username, err)
	}
	return nil
}

func checkService(service string) error {
	if service != seed.Dashboard && service != seed.Storage {
		return fault.Usage("--service must be dashboard or storage, not %q", service)
	}
	return nil
}
