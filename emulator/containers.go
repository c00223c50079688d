package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// LogsOptions select what Logs shows. Services empty means every service;
// Tail is a number of lines or "all"; Since is a duration (10m) or a time
// (RFC 3339); Follow keeps reading until ctx is done.
type LogsOptions struct {
	Services []string
	Follow   bool
	Since    string
	Tail     string
}

var tailPattern = regexp.MustCompile(`^(all|[0-9]+)$`)

// CheckLogsOptions refuses what Docker would refuse later, as bad input.
func CheckLogsOptions(cfg config.Config, opts LogsOptions) error {
	for _, s := range opts.Services {
		if !slices.Contains(cfg.Services(), s) {
			return fault.Usage("no service %q: use %s", s, strings.Join(cfg.Services(), ", "))
		}
	}
	if opts.Tail != "" && !tailPattern.MatchString(opts.Tail) {
		return fault.Usage("--tail must be a number of lines or all, not %q", opts.Tail)
	}
	if opts.Since != "" {
		if _, err := time.ParseDuration(opts.Since); err != nil {
			if _, err := time.Parse(time.RFC3339, opts.Since); err != nil {
				return fault.Usage("--since must be a duration (10m, 1h30m) or a time (2006-01-02T15:04:05Z), not %q", opts.Since)
			}
		}
	}
	return nil
}

// Logs writes the services' output to out, each line prefixed with its
// service when there are several (as docker compose does), until the
// output ends or, with Follow, until ctx is done.
func Logs(ctx context.Context, e *Engine, cfg config.Config, opts LogsOptions, out io.Writer) error {
	if err := CheckLogsOptions(cfg, opts); err != nil {
		return err
	}
	services := opts.Services
	if len(services) == 0 {
		services = cfg.Services()
	}
	o, err := e.core.Observe(ctx, cfg.Project)
	if err != nil {
		return err
	}
	var found []string
	for _, s := range services {
		if _, ok := o.Containers[s]; ok {
			found = append(found, s)
		}
	}
	if len(found) == 0 {
		return fault.Env(nil, "no %s container in project %s: run `devstack up` first", strings.Join(services, " or "), cfg.Project)
	}
	width := 0
	for _, s := range found {
		width = max(width, len(s))
	}
	var mu sync.Mutex
	steps := make([]func(context.Context) error, len(found))
	for i, s := range found {
		w := &prefixed{out: out, mu: &mu}
		if len(found) > 1 {
			w.prefix = fmt.Sprintf("%-*s | ", width, s)
		}
		steps[i] = func(ctx context.Context) error {
			defer w.flush()
			opts := docker.LogOptions{Follow: opts.Follow, Since: opts.Since, Tail: opts.Tail}
			if err := e.core.Docker.Logs(ctx, o.Containers[s].ID, opts, w, w); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		}
	}
	return engine.Parallel(ctx, steps...)
}

// prefixed writes whole lines to out, each with prefix; writers that
// share mu never interleave within a line.
type prefixed struct {
	out    io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if err := p.line(p.buf[:i+1]); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixed) line(l []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := io.WriteString(p.out, p.prefix+string(l))
	return err
}

// flush writes a last line that has no newline.
func (p *prefixed) flush() {
	if len(p.buf) > 0 {
		_ = p.line(append(p.buf, '\n'))
		p.buf = nil
	}
}

