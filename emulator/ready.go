package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
)

// permanent marks an error that polling must not retry.
type permanent struct{ error }

// poll runs check at short intervals (never a fixed sleep) until it
// succeeds, returns a permanent error, or the timeout passes: every 20 ms
// for the first two seconds, where most services answer (a server opening
// its data after an up after down answers within 0.3 s, and each poll that
// is late adds to the up), then growing to a tenth of a second.
func poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) error) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start, interval := time.Now(), 20*time.Millisecond
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
			return fault.Env(err, "%s did not become ready within %s: %s", what, timeout, shortErr(err))
		case <-time.After(interval):
		}
		if time.Since(start) > 2*time.Second {
			interval = min(interval*2, 100*time.Millisecond)
		}
	}
}

// failure says what is wrong with a container that should be coming up, or
// "" while it may still get there: it has stopped, it is in a restart loop
// (restarted since restarts was seen), or Docker's health check has given up
// on it. With a restart policy Docker keeps a crashing container "running"
// between restarts, so the count matters as much as the state.
func failure(s docker.State, restarts int) string {
	switch {
	case s.Restarting || s.RestartCount > restarts:
		return fmt.Sprintf("keeps crashing (restarted %d times, last exit code %d)", s.RestartCount, s.ExitCode)
	case !s.Running:
		return fmt.Sprintf("stopped (exit code %d)", s.ExitCode)
	case s.Health == "unhealthy":
		return "is unhealthy: Docker's health check failed"
	}
	return ""
}

// alive fails permanently when a container has failed, with the end of its
// log, so that a crashing service is reported at once rather than at the
// readiness timeout. restarts is its restart count when up began with it.
func (e *Conn) alive(ctx context.Context, name string, restarts int) error {
	c, err := e.d.Inspect(ctx, name)
	if err != nil {
		return err
	}
	if f := failure(c.State, restarts); f != "" {
		s := c.State
		restarted := s.Restarting || s.RestartCount > restarts
		clean := !s.Running && !restarted && s.ExitCode == 0
		crashed := restarted || !s.Running && s.ExitCode != 0
		return permanent{&fault.Error{Code: fault.ExitEnv, Err: &containerFailed{name: name, what: f, lines: e.lastLines(ctx, name), cleanStop: clean, crashed: crashed}}}
	}
	return nil
}

// containerFailed is a container that stopped, or keeps crashing, while
// devstack waited for it. removed says that devstack has removed it since
// (a template's builder): its log is gone with it.
type containerFailed struct {
	name, what, lines string
	removed           bool
	// cleanStop: it was stopped (exit code 0), not crashed.
	cleanStop bool
	// crashed: it exited with an error, or its restart policy restarted it.
	crashed bool
}

func (c *containerFailed) Error() string {
	msg := fmt.Sprintf("container %s %s; its last lines:\n%s", c.name, c.what, c.lines)
	if !c.removed {
		msg += fmt.Sprintf("\nsee `docker logs %s`", c.name)
	}
	return msg
}

// lastLines returns the last lines a container logged, indented, which
// usually say why it failed; the whole log is one docker logs away.
func (e *Conn) lastLines(ctx context.Context, name string) string {
	var buf strings.Builder
	if err := e.d.Logs(context.WithoutCancel(ctx), name, docker.LogOptions{Tail: "5"}, &buf, &buf); err != nil || strings.TrimSpace(buf.String()) == "" {
		return "  (nothing logged)"
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// unreachable recognises a dial error that waiting will not cure: no route,
// no such host, no answer at all. A booting server on a reachable host
// refuses connections instead, and that is worth waiting for.
func unreachable(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET)
}
