package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// EnvVar is one connection setting; Env returns them in a fixed order.
type EnvVar struct {
	Name  string
	Value string
}

// EnvOptions: Network gives the in-network addresses (mysql:3306), for
// containers that join the stack's network. Progress gets a note when the
// config sets passwords the stack does not use yet.
type EnvOptions struct {
	Network  bool
	Progress event.Sink
}

// Env returns the connection settings of a project's stack: plain names and
// the names Archivematica's components read. The stack must exist. A
// restore that was cut short is finished first: its values are the ones to
// give.
func Env(ctx context.Context, e *Engine, cfg config.Config, opts EnvOptions) ([]EnvVar, error) {
	if err := e.core.SettleUnlocked(ctx, cfg, opts.Progress); err != nil {
		return nil, err
	}
	o, err := e.core.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	if o.PinnedLabels() == nil {
		return nil, fault.Env(nil, "no stack for project %s: run `devstack up` first", cfg.Project)
	}
	live, err := e.core.Inspect(ctx, o)
	if err != nil {
		return nil, err
	}
	v := converge.Connection(cfg, o, live)
	if pending := converge.PendingChanges(cfg, v); len(pending) > 0 {
		opts.Progress.Note("devstack: the config changes %s, which the running stack does not use yet: these are the values in use until `devstack up` applies the change", strings.Join(pending, " and "))
	}
	host := cfg.Host
	if opts.Network {
		host = ""
	}
	return connectionEnv(o.Names, host, v), nil
}

// connectionEnv builds the variables. An empty host means in-network
// addresses, where each service is reached by its own hostname and port.
func connectionEnv(n stack.Names, host string, v stack.Pinned) []EnvVar {
	mysqlHost, redisHost := host, host
	mp, rp := strconv.Itoa(v.MySQLPort), strconv.Itoa(v.RedisPort)
	if host == "" {
		mysqlHost, redisHost = config.ServiceMySQL, config.ServiceRedis
		mp, rp = strconv.Itoa(stack.MySQLContainerPort), strconv.Itoa(stack.RedisContainerPort)
	}
	redisURL := url.URL{Scheme: "redis", Host: net.JoinHostPort(redisHost, rp), Path: "/0"}
	if v.RedisPassword != "" {
		redisURL.User = url.UserPassword("", v.RedisPassword)
	}
	ssURL := url.URL{Scheme: "mysql", User: url.UserPassword(stack.AppUser, v.AppPassword), Host: net.JoinHostPort(mysqlHost, mp), Path: "/SS"}
	vars := []EnvVar{
		{"DEVSTACK_PROJECT", n.Project},
		{"DEVSTACK_NETWORK", n.Network},
		{"DEVSTACK_SHARED_VOLUME", n.Shared},
		{"MYSQL_HOST", mysqlHost},
		{"MYSQL_PORT", mp},
		{"MYSQL_USER", stack.AppUser},
		{"MYSQL_PASSWORD", v.AppPassword},
		{"MYSQL_ROOT_PASSWORD", v.RootPassword},
		{"REDIS_HOST", redisHost},
		{"REDIS_PORT", rp},
		{"REDIS_PASSWORD", v.RedisPassword},
		{"REDIS_URL", redisURL.String()},
	}
	for _, component := range []string{"DASHBOARD", "MCPSERVER", "MCPCLIENT"} {
		p := "ARCHIVEMATICA_" + component + "_CLIENT_"
		vars = append(vars,
			EnvVar{p + "HOST", mysqlHost},
			EnvVar{p + "PORT", mp},
			EnvVar{p + "USER", stack.AppUser},
			EnvVar{p + "PASSWORD", v.AppPassword},
			EnvVar{p + "DATABASE", "MCP"},
		)
	}
	vars = append(vars, EnvVar{"SS_DB_URL", ssURL.String()})
	if v.GearmandPort == 0 {
		return vars // gearmand is off
	}
	gh, gp := host, strconv.Itoa(v.GearmandPort)
	if host == "" {
		gh, gp = config.ServiceGearmand, strconv.Itoa(stack.GearmandContainerPort)
	}
	server := net.JoinHostPort(gh, gp)
	// The names Archivematica's components read the job server from.
	return append(vars,
		EnvVar{"GEARMAN_HOST", gh},
		EnvVar{"GEARMAN_PORT", gp},
		EnvVar{"ARCHIVEMATICA_MCPSERVER_MCPSERVER_MCPARCHIVEMATICASERVER", server},
		EnvVar{"ARCHIVEMATICA_MCPCLIENT_MCPCLIENT_MCPARCHIVEMATICASERVER", server},
		EnvVar{"ARCHIVEMATICA_DASHBOARD_DASHBOARD_GEARMAN_SERVER", server},
	)
}

// EnvFormats are the formats of `devstack env`, one per consumer.
var EnvFormats = []string{"dotenv", "docker", "shell", "json"}

// FormatEnv renders variables for their consumer:
//   - docker: NAME=value verbatim, for `docker run --env-file`, which takes
//     the rest of the line as the value and keeps quotes literally;
//   - dotenv: NAME='value', a quote inside as \', for compose's env_file and
//     dotenv libraries;
//   - shell: export NAME='value', for eval in a POSIX shell;
//   - json: one object, name → value.
//
// Values never hold a newline, CR or NUL: the config refuses them.
func FormatEnv(vars []EnvVar, format string) (string, error) {
	var b strings.Builder
	switch format {
	case "docker":
		for _, v := range vars {
			fmt.Fprintf(&b, "%s=%s\n", v.Name, v.Value)
		}
	case "dotenv":
		for _, v := range vars {
			fmt.Fprintf(&b, "%s='%s'\n", v.Name, strings.ReplaceAll(v.Value, "'", `\'`))
		}
	case "shell":
		for _, v := range vars {
			fmt.Fprintf(&b, "export %s=%s\n", v.Name, shellQuote(v.Value))
		}
	case "json":
		m := make(map[string]string, len(vars))
		for _, v := range vars {
			m[v.Name] = v.Value
		}
		out, _ := json.MarshalIndent(m, "", "  ")
		b.Write(out)
		b.WriteByte('\n')
	default:
		return "", fault.Usage("unknown env format %q: use %s", format, strings.Join(EnvFormats, ", "))
	}
	return b.String(), nil
}

// shellQuote single-quotes unless the value is plain; a single quote inside
// closes the quoting, is escaped with a backslash, and reopens it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:/@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
