package emulator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
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
			return envError(err, "%s did not become ready within %s: %v", what, timeout, shortErr(err))
		case <-time.After(interval):
		}
		interval = min(interval*2, 250*time.Millisecond)
	}
}

// alive fails permanently when a container has stopped, with the end of its
// log, so that a crashing service is reported at once rather than at the
// readiness timeout.
func (e *Engine) alive(ctx context.Context, name string) error {
	res, err := e.Client.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	st := res.Container.State
	if st.Running {
		return nil
	}
	return permanent{envError(nil, "container %s stopped (exit code %d)%s; see `docker logs %s`", name, st.ExitCode, e.lastLogLine(ctx, name), name)}
}

// waitHealthy waits for Docker's own healthcheck to agree, so that status
// right after up reports healthy.
func (e *Engine) waitHealthy(ctx context.Context, name string) error {
	return poll(ctx, 60*time.Second, name+" healthcheck", func(ctx context.Context) error {
		res, err := e.Client.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		if h := res.Container.State.Health; h != nil && h.Status != container.Healthy {
			return fmt.Errorf("health is %s", h.Status)
		}
		return nil
	})
}

// lastLogLine returns the last line a container logged, as ": line", which is
// usually the reason it stopped; the whole log is one docker logs away.
func (e *Engine) lastLogLine(ctx context.Context, name string) string {
	rc, err := e.Client.ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var buf strings.Builder
	_, _ = stdcopy.StdCopy(&buf, &buf, rc)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
		return ": " + last
	}
	return ""
}
