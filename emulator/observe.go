package emulator

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// observed is what Docker holds of one project's stack, found by label.
type observed struct {
	names stack.Names
	// containers are the stack's containers by role (mysql, redis, helper);
	// others are its short-lived ones (a template copy cut short, say).
	containers map[string]docker.Container
	others     []docker.Container
	volumes    map[string]docker.Volume
	network    *docker.Network
	// spareNetworks are more networks of the stack's name and label: a
	// create whose answer the engine never sent (it went away mid-request)
	// and that the next up repeated. The engine takes the name as ambiguous.
	spareNetworks []docker.Network
	// clashes are the stack's names held by resources without its label.
	clashes []string
}

func projectLabel(project string) string { return stack.LabelProject + "=" + project }

// observe lists the project's resources by label, and checks that no resource
// carrying one of the stack's names lacks the label.
func (e *Engine) observe(ctx context.Context, project string) (*observed, error) {
	o := &observed{names: stack.NamesFor(project), containers: map[string]docker.Container{}, volumes: map[string]docker.Volume{}}
	cs, err := e.Docker.Containers(ctx, projectLabel(project))
	if err != nil {
		return nil, err
	}
	byName := map[string]string{o.names.MySQL: config.ServiceMySQL, o.names.Redis: config.ServiceRedis, o.names.Gearmand: config.ServiceGearmand, o.names.Helper: stack.PartHelper}
	for _, c := range cs {
		if role, ok := byName[c.Name]; ok {
			o.containers[role] = c
		} else {
			o.others = append(o.others, c)
		}
	}
	vs, err := e.Docker.Volumes(ctx, projectLabel(project))
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		o.volumes[v.Name] = v
	}
	ns, err := e.Docker.Networks(ctx, projectLabel(project))
	if err != nil {
		return nil, err
	}
	for i := range ns {
		switch {
		case ns[i].Name != o.names.Network:
		case o.network == nil:
			o.network = &ns[i]
		default:
			o.spareNetworks = append(o.spareNetworks, ns[i])
		}
	}
	e.forwardPorts(ctx, o)
	return o, e.findClashes(ctx, o)
}

// forwardPorts reaches the published ports of the stack's running
// containers, where the engine is reached through ssh. A port that cannot
// be forwarded is not reached: status says so, and commands that need no
// port (down, logs) go on.
func (e *Engine) forwardPorts(ctx context.Context, o *observed) {
	for _, c := range o.containers {
		for _, p := range c.Ports {
			_ = e.Tunnels.Forward(ctx, p.HostPort)
		}
	}
}

// findClashes looks up each of the stack's names that the label search did not
// return: if Docker has it anyway, somebody else made it, unless it carries
// the project's label after all (made meanwhile: by a create that was in
// flight, say, when an interrupted up cleans up after itself).
func (e *Engine) findClashes(ctx context.Context, o *observed) error {
	n := o.names
	for role, name := range map[string]string{config.ServiceMySQL: n.MySQL, config.ServiceRedis: n.Redis, config.ServiceGearmand: n.Gearmand, stack.PartHelper: n.Helper} {
		if _, ok := o.containers[role]; ok {
			continue
		}
		if err := e.clash(o, "container", name, func() (map[string]string, func(), error) {
			c, err := e.Docker.Inspect(ctx, name)
			return c.Labels, func() { o.containers[role] = c }, err
		}); err != nil {
			return err
		}
	}
	for _, name := range []string{n.MySQLData, n.RedisData, n.Shared, n.Restoring, n.Failed} {
		if _, ok := o.volumes[name]; ok {
			continue
		}
		if err := e.clash(o, "volume", name, func() (map[string]string, func(), error) {
			v, err := e.Docker.Volume(ctx, name)
			return v.Labels, func() { o.volumes[name] = v }, err
		}); err != nil {
			return err
		}
	}
	if o.network == nil {
		return e.clash(o, "network", n.Network, func() (map[string]string, func(), error) {
			nw, err := e.Docker.Network(ctx, n.Network)
			return nw.Labels, func() { o.network = &nw }, err
		})
	}
	return nil
}

