package emulator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// Check is one of doctor's findings; its JSON shape is a contract.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Fix says what to do when the check fails.
	Fix string `json:"fix,omitempty"`
}

// DoctorReport is `devstack doctor -o json`.
type DoctorReport struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

// The names of doctor's checks, in the order it runs them.
const (
	checkEngine  = "engine"
	checkAPI     = "api"
	checkImages  = "images"
	checkPorts   = "ports"
	checkDisk    = "disk"
	checkNetwork = "network"
)

// minFree is the disk space a new stack wants: images, the built-in schema
// loaded into MySQL, and room to work.
const minFree = 2 << 30

// Doctor checks what devstack needs from this machine: an engine it can
// reach, its API version, the images, free ports, disk space and room for
// another network. It reports every check, failed ones with a fix.
func Doctor(ctx context.Context, cfg config.Config) *DoctorReport {
	r := &DoctorReport{}
	add := func(c Check) { r.Checks = append(r.Checks, c) }
	e, err := Connect(ctx)
	if err != nil {
		endpoint, source := engine.ResolveEndpoint(os.Getenv, engine.UserHome())
		add(Check{checkEngine, false, fmt.Sprintf("cannot reach Docker at %s (%s): %s", endpoint, source, engine.ShortErr(cmp.Or(errors.Unwrap(err), err))),
			"start Docker, or point DOCKER_HOST or the current docker context at a running engine"})
		for _, name := range []string{checkAPI, checkImages} {
			add(Check{name, false, "not checked: Docker is unreachable", "fix the engine first"})
		}
		add(portsCheck(cfg, stack.KnownPinned(cfg, nil), nil, true))
		for _, name := range []string{checkDisk, checkNetwork} {
			add(Check{name, false, "not checked: Docker is unreachable", "fix the engine first"})
		}
		return r.done()
	}
	defer e.Close()
	info, err := e.core.Docker.Info(ctx)
	detail := fmt.Sprintf("%s (%s)", e.Endpoint(), e.Source())
	if err == nil {
		detail += ", " + engineName(info)
	}
	cfg, rerr := e.Reach(cfg)
	if rerr != nil {
		add(Check{checkEngine, false, detail + "; " + rerr.Error(), "set DEVSTACK_HOST to the engine machine's IP address"})
	} else {
		add(Check{Name: checkEngine, OK: true, Detail: detail + "; " + converge.ReachedAt(cfg)})
	}
	add(apiCheck(e.APIVersion()))
	v, own := stack.KnownPinned(cfg, nil), []int{}
	o, oerr := e.core.Observe(ctx, cfg.Project)
	if oerr == nil {
		for _, c := range o.Containers {
			for _, p := range c.Ports {
				own = append(own, p.HostPort)
			}
		}
		v = stack.KnownPinned(cfg, o.PinnedLabels())
		cfg = o.Follow(cfg)
	}
	add(e.imagesCheck(ctx, cfg))
	add(portsCheck(cfg, v, own, e.Local()))
	add(e.diskCheck(ctx, cfg, info.RootDir))
	add(e.networkCheck(ctx))
	return r.done()
}

func (r *DoctorReport) done() *DoctorReport {
	r.OK = !slices.ContainsFunc(r.Checks, func(c Check) bool { return !c.OK })
	return r
}

func apiCheck(version string) Check {
	c := Check{Name: checkAPI, OK: stack.APIAtLeast(version, 1, 41), Detail: "API " + version}
	if !c.OK {
		c.Detail += ", older than 1.41"
		c.Fix = "upgrade to Docker Engine 20.10 or later"
	}
	return c
}

// imagesCheck finds each image up would use here, or asks its registry
// for it, and says what chose it: a setting (the variable, the file and
// line, the flag), the stack's own container, or devstack's default.
func (e *Engine) imagesCheck(ctx context.Context, cfg config.Config) Check {
	c := Check{Name: checkImages, OK: true}
	var details, fixes []string
	seen := map[string]bool{}
	for _, role := range cfg.Services() {
		ref := *observe.Images(&cfg)[role]
		if seen[ref] {
			continue
		}
		seen[ref] = true
		chosen := fmt.Sprintf("%s: %s, from %s", role, ref, stack.FirstNonEmpty(cfg.Sources[observe.ImageKeys[role]], "the default"))
		if img, err := e.core.Docker.Image(ctx, ref); err == nil {
			details = append(details, chosen+", present"+e.core.ServerStartNote(ctx, cfg, role, img))
			continue
		}
		if err := e.core.Docker.Pullable(ctx, ref); err == nil {
			details = append(details, chosen+", can be pulled")
			continue
		} else {
			c.OK = false
			details = append(details, fmt.Sprintf("%s, is not here: %v", chosen, err))
			fixes = append(fixes, observe.ImageVariable(role))
		}
	}
	c.Detail = strings.Join(details, "; ")
	if !c.OK {
		c.Fix = "check registry access, or build stand-ins with `make local-images` and set " + strings.Join(fixes, " and ") + " to them"
	}
	return c
}

