package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// EnvVar is one connection setting; Env returns them in a fixed order.
type EnvVar struct {
	Name  string
	Value string
}

// EnvOptions: Network gives the in-network addresses (mysql:3306), for
// containers that join the stack's network.
type EnvOptions struct {
	Network bool
}

// Env returns the connection settings of a project's stack: plain names and
// the names Archivematica's components read. The stack must exist.
func Env(ctx context.Context, e *Engine, cfg Config, opts EnvOptions) ([]EnvVar, error) {
	o, err := e.observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	if o.pinnedLabels() == nil {
		return nil, envError(nil, "no stack for project %s: run `devstack up` first", cfg.Project)
	}
	live, err := e.inspect(ctx, o)
	if err != nil {
		return nil, err
	}
	v := connection(cfg, o, live)
	host := cfg.Host
	if opts.Network {
		host = ""
	}
	return connectionEnv(o.names, host, v), nil
}

// connectionEnv builds the variables. An empty host means in-network
// addresses, where each service is reached by its own hostname and port.
func connectionEnv(n Names, host string, v pinned) []EnvVar {
	mysqlHost, redisHost := host, host
	mp, rp := strconv.Itoa(v.MySQLPort), strconv.Itoa(v.RedisPort)
	if host == "" {
		mysqlHost, redisHost = ServiceMySQL, ServiceRedis
		mp, rp = strconv.Itoa(mysqlPort), strconv.Itoa(redisPort)
	}
	redisURL := url.URL{Scheme: "redis", Host: net.JoinHostPort(redisHost, rp), Path: "/0"}
	if v.RedisPassword != "" {
		redisURL.User = url.UserPassword("", v.RedisPassword)
	}
	ssURL := url.URL{Scheme: "mysql", User: url.UserPassword(AppUser, v.AppPassword), Host: net.JoinHostPort(mysqlHost, mp), Path: "/SS"}
	vars := []EnvVar{
		{"DEVSTACK_PROJECT", n.Project},
		{"DEVSTACK_NETWORK", n.Network},
		{"DEVSTACK_SHARED_VOLUME", n.Shared},
		{"MYSQL_HOST", mysqlHost},
		{"MYSQL_PORT", mp},
		{"MYSQL_USER", AppUser},
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
			EnvVar{p + "USER", AppUser},
			EnvVar{p + "PASSWORD", v.AppPassword},
			EnvVar{p + "DATABASE", "MCP"},
		)
	}
	return append(vars, EnvVar{"SS_DB_URL", ssURL.String()})
}

// FormatEnv renders variables as dotenv, shell (to eval) or one JSON object.
func FormatEnv(vars []EnvVar, format string) (string, error) {
	var b strings.Builder
	switch format {
	case "dotenv":
		for _, v := range vars {
			fmt.Fprintf(&b, "%s=%s\n", v.Name, dotenvQuote(v.Value))
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
		return "", usageError("unknown env format %q: use dotenv, shell or json", format)
	}
	return b.String(), nil
}

func isPlain(s string) bool {
	return s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:/@%+=,") == ""
}

// shellQuote single-quotes unless the value is plain; a quote inside becomes '\”.
func shellQuote(s string) string {
	if isPlain(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dotenvQuote double-quotes unless the value is plain, escaping what dotenv
// parsers (docker compose, python-dotenv) expand inside double quotes.
func dotenvQuote(s string) string {
	// docker run --env-file keeps quotes: an empty value must be bare.
	if s == "" || isPlain(s) {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
