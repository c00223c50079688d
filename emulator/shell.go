package emulator

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

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
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return 0, err
	}
	c, ok := o.Containers[opts.Service]
	if !ok || !c.State.Running {
		return 0, fault.Env(nil, "%s of project %s is not running: run `devstack up` first", opts.Service, cfg.Project)
	}
	live, err := e.Inspect(ctx, o)
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
	code, err := e.Docker.Exec(ctx, c.ID, x)
	if err != nil {
		return 0, err
	}
	return code, nil
}
