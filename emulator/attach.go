package emulator

import (
	"context"
	"database/sql"

	"github.com/moby/moby/api/types/container"
	"github.com/redis/go-redis/v9"
)

// attached is a running stack with clients as root and to Redis: what seed,
// reset and users work on.
type attached struct {
	names  Names
	values values
	root   *sql.DB
	redis  *redis.Client
}

func (a *attached) Close() {
	a.root.Close()
	a.redis.Close()
}

// attach finds a project's running stack by label and connects to it.
func (e *Engine) attach(ctx context.Context, cfg Config) (*attached, error) {
	o, err := e.observe(ctx, NamesFor(cfg.Project))
	if err != nil {
		return nil, err
	}
	for _, svc := range []string{ServiceMySQL, ServiceRedis, ServiceHelper} {
		if c, ok := o.services[svc]; !ok || c.State != container.StateRunning {
			return nil, envError(nil, "the %s stack is not running (%s is down): run `devstack up` first", cfg.Project, svc)
		}
	}
	_, v, err := e.report(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	a := &attached{
		names:  o.names,
		values: v,
		root:   OpenMySQL(cfg.Host, v.MySQLPort, "root", v.RootPassword, ""),
		redis:  OpenRedis(cfg.Host, v.RedisPort, v.RedisPassword),
	}
	if err := a.root.PingContext(ctx); err != nil {
		a.Close()
		return nil, envError(err, "cannot connect to MySQL of the %s stack as root: %v", cfg.Project, err)
	}
	return a, nil
}
