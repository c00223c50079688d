package emulator

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/client"
)

// DownOptions: Volumes purges the stack's data as well; callers must have
// had it typed or confirmed.
type DownOptions struct {
	Volumes  bool
	Progress io.Writer
}

// Down stops the project's containers gracefully and removes them and the
// network. Volumes stay unless opts.Volumes. Only resources with the
// project's label are touched; names held by others are reported, after the
// rest is done, as an error.
func Down(ctx context.Context, e *Engine, project string, opts DownOptions) error {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	unlock, err := lockProject(ctx, project, progress)
	if err != nil {
		return err
	}
	defer unlock()
	o, err := e.observe(ctx, NamesFor(project))
	if err != nil {
		return err
	}
	if o.absent() {
		fmt.Fprintf(progress, "project %s: nothing to remove\n", project)
	}
	// A create that an interrupted up had already sent is finished by Docker
	// after its client died, possibly after this listing: look once more, so
	// that such a container cannot keep the network and volumes in use.
	for range 2 {
		if len(o.services) == 0 {
			break
		}
		if err := e.removeContainers(ctx, o, progress); err != nil {
			return err
		}
		if o, err = e.observe(ctx, NamesFor(project)); err != nil {
			return err
		}
	}
	// Containers devstack did not create may still use the network or the
	// volumes (an app joined with --network); they are named, never touched,
	// and the rest is removed anyway.
	var blocked error
	if o.network != nil {
		fmt.Fprintf(progress, "removing network %s\n", o.network.Name)
		if _, err := e.Client.NetworkRemove(ctx, o.network.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			blocked = envError(err, "cannot remove network %s: %v; stop or disconnect them, then run down again", o.network.Name, e.networkUsers(ctx, o.network.ID, err))
		}
	}
	if opts.Volumes {
		for _, name := range slices.Sorted(maps.Keys(o.volumes)) {
			fmt.Fprintf(progress, "removing volume %s\n", name)
			if _, err := e.Client.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) && blocked == nil {
				blocked = envError(err, "cannot remove volume %s: %v; stop the containers that use it, then run down again", name, shortErr(err))
			}
		}
	}
	if blocked != nil {
		return blocked
	}
	return o.clashError()
}

// removeContainers stops and removes the stack's containers in parallel.
func (e *Engine) removeContainers(ctx context.Context, o *observed, progress io.Writer) error {
	cs := slices.Collect(maps.Values(o.services))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			fmt.Fprintf(progress, "removing container %s\n", containerName(c))
			errs[i] = e.removeContainer(ctx, c.ID)
		})
	}
	wg.Wait()
	return firstClassified(errs)
}

// networkUsers names the containers still attached to a network, to explain
// why it cannot be removed; failing that, Docker's own words.
func (e *Engine) networkUsers(ctx context.Context, id string, cause error) string {
	res, err := e.Client.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil || len(res.Network.Containers) == 0 {
		return shortErr(cause)
	}
	var names []string
	for _, c := range res.Network.Containers {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return "containers devstack did not create still use it: " + strings.Join(names, ", ")
}
