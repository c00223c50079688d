package emulator

import (
	"context"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// observed is what Docker holds of one project's stack, found by label.
type observed struct {
	names Names
	// services maps mysql, redis and helper to their containers.
	services map[string]container.Summary
	volumes  map[string]volume.Volume
	network  *network.Summary
	// clashes are the stack's names held by resources without its label.
	clashes []string
}

func projectFilter(project string) client.Filters {
	return make(client.Filters).Add("label", LabelProject+"="+project)
}

// observe lists the project's resources by label, and checks that no resource
// carrying one of the stack's names lacks the label.
func (e *Engine) observe(ctx context.Context, names Names) (*observed, error) {
	o := &observed{names: names, services: map[string]container.Summary{}, volumes: map[string]volume.Volume{}}
	cs, err := e.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(names.Project)})
	if err != nil {
		return nil, envError(err, "cannot list containers: %v", shortErr(err))
	}
	for _, c := range cs.Items {
		o.services[c.Labels[LabelService]] = c
	}
	vs, err := e.Client.VolumeList(ctx, client.VolumeListOptions{Filters: projectFilter(names.Project)})
	if err != nil {
		return nil, envError(err, "cannot list volumes: %v", shortErr(err))
	}
	for _, v := range vs.Items {
		o.volumes[v.Name] = v
	}
	ns, err := e.Client.NetworkList(ctx, client.NetworkListOptions{Filters: projectFilter(names.Project)})
	if err != nil {
		return nil, envError(err, "cannot list networks: %v", shortErr(err))
	}
	for i := range ns.Items {
		if ns.Items[i].Name == names.Network {
			o.network = &ns.Items[i]
		}
	}
	return o, e.findClashes(ctx, o)
}

// findClashes looks up each of the stack's names that the label search did not
// return: if Docker has it anyway, somebody else made it.
func (e *Engine) findClashes(ctx context.Context, o *observed) error {
	n := o.names
	for svc, name := range map[string]string{ServiceMySQL: n.MySQL, ServiceRedis: n.Redis, ServiceHelper: n.Helper} {
		if _, ok := o.services[svc]; ok {
			continue
		}
		_, err := e.Client.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		if err == nil {
			o.clashes = append(o.clashes, "container "+name)
		} else if !cerrdefs.IsNotFound(err) {
			return envError(err, "cannot inspect container %s: %v", name, shortErr(err))
		}
	}
	for _, name := range []string{n.MySQLData, n.RedisData, n.Shared} {
		if _, ok := o.volumes[name]; ok {
			continue
		}
		_, err := e.Client.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		if err == nil {
			o.clashes = append(o.clashes, "volume "+name)
		} else if !cerrdefs.IsNotFound(err) {
			return envError(err, "cannot inspect volume %s: %v", name, shortErr(err))
		}
	}
	if o.network == nil {
		_, err := e.Client.NetworkInspect(ctx, n.Network, client.NetworkInspectOptions{})
		if err == nil {
			o.clashes = append(o.clashes, "network "+n.Network)
		} else if !cerrdefs.IsNotFound(err) {
			return envError(err, "cannot inspect network %s: %v", n.Network, shortErr(err))
		}
	}
	return nil
}

func (o *observed) clashError() error {
	if len(o.clashes) == 0 {
		return nil
	}
	return usageError("name taken by a resource devstack did not create: %s (no %s=%s label); remove or rename it, or use another project (-p)",
		strings.Join(o.clashes, ", "), LabelProject, o.names.Project)
}

// absent reports whether the project has no resource at all.
func (o *observed) absent() bool {
	return len(o.services) == 0 && len(o.volumes) == 0 && o.network == nil
}

// stableLabels returns the labels of the MySQL data volume, where the values
// chosen once per stack are kept; nil when the volume does not exist.
func (o *observed) stableLabels() map[string]string {
	v, ok := o.volumes[o.names.MySQLData]
	if !ok {
		return nil
	}
	return v.Labels
}

func containerName(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID[:12]
	}
	return strings.TrimPrefix(c.Names[0], "/")
}