// ShellOptions: Service is mysql or redis; Root and DB choose MySQL's
// account (the app user by default) and database (MCP). Args go to the
// client (mysql -e ..., redis-cli GET ...). TTY gives the client a
// terminal of Size (rows, columns); the caller gives one only when its own
// input is a terminal and there are no Args.
type ShellOptions struct {
	Service        string
	Root           bool
	DB             string
	Args           []string
	TTY            bool
	Size           [2]uint
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// ShellServices are the services Shell opens a client in, and ShellDatabases
// the databases of its --db.
var (
	ShellServices  = []string{config.ServiceMySQL, config.ServiceRedis}
	ShellDatabases = setup.Databases
)

// CheckShellOptions refuses bad input before Docker is asked anything.
func CheckShellOptions(opts ShellOptions) error {
	if !slices.Contains(ShellServices, opts.Service) {
		return fault.Usage("no shell for %q: use %s", opts.Service, strings.Join(ShellServices, " or "))
	}
	if opts.Service != config.ServiceMySQL && (opts.Root || opts.DB != "") {
		return fault.Usage("--root and --db are for mysql")
	}
	if opts.DB != "" && !slices.Contains(setup.Databases, opts.DB) {
		return fault.Usage("--db must be %s, not %q", strings.Join(setup.Databases, " or "), opts.DB)
	}
	return nil
}

// redisCLI runs redis-cli with the arguments: REDISCLI_AUTH carries the
// password, and an empty one is unset, or redis-cli would send AUTH "".
const redisCLI = `[ -n "$REDISCLI_AUTH" ] || unset REDISCLI_AUTH; exec redis-cli "$@"`

// Shell runs the service's own client inside its container, connected
// with the stack's credentials, which travel in the environment (MYSQL_PWD,
// REDISCLI_AUTH), never in argv. It returns the client's exit code.
func Shell(ctx context.Context, e *Engine, cfg config.Config, opts ShellOptions) (int, error) {
	if err := CheckShellOptions(opts); err != nil {
		return 0, err
	}
	o, err := e.core.Observe(ctx, cfg.Project)
	if err != nil {
		return 0, err
	}
	c, ok := o.Containers[opts.Service]
	if !ok || !c.State.Running {
		return 0, fault.Env(nil, "%s of project %s is not running: run `devstack up` first", opts.Service, cfg.Project)
	}
	live, err := e.core.Inspect(ctx, o)
	if err != nil {
		return 0, err
	}
	v := converge.Connection(cfg, o, live)
	x := docker.Exec{TTY: opts.TTY, Size: opts.Size, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr}
	switch opts.Service {
	case config.ServiceMySQL:
		user, password := stack.AppUser, v.AppPassword
		if opts.Root {
			user, password = "root", v.RootPassword
		}
		db := setup.Databases[0]
		if opts.DB != "" {
			db = opts.DB
		}
		x.Cmd = append([]string{"mysql", "--protocol=tcp", "-h", "127.0.0.1", "-P", strconv.Itoa(stack.MySQLContainerPort), "-u", user, "-D", db}, opts.Args...)
		x.Env = []string{"MYSQL_PWD=" + password}
	case config.ServiceRedis:
		x.Cmd = append([]string{"sh", "-c", redisCLI, "redis-cli"}, opts.Args...)
		x.Env = []string{"REDISCLI_AUTH=" + v.RedisPassword}
	}
	code, err := e.core.Docker.Exec(ctx, c.ID, x)
	if err != nil {
		return 0, err
	}
	return code, nil
}

// The shared directory for people (`devstack shared`): through the stack's
// helper container, so it works wherever the volume lives.

// sharedDir finds a project's running helper.
func (e *Engine) sharedDir(ctx context.Context, cfg config.Config) (shared.Container, error) {
	o, err := e.core.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	if c, ok := o.Containers[stack.PartHelper]; !ok || !c.State.Running {
		return nil, fault.Env(nil, "the %s stack's helper container is not running: run `devstack up` first", cfg.Project)
	}
	return e.core.Helper(o.Names), nil
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
func SharedPut(ctx context.Context, e *Engine, cfg config.Config, local, remote string, progress event.Sink) (string, error) {
	// A reset or a down must not pull the folder from under the copy.
	// A put during a restore cut short would be lost when the restore is
	// finished: it copies the shared volume again.
	unlock, err := e.core.LockSettled(ctx, cfg, progress)
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
