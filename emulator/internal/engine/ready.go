package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
)

// permanent marks an error that polling must not retry.
type permanent struct{ error }

// Permanent marks err as final: Poll returns it at once.
func Permanent(err error) error { return permanent{err} }

// Unwrap lets errors.As see what was marked: a container that failed, say.
func (p permanent) Unwrap() error { return p.error }

// Poll runs check at short intervals (never a fixed sleep) until it
// succeeds, returns a permanent error, or the timeout passes: every 20 ms
// for the first two seconds, where most services answer (a server opening
// its data after an up after down answers within 0.3 s, and each poll that
// is late adds to the up), then growing to a tenth of a second.
func Poll(ctx context.Context, timeout time.Duration, what string, check func(context.Context) error) error {
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
			return fault.Env(err, "%s did not become ready within %s: %s", what, timeout, ShortErr(err))
		case <-time.After(interval):
		}
		if time.Since(start) > 2*time.Second {
			interval = min(interval*2, 100*time.Millisecond)
		}
	}
}

// Failure says what is wrong with a container that should be coming up, or
// "" while it may still get there: it has stopped, it is in a restart loop
// (restarted since restarts was seen), or Docker's health check has given up
// on it. With a restart policy Docker keeps a crashing container "running"
// between restarts, so the count matters as much as the state.
func Failure(s docker.State, restarts int) string {
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

// Alive fails permanently when a container has failed, with the end of its
// log, so that a crashing service is reported at once rather than at the
// readiness timeout. restarts is its restart count when up began with it.
func (e *Conn) Alive(ctx context.Context, name string, restarts int) error {
	c, err := e.Docker.Inspect(ctx, name)
	if err != nil {
		return err
	}
	if f := Failure(c.State, restarts); f != "" {
		s := c.State
		restarted := s.Restarting || s.RestartCount > restarts
		clean := !s.Running && !restarted && s.ExitCode == 0
		crashed := restarted || !s.Running && s.ExitCode != 0
		return Permanent(&fault.Error{Code: fault.ExitEnv, Err: &ContainerFailed{Name: name, What: f, Lines: e.LastLines(ctx, name), CleanStop: clean, Crashed: crashed}})
	}
	return nil
}

// ContainerFailed is a container that stopped, or keeps crashing, while
// devstack waited for it. Removed says that devstack has removed it since
// (a template's builder): its log is gone with it.
type ContainerFailed struct {
	Name, What, Lines string
	Removed           bool
	// CleanStop: it was stopped (exit code 0), not crashed.
	CleanStop bool
	// Crashed: it exited with an error, or its restart policy restarted it.
	Crashed bool
}

func (c *ContainerFailed) Error() string {
	msg := fmt.Sprintf("container %s %s; its last lines:\n%s", c.Name, c.What, c.Lines)
	if !c.Removed {
		msg += fmt.Sprintf("\nsee `docker logs %s`", c.Name)
	}
	return msg
}

// LastLines returns the last lines a container logged, indented, which
// usually say why it failed; the whole log is one docker logs away.
func (e *Conn) LastLines(ctx context.Context, name string) string {
	var buf strings.Builder
	if err := e.Docker.Logs(context.WithoutCancel(ctx), name, docker.LogOptions{Tail: "5"}, &buf, &buf); err != nil || strings.TrimSpace(buf.String()) == "" {
		return "  (nothing logged)"
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// Unreachable recognises a dial error that waiting will not cure: no route,
// no such host, no answer at all. A booting server on a reachable host
// refuses connections instead, and that is worth waiting for.
func Unreachable(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET)
}

// Parallel runs steps at once and returns the most telling error.
func Parallel(ctx context.Context, steps ...func(context.Context) error) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step(ctx) })
	}
	wg.Wait()
	return firstClassified(errs)
}

func LastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// firstClassified returns the most telling of several errors: bad input
// outranks the failures it may have caused elsewhere.
func firstClassified(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if fault.ExitCode(err) == fault.ExitUsage {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}
