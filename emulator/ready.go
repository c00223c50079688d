package emulator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// permanent marks an error that polling must not retry.
type permanent struct{ error }

// poll runs check at short, growing intervals (never a fixed sleep) until it
// succeeds, returns a permanent error, or the timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) error) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := 25 * time.Millisecond
	for {
		err := check(tctx)
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.error
		}
		select {
		case <-tctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return envError(err, "%s did not become ready within %s: %s", what, timeout, shortErr(err))
		case <-time.After(interval):
		}
		interval = min(interval*2, 250*time.Millisecond)
	}
}

// alive fails permanently when a container has stopped, with the end of its
// log, so that a crashing service is reported at once rather than at the
// readiness timeout.
func (e *Engine) alive(ctx context.Context, name string) error {
	c, err := e.d.Inspect(ctx, name)
	if err != nil {
		return err
	}
	if c.State.Running {
		return nil
	}
	return permanent{envError(nil, "container %s stopped (exit code %d)%s; see `docker logs %s`", name, c.State.ExitCode, e.lastLogLine(ctx, name), name)}
}

// waitHealthy waits for Docker's own healthcheck to agree, so that status
// right after up reports healthy.
func (e *Engine) waitHealthy(ctx context.Context, name string) error {
	return poll(ctx, 60*time.Second, name+" healthcheck", func(ctx context.Context) error {
		c, err := e.d.Inspect(ctx, name)
		if err != nil {
			return err
		}
		if h := c.State.Health; h != "" && h != "healthy" {
			return fmt.Errorf("health is %s", h)
		}
		return nil
	})
}

// waitRedis polls until Redis answers PING.
func (e *Engine) waitRedis(ctx context.Context, name, host string, v pinned) error {
	rdb := setup.OpenRedis(host, v.RedisPort, v.RedisPassword)
	defer rdb.Close()
	return poll(ctx, 60*time.Second, "Redis ("+name+")", func(ctx context.Context) error {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if aerr := e.alive(ctx, name); aerr != nil {
			return aerr
		}
		return err
	})
}

// lastLogLine returns the last line a container logged, as ": line", which is
// usually the reason it stopped; the whole log is one docker logs away.
func (e *Engine) lastLogLine(ctx context.Context, name string) string {
	var buf strings.Builder
	if err := e.d.Logs(ctx, name, docker.LogOptions{Tail: "5"}, &buf, &buf); err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return ": " + last
	}
	return ""
}
