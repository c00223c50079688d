// Package devstacktest gives Go tests an isolated, seeded devstack:
//
//	stack := devstacktest.Start(t)  // own project, free ports, removed in t.Cleanup
//	db := stack.MySQL(t, "MCP")     // *sql.DB as the app user
//	rdb := stack.Redis(t)           // *redis.Client
//	stack.Reset(t)                  // back to the freshly seeded state, fast
//
// A package can share one stack between its tests with Main in TestMain and
// Shared in each test; tests on a shared stack must not call t.Parallel,
// since Shared resets the stack they all use.
//
// Stacks are ephemeral: they carry the io.devstack.ephemeral and
// io.devstack.owner labels. Cleanup does not depend on Ryuk: it runs in
// t.Cleanup (also after a failure or a panic), tolerates what is already
// gone, and every Start first prunes the stacks of processes that died before
// cleaning up (a killed `go test`, say).
//
// Stacks are configured as the CLI is (DEVSTACK_* variables, devstack.yaml),
// except for the project and ports, which are always their own. Images come
// from DEVSTACK_MYSQL_IMAGE and DEVSTACK_REDIS_IMAGE when set (`make test`
// selects them), else from WithImages, else the configuration. devstack turns
// testcontainers' Ryuk off for the process unless TESTCONTAINERS_RYUK_DISABLED
// is set.
package devstacktest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"go.yaml.in/yaml/v3"
)

// Option changes how a stack is made.
type Option func(*options)

type options struct {
	fixtures           string
	mysqlImg, redisImg string
	users              map[string][]seed.User
}

// WithFixtures seeds from dir, which overrides the default fixtures file by
// file, as the `fixtures:` config key does.
func WithFixtures(dir string) Option { return func(o *options) { o.fixtures = dir } }

// WithImages chooses the MySQL and Redis images when the environment does not.
func WithImages(mysql, redis string) Option {
	return func(o *options) { o.mysqlImg, o.redisImg = mysql, redis }
}

// WithUsers adds active users of a service ("dashboard" or "storage") to the
// fixtures' users, so that they are seeded and survive Reset.
func WithUsers(service string, users ...seed.User) Option {
	return func(o *options) {
		for _, u := range users {
			u.Active = true
			o.users[service] = append(o.users[service], u)
		}
	}
}

// Stack is a running, seeded, ephemeral stack.
type Stack struct {
	Project string
	env     map[string]string
	h       *emulator.Stack
}

const startTimeout = 5 * time.Minute

// Start makes a new stack for t and removes it, with its volumes, when t ends.
func Start(t testing.TB, opts ...Option) *Stack {
	t.Helper()
	s, cleanup, err := start(opts)
	t.Cleanup(cleanup)
	if err != nil {
		t.Fatalf("devstacktest: %v", err)
	}
	return s
}

