package emulator

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
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
	if err := e.core.SettleUnlocked(ctx, cfg, nil); err != nil {
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
	o, err := e.core.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	for _, role := range stack.Roles(cfg) {
		if c, ok := o.Containers[role]; !ok || !c.State.Running {
			return nil, fault.Env(nil, "the %s stack is not running (%s is down): run `devstack up` first", cfg.Project, role)
		}
	}
	live, err := e.core.Inspect(ctx, o)
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

func (s *Stack) sharedDir() shared.Container { return s.e.core.Helper(s.names) }

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

// SeedOptions tune Seed; Reset empties app data first.
type SeedOptions struct {
	Reset    bool
	Progress event.Sink
}

// SeedReport says what a seed or reset did.
type SeedReport struct {
	Rows          seed.Changes
	RedisKeys     int
	SharedRemoved int
	FilesWritten  []string
	Took          time.Duration
}

// MarshalJSON is `seed -o json` and `reset -o json`: stable, snake_case keys.
func (r SeedReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RowsAdded     int      `json:"rows_added"`
		RowsUpdated   int      `json:"rows_updated"`
		RowsRemoved   int      `json:"rows_removed"`
		Tables        []string `json:"tables_emptied"`
		RedisKeys     int      `json:"redis_keys_removed"`
		SharedRemoved int      `json:"shared_entries_removed"`
		FilesWritten  []string `json:"files_written"`
		TookMS        int64    `json:"took_ms"`
	}{r.Rows.Added, r.Rows.Updated, r.Rows.Removed, nonNil(r.Rows.Tables), r.RedisKeys, r.SharedRemoved, nonNil(r.FilesWritten), r.Took.Milliseconds()})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r SeedReport) String() string {
	var b strings.Builder
	if r.Rows.Removed > 0 || r.RedisKeys > 0 || r.SharedRemoved > 0 {
		fmt.Fprintf(&b, "removed %d rows", r.Rows.Removed)
		if len(r.Rows.Tables) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(r.Rows.Tables, ", "))
		}
		fmt.Fprintf(&b, ", %d Redis keys, %d shared-directory entries; ", r.RedisKeys, r.SharedRemoved)
	}
	fmt.Fprintf(&b, "seeded: %d rows added, %d updated, %d files written (%dms)", r.Rows.Added, r.Rows.Updated, len(r.FilesWritten), r.Took.Milliseconds())
	return b.String()
}

