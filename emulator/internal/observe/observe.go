package observe

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// Observed is what Docker holds of one project's stack, found by label.
type Observed struct {
	Names stack.Names
	// Containers are the stack's containers by role (mysql, redis, helper);
	// Others are its short-lived ones (a template copy cut short, say).
	Containers map[string]docker.Container
	Others     []docker.Container
	Volumes    map[string]docker.Volume
	Network    *docker.Network
	// SpareNetworks are more networks of the stack's name and label: a
	// create whose answer the engine never sent (it went away mid-request)
	// and that the next up repeated. The engine takes the name as ambiguous.
	SpareNetworks []docker.Network
	// Clashes are the stack's names held by resources without its label.
	Clashes []string
}

// ProjectLabel is the label filter for project's resources.
func ProjectLabel(project string) string { return stack.LabelProject + "=" + project }

// Observe lists the project's resources by label, and checks that no resource
// carrying one of the stack's names lacks the label.
func (e *Engine) Observe(ctx context.Context, project string) (*Observed, error) {
	o := &Observed{Names: stack.NamesFor(project), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}
	cs, err := e.Docker.Containers(ctx, ProjectLabel(project))
	if err != nil {
		return nil, err
	}
	byName := map[string]string{o.Names.MySQL: config.ServiceMySQL, o.Names.Redis: config.ServiceRedis, o.Names.Gearmand: config.ServiceGearmand, o.Names.Helper: stack.PartHelper}
	for _, c := range cs {
		if role, ok := byName[c.Name]; ok {
			o.Containers[role] = c
		} else {
			o.Others = append(o.Others, c)
		}
	}
	vs, err := e.Docker.Volumes(ctx, ProjectLabel(project))
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		o.Volumes[v.Name] = v
	}
	ns, err := e.Docker.Networks(ctx, ProjectLabel(project))
	if err != nil {
		return nil, err
	}
	for i := range ns {
		switch {
		case ns[i].Name != o.Names.Network:
		case o.Network == nil:
			o.Network = &ns[i]
		default:
			o.SpareNetworks = append(o.SpareNetworks, ns[i])
		}
	}
	e.forwardPorts(ctx, o)
	return o, e.findClashes(ctx, o)
}

// forwardPorts reaches the published ports of the stack's running
// containers, where the engine is reached through ssh. A port that cannot
// be forwarded is not reached: status says so, and commands that need no
// port (down, logs) go on.
func (e *Engine) forwardPorts(ctx context.Context, o *Observed) {
	for _, c := range o.Containers {
		for _, p := range c.Ports {
			_ = e.Tunnels.Forward(ctx, p.HostPort)
		}
	}
}

// findClashes looks up each of the stack's names that the label search did not
// return: if Docker has it anyway, somebody else made it, unless it carries
// the project's label after all (made meanwhile: by a create that was in
// flight, say, when an interrupted up cleans up after itself).
func (e *Engine) findClashes(ctx context.Context, o *Observed) error {
	n := o.Names
	for role, name := range map[string]string{config.ServiceMySQL: n.MySQL, config.ServiceRedis: n.Redis, config.ServiceGearmand: n.Gearmand, stack.PartHelper: n.Helper} {
		if _, ok := o.Containers[role]; ok {
			continue
		}
		if err := e.Clash(o, "container", name, func() (map[string]string, func(), error) {
			c, err := e.Docker.Inspect(ctx, name)
			return c.Labels, func() { o.Containers[role] = c }, err
		}); err != nil {
			return err
		}
	}
	for _, name := range []string{n.MySQLData, n.RedisData, n.Shared, n.Restoring, n.Failed} {
		if _, ok := o.Volumes[name]; ok {
			continue
		}
		if err := e.Clash(o, "volume", name, func() (map[string]string, func(), error) {
			v, err := e.Docker.Volume(ctx, name)
			return v.Labels, func() { o.Volumes[name] = v }, err
		}); err != nil {
			return err
		}
	}
	if o.Network == nil {
		return e.Clash(o, "network", n.Network, func() (map[string]string, func(), error) {
			nw, err := e.Docker.Network(ctx, n.Network)
			return nw.Labels, func() { o.Network = &nw }, err
		})
	}
	return nil
}