// portsCheck checks that each service's host port (configured, or pinned
// by the stack: v) is free on 127.0.0.1, or held by the stack itself
// (own); a remote engine's ports cannot be checked from here.
func portsCheck(cfg config.Config, v stack.Pinned, own []int, local bool) Check {
	c := Check{Name: checkPorts, OK: true}
	if !local {
		c.Detail = "not checked: the engine is on another machine"
		return c
	}
	all := stack.Blueprint{Config: cfg, Names: stack.NamesFor(cfg.Project), Pinned: v}.Specs()
	var details []string
	for _, s := range cfg.Services() {
		port := all[s].Ports[0].HostPort
		switch {
		case port == 0:
			details = append(details, s+": a free port is picked at the first up")
		case slices.Contains(own, port):
			details = append(details, fmt.Sprintf("%s: %d (held by this stack)", s, port))
		case engine.PortFree("127.0.0.1", port):
			details = append(details, fmt.Sprintf("%s: %d free", s, port))
		default:
			c.OK = false
			details = append(details, fmt.Sprintf("%s: port %d on 127.0.0.1 is taken", s, port))
			c.Fix = strings.TrimPrefix(c.Fix+fmt.Sprintf("; stop what uses port %d, or set %s.port (DEVSTACK_%s_PORT) to another port (0 picks a free one)", port, s, strings.ToUpper(s)), "; ")
		}
	}
	c.Detail = strings.Join(details, ", ")
	return c
}

// diskCheck measures the free space where the engine keeps volumes: on
// this machine when the engine is local, else in the stack's helper (the
// shared volume's filesystem).
func (e *Engine) diskCheck(ctx context.Context, cfg config.Config, root string) Check {
	c := Check{Name: checkDisk, OK: true}
	var free uint64
	var where string
	var st unix.Statfs_t
	if e.Local() && root != "" && unix.Statfs(root, &st) == nil {
		free, where = st.Bavail*uint64(st.Bsize), root
	} else if helper, err := e.sharedDir(ctx, cfg); err == nil {
		out, err := helper.Exec(ctx, "df", "-Pk", stack.SharedDir)
		if f := strings.Fields(engine.LastLine(out)); err == nil && len(f) >= 4 {
			kb, _ := strconv.ParseUint(f[3], 10, 64)
			free, where = kb<<10, "the shared volume"
		}
	}
	if where == "" {
		c.Detail = "not checked: the engine's disk is not visible from here and the stack is not running"
		return c
	}
	c.Detail = fmt.Sprintf("%.1f GiB free in %s", float64(free)/(1<<30), where)
	if free < minFree {
		c.OK = false
		c.Fix = fmt.Sprintf("free space in %s (docker system prune removes unused images and containers); a stack wants %d GiB", where, minFree>>30)
	}
	return c
}

// networkCheck makes and removes a network, labelled as a throw-away stack's
// so that prune takes it if doctor is killed before it removes it.
func (e *Engine) networkCheck(ctx context.Context) Check {
	c := Check{Name: checkNetwork, OK: true}
	n := stack.NamesFor(config.EphemeralProject("doctor"))
	id, err := e.core.Docker.CreateNetwork(ctx, n.Network, stack.Lifetime{Ephemeral: true}.Labels(n.Project, stack.PartNetwork))
	if err != nil {
		c.OK = false
		c.Detail = err.Error()
		c.Fix = "remove unused networks (docker network prune), or give the engine more address pools (default-address-pools in daemon.json)"
		return c
	}
	if err := e.core.Docker.RemoveNetwork(context.WithoutCancel(ctx), id); err != nil {
		c.Detail = fmt.Sprintf("room for another network (the probe is left: %v)", err)
		return c
	}
	c.Detail = "room for another network"
	return c
}

// engineName says which engine answers, as a user would name it.
func engineName(i docker.Info) string {
	s := i.Product + " " + i.ServerVersion
	if i.Rootless {
		s += ", rootless"
	}
	return s
}