// start makes a stack; cleanup removes it and is safe to call whatever
// happened, also when start failed half-way.
func start(opts []Option) (*Stack, func(), error) {
	o := &options{users: map[string][]seed.User{}}
	for _, opt := range opts {
		opt(o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	e, err := emulator.Connect(ctx)
	if err != nil {
		return nil, func() {}, err
	}
	// Stacks of test processes that died before their cleanup ran.
	if _, err := emulator.Prune(ctx, e, emulator.PruneOptions{Grace: time.Minute}); err != nil {
		return nil, func() {}, err
	}
	// The same configuration as the CLI (DEVSTACK_* variables, a
	// devstack.yaml beside the tests), but always a project and ports of its own.
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		return nil, func() {}, err
	}
	cfg.Project = config.EphemeralProject("t")
	if cfg, err = e.Reach(cfg); err != nil {
		return nil, func() {}, err
	}
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	if o.mysqlImg != "" && os.Getenv("DEVSTACK_MYSQL_IMAGE") == "" {
		cfg.MySQL.Image, cfg.Redis.Image = o.mysqlImg, o.redisImg
	}
	if o.fixtures != "" {
		cfg.Fixtures = o.fixtures
	}
	var tmp string
	if len(o.users) > 0 {
		if tmp, err = fixturesWithUsers(cfg.Fixtures, o.users); err != nil {
			return nil, func() {}, err
		}
		cfg.Fixtures = tmp
	}
	s := &Stack{Project: cfg.Project}
	cleanup := func() {
		if s.h != nil {
			s.h.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := emulator.Down(ctx, e, cfg, emulator.DownOptions{Volumes: true}); err != nil {
			fmt.Fprintf(os.Stderr, "devstacktest: removing %s: %v\n", cfg.Project, err)
		}
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		e.Close()
	}
	if _, err := emulator.Up(ctx, e, cfg, emulator.UpOptions{Lifetime: emulator.Lifetime{Ephemeral: true}}); err != nil {
		return nil, cleanup, err
	}
	if s.h, err = emulator.Attach(ctx, e, cfg); err != nil {
		return nil, cleanup, err
	}
	vars, err := emulator.Env(ctx, e, cfg, emulator.EnvOptions{})
	if err != nil {
		return nil, cleanup, err
	}
	s.env = map[string]string{}
	for _, v := range vars {
		s.env[v.Name] = v.Value
	}
	return s, cleanup, nil
}

// Env returns the stack's connection settings, as `devstack env` prints them.
func (s *Stack) Env() map[string]string {
	out := make(map[string]string, len(s.env))
	for k, v := range s.env {
		out[k] = v
	}
	return out
}

// MySQL returns a pool connected to database as the app user, closed when t ends.
func (s *Stack) MySQL(t testing.TB, database string) *sql.DB {
	t.Helper()
	port, _ := strconv.Atoi(s.env["MYSQL_PORT"])
	db := setup.OpenMySQL(s.env["MYSQL_HOST"], port, s.env["MYSQL_USER"], s.env["MYSQL_PASSWORD"], database)
	t.Cleanup(func() { db.Close() })
	return db
}

// Redis returns a client of the stack's Redis, closed when t ends.
func (s *Stack) Redis(t testing.TB) *redis.Client {
	t.Helper()
	port, _ := strconv.Atoi(s.env["REDIS_PORT"])
	rdb := setup.OpenRedis(s.env["REDIS_HOST"], port, s.env["REDIS_PASSWORD"])
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// ReadFile reads a file of the shared directory; path is relative to it.
func (s *Stack) ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := s.h.ReadFile(context.Background(), path)
	if err != nil {
		t.Fatalf("devstacktest: %v", err)
	}
	return data
}

// WriteFile writes a file into the shared directory, as Archivematica's
// containers would find it there; path is relative to the directory.
func (s *Stack) WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := s.h.WriteFile(context.Background(), path, data); err != nil {
		t.Fatalf("devstacktest: %v", err)
	}
}

// Reset brings the stack back to the freshly seeded state: the built-in
// tables, Redis and the shared directory.
func (s *Stack) Reset(t testing.TB) {
	t.Helper()
	if err := s.reset(); err != nil {
		t.Fatalf("devstacktest: reset: %v", err)
	}
}

func (s *Stack) reset() error {
	_, err := s.h.Seed(context.Background(), emulator.SeedOptions{Reset: true})
	return err
}

var shared *Stack

// Main runs a package's tests against one shared stack: call it from
// TestMain as `os.Exit(devstacktest.Main(m))`. The stack is removed after
// the tests; if the test binary is killed first, the next Start or Main
// prunes it.
func Main(m *testing.M, opts ...Option) int {
	s, cleanup, err := start(opts)
	defer cleanup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstacktest: %v\n", err)
		return 1
	}
	shared = s
	return m.Run()
}

// Shared returns the package's stack, reset to the freshly seeded state.
// Tests that use it must not run in parallel.
func Shared(t testing.TB) *Stack {
	t.Helper()
	if shared == nil {
		t.Fatal("devstacktest: Shared needs TestMain to call devstacktest.Main")
	}
	shared.Reset(t)
	return shared
}

// fixturesWithUsers makes a fixtures directory that is dir (when given) plus
// a users.yaml holding the effective users and the extra ones.
func fixturesWithUsers(dir string, extra map[string][]seed.User) (string, error) {
	fx, err := seed.Load(dir)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "devstacktest-fixtures")
	if err != nil {
		return "", err
	}
	if dir != "" {
		if err := os.CopyFS(tmp, os.DirFS(dir)); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	type user struct {
		Username  string `yaml:"username"`
		Email     string `yaml:"email"`
		Password  string `yaml:"password"`
		APIKey    string `yaml:"api_key"`
		Superuser bool   `yaml:"superuser"`
		Active    bool   `yaml:"active"`
		FirstName string `yaml:"first_name"`
		LastName  string `yaml:"last_name"`
	}
	conv := func(us []seed.User) []user {
		var out []user
		for _, u := range us {
			out = append(out, user(u))
		}
		return out
	}
	doc := map[string]any{
		"password_iterations": fx.Users.Iterations,
		seed.Dashboard:        conv(append(fx.Users.Dashboard, extra[seed.Dashboard]...)),
		seed.Storage:          conv(append(fx.Users.Storage, extra[seed.Storage]...)),
	}
	data, err := yaml.Marshal(doc)
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "users.yaml"), data, 0o644)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}
