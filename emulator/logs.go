package emulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
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
	o, err := e.Observe(ctx, cfg.Project)
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
			if err := e.Docker.Logs(ctx, o.Containers[s].ID, opts, w, w); err != nil && ctx.Err() == nil {
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
