package converge

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// DownOptions: Volumes purges the stack's data as well; callers must have
// had it typed or confirmed.
type DownOptions struct {
	Volumes  bool
	Progress event.Sink
}

// DownReport is `devstack down -o json`: what was removed.
type DownReport struct {
	Project    string   `json:"project"`
	Containers []string `json:"containers"`
	Networks   []string `json:"networks"`
	Volumes    []string `json:"volumes"`
}

// Down takes the project's stack down under the project lock.
func (e *Engine) Down(ctx context.Context, project string, opts DownOptions) (*DownReport, error) {
	unlock, err := lock.Project(ctx, project, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return e.DownLocked(ctx, project, opts)
}

// DownLocked is Down for a caller that holds the project lock.
func (e *Engine) DownLocked(ctx context.Context, project string, opts DownOptions) (*DownReport, error) {
	progress := opts.Progress
	o, err := e.Observe(ctx, project)
	if err != nil {
		return nil, err
	}
	if o.Absent() {
		progress.Note("project %s: nothing to remove", project)
	}
	return e.remove(ctx, o, opts.Volumes, progress)
}

// remove takes an observed stack down; the caller holds the project lock.
func (e *Engine) remove(ctx context.Context, o *observe.Observed, volumes bool, progress event.Sink) (*DownReport, error) {
	r := &DownReport{Project: o.Names.Project, Containers: []string{}, Networks: []string{}, Volumes: []string{}}
	o, err := e.removeAllContainers(ctx, o, volumes, progress, r)
	if err != nil {
		return r, err
	}
	blocked := e.removeRest(ctx, o, volumes, progress, r)
	if blocked == nil {
		return r, o.ClashError()
	}
	// What holds the network or a volume may be the stack's own container,
	// made after the last look by a create an interrupted up had sent (its
	// template copy, say): one more look removes it, then the rest.
	if o, err = e.Observe(ctx, o.Names.Project); err != nil || len(o.All()) == 0 {
		return r, blocked
	}
	if o, err = e.removeAllContainers(ctx, o, volumes, progress, r); err != nil {
		return r, err
	}
	if blocked := e.removeRest(ctx, o, volumes, progress, r); blocked != nil {
		return r, blocked
	}
	return r, o.ClashError()
}

// removeRest removes an observed stack's network and, with volumes, its
// volumes, once its containers are gone. Containers devstack did not create
// may still use them (an app joined with --network): they are named, never
// touched, and the rest is removed anyway.
func (e *Engine) removeRest(ctx context.Context, o *observe.Observed, volumes bool, progress event.Sink, r *DownReport) error {
	var blocked error
	for _, n := range o.SpareNetworks {
		if err := e.Docker.RemoveNetwork(ctx, n.ID); err != nil && !engine.IsNotFound(err) {
			blocked = e.networkBlocked(ctx, n.ID, n.Name, err)
		}
	}
	if o.Network != nil {
		progress.Done(stack.PartNetwork, 0, "removing %s", o.Network.Name)
		if err := e.Docker.RemoveNetwork(ctx, o.Network.ID); err != nil && !engine.IsNotFound(err) {
			blocked = e.networkBlocked(ctx, o.Network.ID, o.Network.Name, err)
		} else {
			r.Networks = append(r.Networks, o.Network.Name)
		}
	}
	if volumes {
		for _, name := range slices.Sorted(maps.Keys(o.Volumes)) {
			progress.Done(o.Volumes[name].Labels[stack.LabelService], 0, "removing volume %s", name)
			if err := e.Docker.RemoveVolume(ctx, name); err != nil && !engine.IsNotFound(err) {
				if blocked == nil {
					blocked = fault.Env(err, "%v; stop the containers that use it, then run down again", err)
				}
				continue
			}
			r.Volumes = append(r.Volumes, name)
		}
	}
	return blocked
}

// removeAllContainers removes the stack's containers and returns the stack
// as it is afterwards. A create that an interrupted up had already sent is
// finished by Docker after its client died, possibly after the first
// listing: it looks once more, so that such a container cannot keep the
// network and volumes in use. With purge the data goes too: the containers
// are killed, not stopped gracefully (a server that is still starting can
// take its whole stop timeout).
func (e *Engine) removeAllContainers(ctx context.Context, o *observe.Observed, purge bool, progress event.Sink, r *DownReport) (*observe.Observed, error) {
	for range 2 {
		if len(o.All()) == 0 {
			break
		}
		if err := e.removeContainers(ctx, o.All(), purge, progress); err != nil {
			return nil, err
		}
		for _, c := range o.All() {
			if !slices.Contains(r.Containers, c.Name) {
				r.Containers = append(r.Containers, c.Name)
			}
		}
		slices.Sort(r.Containers)
		var err error
		if o, err = e.Observe(ctx, o.Names.Project); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// removeContainers stops and removes containers in parallel; kill removes
// them without a graceful stop.
func (e *Engine) removeContainers(ctx context.Context, cs []docker.Container, kill bool, progress event.Sink) error {
	steps := make([]func(context.Context) error, len(cs))
	for i, c := range cs {
		steps[i] = func(ctx context.Context) error {
			progress.Done(c.Labels[stack.LabelService], 0, "removing container %s", c.Name)
			if kill {
				if err := e.Docker.Remove(ctx, c.ID); err != nil && !engine.IsNotFound(err) {
					return err
				}
				return nil
			}
			return e.RemoveContainer(ctx, c.ID)
		}
	}
	return engine.Parallel(ctx, steps...)
}

// networkBlocked says why a network cannot go: the containers devstack
// did not create that still use it, or failing that the engine's words.
func (e *Engine) networkBlocked(ctx context.Context, id, name string, cause error) error {
	if n, err := e.Docker.Network(ctx, id); err == nil && len(n.Containers) > 0 {
		return fault.Env(cause, "cannot remove network %s: containers devstack did not create still use it: %s; stop or disconnect them, then run down again", name, strings.Join(n.Containers, ", "))
	}
	return fault.Env(cause, "%v; stop or disconnect what uses it, then run down again", cause)
}
