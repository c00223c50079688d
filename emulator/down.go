package emulator

import (
	"context"
	"fmt"
	"io"
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
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range o.services {
		wg.Go(func() {
			fmt.Fprintf(progress, "removing container %s\n", containerName(c))
			err := e.removeContainer(ctx, c.ID)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := firstClassified(errs); err != nil {
		return err
	}
	if o.network != nil {
		fmt.Fprintf(progress, "removing network %s\n", o.network.Name)
		if _, err := e.Client.NetworkRemove(ctx, o.network.ID, client.NetworkRemoveOptions{}); err != nil && !isNotFound(err) {
			return envError(err, "cannot remove network %s: %v", o.network.Name, shortErr(err))
		}
	}
	if opts.Volumes {
		for name := range o.volumes {
			fmt.Fprintf(progress, "removing volume %s\n", name)
			if _, err := e.Client.VolumeRemove(ctx, name, client.VolumeRemoveOptions{}); err != nil && !isNotFound(err) {
				return envError(err, "cannot remove volume %s: %v", name, shortErr(err))
			}
		}
	}
	return o.clashError()
}