// clash looks kind name up: one that carries the project's label is the
// stack's (lookup's adopt records it), any other a clash.
func (e *Engine) clash(o *observed, kind, name string, lookup func() (labels map[string]string, adopt func(), err error)) error {
	labels, adopt, err := lookup()
	switch {
	case err == nil && labels[stack.LabelProject] == o.names.Project:
		adopt()
	case err == nil:
		o.clashes = append(o.clashes, kind+" "+name)
	case !engine.IsNotFound(err):
		return err
	}
	return nil
}

func (o *observed) clashError() error {
	if len(o.clashes) == 0 {
		return nil
	}
	return fault.Usage("name taken by a resource devstack did not create: %s (no %s=%s label); remove or rename it, or use another project (-p)",
		strings.Join(o.clashes, ", "), stack.LabelProject, o.names.Project)
}

// absent reports whether the project has no resource at all, but maybe the
// record of an up that failed.
func (o *observed) absent() bool {
	volumes := len(o.volumes)
	if _, failed := o.volumes[o.names.Failed]; failed {
		volumes--
	}
	return len(o.containers) == 0 && len(o.others) == 0 && volumes == 0 && o.network == nil
}

// copyCutShort reports whether a template copy into the data volume was
// cut short: its short-lived container is still there.
func (o *observed) copyCutShort() bool {
	return slices.ContainsFunc(o.others, func(c docker.Container) bool { return c.Name == o.names.TemplateCopy })
}

// all are every container of the stack.
func (o *observed) all() []docker.Container {
	return append(slices.Collect(maps.Values(o.containers)), o.others...)
}

// restoring reports whether a restore's journal is there: a restore is
// under way, or was cut short.
func (o *observed) restoring() bool {
	_, ok := o.volumes[o.names.Restoring]
	return ok
}

// imageKeys are the settings of the containers' images; the helper runs on
// the MySQL image.
var imageKeys = map[string]string{config.ServiceMySQL: "mysql.image", config.ServiceRedis: "redis.image", config.ServiceGearmand: "gearmand.image", stack.PartHelper: "mysql.image"}

// imageVariable is the environment variable of role's image setting.
func imageVariable(role string) string {
	i := slices.IndexFunc(config.Settings, func(s config.Setting) bool { return s.Key == imageKeys[role] })
	return config.Settings[i].Env
}

// images are each service's image setting in cfg.
func images(cfg *config.Config) map[string]*string {
	return map[string]*string{config.ServiceMySQL: &cfg.MySQL.Image, config.ServiceRedis: &cfg.Redis.Image, config.ServiceGearmand: &cfg.Gearmand.Image}
}

// follow is cfg with each image that no flag, variable or file sets taken
// from the stack's container for it, where there is one: a stack keeps the
// images it was made with (the stand-ins `make up` chose, say) until the
// configuration names others. Replacing a MySQL image unasked could put
// another server on the stack's data.
func (o *observed) follow(cfg config.Config) config.Config {
	cfg.Sources = maps.Clone(cfg.Sources)
	for role, img := range images(&cfg) {
		if _, set := cfg.Sources[imageKeys[role]]; set {
			continue
		}
		if c, ok := o.containers[role]; ok && c.Image != "" {
			*img = c.Image
			cfg.Source(imageKeys[role], sourceStack)
		}
	}
	return cfg
}

// sourceStack is where an image the stack's container runs comes from.
const sourceStack = "the stack's container"

// failure is why the stack's last up failed, "" when it did not.
func (o *observed) failure() string {
	v, ok := o.volumes[o.names.Failed]
	if !ok {
		return ""
	}
	return stack.FirstNonEmpty(v.Labels[stack.LabelFailure], "unknown")
}

// pinnedLabels returns the labels of the MySQL data volume, where the values
// chosen once per stack are pinned; nil when the volume does not exist.
func (o *observed) pinnedLabels() map[string]string {
	v, ok := o.volumes[o.names.MySQLData]
	if !ok {
		return nil
	}
	return v.Labels
}