// Seed applies the current fixtures to a running stack: it adds and updates
// rows and files, and changes nothing where nothing changed. With
// opts.Reset it first empties the built-in schema's tables, Redis and the
// shared directory, so the stack ends as the fixtures seed it.
//
// It takes the project lock before it looks at the stack, so a reset during
// an up of the same project waits for the up and then finds its stack.
func Seed(ctx context.Context, e *Engine, cfg config.Config, opts SeedOptions) (*SeedReport, error) {
	unlock, err := e.core.LockSettled(ctx, cfg, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, err := e.attach(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.seedLocked(ctx, opts)
}

// Seed is the package's Seed on a held stack.
func (s *Stack) Seed(ctx context.Context, opts SeedOptions) (*SeedReport, error) {
	unlock, err := lock.Project(ctx, s.cfg.Project, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.seedLocked(ctx, opts)
}

// seedLocked seeds; the caller holds the project lock. The database, Redis
// and the shared directory share nothing, so their work runs in parallel.
func (s *Stack) seedLocked(ctx context.Context, opts SeedOptions) (*SeedReport, error) {
	t0 := time.Now()
	progress := opts.Progress
	var err error
	r := &SeedReport{}
	err = engine.Parallel(ctx,
		func(ctx context.Context) error {
			progress.Step(config.ServiceMySQL, "seeding")
			c, err := s.seedMySQL(ctx, opts.Reset)
			r.Rows = c
			if err == nil {
				progress.Done(config.ServiceMySQL, 0, "done: %d rows removed, %d added, %d updated", c.Removed, c.Added, c.Updated)
			}
			return err
		},
		func(ctx context.Context) error {
			if !opts.Reset {
				return nil
			}
			progress.Step(config.ServiceRedis, "flushing")
			n, err := setup.FlushRedis(ctx, s.redis)
			if err != nil {
				return fault.Env(err, "cannot flush Redis: %v", err)
			}
			r.RedisKeys = n
			if err := s.restartGearmand(ctx); err != nil {
				return err
			}
			progress.Done(config.ServiceRedis, 0, "done: %d keys removed", n)
			return nil
		},
		func(ctx context.Context) error {
			progress.Step(stack.PartShared, "laying out %s", stack.SharedDir)
			res, err := seeding.SyncShared(ctx, s.sharedDir(), s.cfg, s.seeder.F, opts.Reset)
			r.SharedRemoved, r.FilesWritten = res.Removed, res.Written
			if err == nil {
				progress.Done(stack.PartShared, 0, "done: %d entries removed, %d files written", res.Removed, len(res.Written))
			}
			return err
		})
	if err != nil {
		return nil, err
	}
	r.Took = time.Since(t0)
	return r, nil
}

// seedMySQL brings the tables back to the state after up on reset, then
// seeds.
func (s *Stack) seedMySQL(ctx context.Context, reset bool) (seed.Changes, error) {
	var c seed.Changes
	var touched []string
	if reset {
		removed, t, err := s.restore(ctx)
		if err != nil {
			return c, err
		}
		c.Add(removed)
		touched = t
	}
	added, err := seeding.MySQL(ctx, s.cfg, s.root, s.seeder, s.pinned)
	if errors.Is(err, seeding.ErrNoAppTables) {
		err = fault.Env(err, "%s", seeding.NoAppTablesHint(err))
	}
	c.Add(added)
	if err == nil && len(touched) > 0 {
		err = setup.RecordBaseline(ctx, s.root, s.seeder.F.Schema, touched...)
	}
	return c, err
}

// restore undoes what was done to the tables since up: with devstack's
// schema, every table that changed goes back to the migrations' rows; in the
// apps' own database (`schema: none`) the tables seeding writes are emptied.
func (s *Stack) restore(ctx context.Context) (seed.Changes, []string, error) {
	if s.cfg.Schema == config.SchemaBuiltin {
		c, touched, err := setup.Restore(ctx, s.root, s.seeder.F.Schema)
		if err != nil {
			return c, nil, fault.Env(err, "%v", err)
		}
		return c, touched, nil
	}
	c, err := setup.EmptyTables(ctx, s.root)
	if errors.Is(err, setup.ErrReferenced) {
		return c, nil, fault.Env(err, "%v; reset only empties the tables devstack seeds, so clear those first (or reset the apps' database)", err)
	}
	if err != nil {
		return c, nil, fault.Env(err, "%v", err)
	}
	return c, nil, nil
}

// restartGearmand empties gearmand's queue on reset: gearmand keeps its
// queue in memory as well as in Redis (flushed already), so it starts again
// with nothing to replay.
func (s *Stack) restartGearmand(ctx context.Context) error {
	if !s.cfg.Gearmand.Enabled {
		return nil
	}
	name := s.names.Gearmand
	// Nothing to keep: it is killed rather than asked to stop.
	if err := s.e.core.Docker.Restart(ctx, name, 0); err != nil {
		return err
	}
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.pinned.GearmandPort))
	return engine.Poll(ctx, 30*time.Second, "gearmand ("+name+")", func(ctx context.Context) error {
		_, err := converge.GearmanStatus(ctx, addr)
		return err
	})
}

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
func AddUser(ctx context.Context, e *Engine, cfg config.Config, service string, u seed.User, progress event.Sink) (seed.User, error) {
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
	unlock, err := e.core.LockSettled(ctx, cfg, progress)
	if err != nil {
		return u, err
	}
	defer unlock()
	s, err := e.attach(ctx, cfg)
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
func RemoveUser(ctx context.Context, e *Engine, cfg config.Config, service, username string, progress event.Sink) error {
	if err := checkService(service); err != nil {
		return err
	}
	unlock, err := e.core.LockSettled(ctx, cfg, progress)
	if err != nil {
		return err
	}
	defer unlock()
	s, err := e.attach(ctx, cfg)
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
