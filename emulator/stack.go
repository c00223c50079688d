package emulator

import (
	"context"
	"database/sql"

	"github.com/redis/go-redis/v9"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// Stack is a running stack held open: connected as root to MySQL and to
// Redis, with its fixtures read. Its clients and the password hashes of its
// fixtures stay between calls, which is what makes repeated resets (the test
// harness's) fast.
type Stack struct {
	e      *Engine
	cfg    config.Config
	names  stack.Names
	pinned stack.Pinned
	root   *sql.DB
	redis  *redis.Client
	seeder *seed.Seeder
}

// Attach reads the fixtures, finds a project's running stack by label and
// connects to it. A restore that was cut short is finished first.
func Attach(ctx context.Context, e *Engine, cfg config.Config) (*Stack, error) {
	if err := e.SettleUnlocked(ctx, cfg, nil); err != nil {
		return nil, err
	}
	return e.attach(ctx, cfg)
}

// attach is Attach for a caller that holds the project lock and has
// settled the stack.
func (e *Engine) attach(ctx context.Context, cfg config.Config) (*Stack, error) {
	fx, err := seeding.Load(cfg)
	if err != nil {
		return nil, err
	}
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	for _, role := range stack.Roles(cfg) {
		if c, ok := o.Containers[role]; !ok || !c.State.Running {
			return nil, fault.Env(nil, "the %s stack is not running (%s is down): run `devstack up` first", cfg.Project, role)
		}
	}
	live, err := e.Inspect(ctx, o)
	if err != nil {
		return nil, err
	}
	v := converge.Connection(cfg, o, live)
	s := &Stack{e: e, cfg: cfg, names: o.Names, pinned: v,
		root:   setup.OpenMySQL(cfg.Host, v.MySQLPort, "root", v.RootPassword, ""),
		redis:  setup.OpenRedis(cfg.Host, v.RedisPort, v.RedisPassword),
		seeder: seed.NewSeeder(fx),
	}
	if err := s.root.PingContext(ctx); err != nil {
		s.Close()
		return nil, fault.Env(err, "cannot connect to MySQL of the %s stack as root: %v", cfg.Project, err)
	}
	return s, nil
}

// Close lets go of the stack's connections; the stack keeps running.
func (s *Stack) Close() {
	s.root.Close()
	s.redis.Close()
}

func (s *Stack) sharedDir() shared.Container { return s.e.Helper(s.names) }

// ReadFile returns a file from the shared directory; p is relative to it.
func (s *Stack) ReadFile(ctx context.Context, p string) ([]byte, error) {
	data, err := shared.ReadFile(ctx, s.sharedDir(), p)
	return data, seeding.SharedError(err)
}

// WriteFile writes a file into the shared directory with the configured
// owner, making its folders as needed; p is relative to the directory.
func (s *Stack) WriteFile(ctx context.Context, p string, data []byte) error {
	return seeding.SharedError(shared.WriteFile(ctx, s.sharedDir(), p, data, s.cfg.Shared.Owner()))
}