// Clash looks kind name up: one that carries the project's label is the
// stack's (lookup's adopt records it), any other a clash.
func (e *Engine) Clash(o *Observed, kind, name string, lookup func() (labels map[string]string, adopt func(), err error)) error {
	labels, adopt, err := lookup()
	switch {
	case err == nil && labels[stack.LabelProject] == o.Names.Project:
		adopt()
	case err == nil:
		o.Clashes = append(o.Clashes, kind+" "+name)
	case !engine.IsNotFound(err):
		return err
	}
	return nil
}

// ClashError names the resources that hold the stack's names without its
// label, or is nil.
func (o *Observed) ClashError() error {
	if len(o.Clashes) == 0 {
		return nil
	}
	return fault.Usage("name taken by a resource devstack did not create: %s (no %s=%s label); remove or rename it, or use another project (-p)",
		strings.Join(o.Clashes, ", "), stack.LabelProject, o.Names.Project)
}

// Absent reports whether the project has no resource at all, but maybe the
// record of an up that failed.
func (o *Observed) Absent() bool {
	volumes := len(o.Volumes)
	if _, failed := o.Volumes[o.Names.Failed]; failed {
		volumes--
	}
	return len(o.Containers) == 0 && len(o.Others) == 0 && volumes == 0 && o.Network == nil
}

// CopyCutShort reports whether a template copy into the data volume was
// cut short: its short-lived container is still there.
func (o *Observed) CopyCutShort() bool {
	return slices.ContainsFunc(o.Others, func(c docker.Container) bool { return c.Name == o.Names.TemplateCopy })
}

// All are every container of the stack.
func (o *Observed) All() []docker.Container {
	return append(slices.Collect(maps.Values(o.Containers)), o.Others...)
}

// Restoring reports whether a restore's journal is there: a restore is
// under way, or was cut short.
func (o *Observed) Restoring() bool {
	_, ok := o.Volumes[o.Names.Restoring]
	return ok
}

// ImageKeys are the settings of the containers' images; the helper runs on
// the MySQL image.
var ImageKeys = map[string]string{config.ServiceMySQL: "mysql.image", config.ServiceRedis: "redis.image", config.ServiceGearmand: "gearmand.image", stack.PartHelper: "mysql.image"}

// ImageVariable is the environment variable of role's image setting.
func ImageVariable(role string) string {
	i := slices.IndexFunc(config.Settings, func(s config.Setting) bool { return s.Key == ImageKeys[role] })
	return config.Settings[i].Env
}

// Images are each service's image setting in cfg.
func Images(cfg *config.Config) map[string]*string {
	return map[string]*string{config.ServiceMySQL: &cfg.MySQL.Image, config.ServiceRedis: &cfg.Redis.Image, config.ServiceGearmand: &cfg.Gearmand.Image}
}

// Follow is cfg with each image that no flag, variable or file sets taken
// from the stack's container for it, where there is one: a stack keeps the
// images it was made with (the stand-ins `make up` chose, say) until the
// configuration names others. Replacing a MySQL image unasked could put
// another server on the stack's data.
func (o *Observed) Follow(cfg config.Config) config.Config {
	cfg.Sources = maps.Clone(cfg.Sources)
	for role, img := range Images(&cfg) {
		if _, set := cfg.Sources[ImageKeys[role]]; set {
			continue
		}
		if c, ok := o.Containers[role]; ok && c.Image != "" {
			*img = c.Image
			cfg.Source(ImageKeys[role], sourceStack)
		}
	}
	return cfg
}

// sourceStack is where an image the stack's container runs comes from.
const sourceStack = "the stack's container"

// Failure is why the stack's last up failed, "" when it did not.
func (o *Observed) Failure() string {
	v, ok := o.Volumes[o.Names.Failed]
	if !ok {
		return ""
	}
	return stack.FirstNonEmpty(v.Labels[stack.LabelFailure], "unknown")
}

// PinnedLabels returns the labels of the MySQL data volume, where the values
// chosen once per stack are pinned; nil when the volume does not exist.
func (o *Observed) PinnedLabels() map[string]string {
	v, ok := o.Volumes[o.Names.MySQLData]
	if !ok {
		return nil
	}
	return v.Labels
}
