package converge

import (
	"maps"
	"slices"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// action is what up does with one container.
type action int

const (
	keep     action = iota // running and made from the current settings
	start                  // stopped, current settings: start it, data intact
	create                 // missing
	recreate               // made from other settings: replace it, volume kept
	remove                 // no longer asked for (gearmand turned off)
)

// planFor decides what up does with a container, given what it was made
// from (nil when it is missing; else inspected), what the settings ask for
// (labelled, with its config hash), the ID of the stack's network (""
// when it must be made) and the ID of the image the spec names ("" when it
// is not here yet).
func planFor(current *docker.Container, want docker.ContainerSpec, networkID, imageID string) action {
	switch {
	case current == nil:
		return create
	case current.Labels[stack.LabelConfigHash] != want.Labels[stack.LabelConfigHash] || !stack.SameValues(*current, want, imageID):
		return recreate
	// Docker keeps the ID of the network a container was made on: if that
	// network was removed, starting it fails until it is made again. Podman
	// keeps the network's name, which a network made again answers to.
	case want.Network != docker.NoNetwork && !onNetwork(*current, want.Network, networkID):
		return recreate
	case !current.State.Running:
		return start
	default:
		return keep
	}
}

// onNetwork reports whether a container is attached to the stack's network
// as it is now: by its ID (Docker) or its name (Podman).
func onNetwork(c docker.Container, name, id string) bool {
	got, ok := c.Networks[name]
	return ok && id != "" && (got == id || got == name)
}

// upPlan is everything up will do, decided before anything is done.
type upPlan struct {
	names  stack.Names
	life   stack.Lifetime
	pinned stack.Pinned
	// newNetwork is true when the network must be made; networkID is its
	// ID once it exists.
	newNetwork bool
	networkID  string
	// imageIDs are the IDs of the images the specs name, where they are here.
	imageIDs map[string]string
	// newVolumes are the volumes to make, with their labels.
	newVolumes []docker.Volume
	// Specs are the containers as they are to be, labelled, by role.
	Specs   map[string]docker.ContainerSpec
	actions map[string]action
	// current are the existing containers by role, volumes by name.
	current map[string]docker.Container
	volumes map[string]docker.Volume
	// template fills the new data volume, when there is one to use.
	template *server.Template
	// leftovers are short-lived containers a process that died left.
	leftovers []docker.Container
}

// PlanInput is what up plans from.
type PlanInput struct {
	Config   config.Config
	Observed *observe.Observed
	life     stack.Lifetime
	// Tree is the digest of the fixtures' shared tree; api the engine's API
	// version.
	Tree, api string
	// FreePort finds a free host port, for the values still open.
	FreePort func() (int, error)
	// imageIDs are the IDs of the configured images that are here, by
	// reference: a container runs the image it names when their IDs agree,
	// whatever name the engine reports (Podman adds localhost/ or docker.io/).
	imageIDs map[string]string
	// template is the seeded template for a new data volume: found
	// complete, or to be made (build). nil when there is none to use.
	template *server.Template
}

// PlanUp decides what up does to bring the observed stack to the
// configuration; it chooses the values still open. The observed containers
// are inspected ones: planFor compares what they run with.
func PlanUp(in PlanInput) (*upPlan, error) {
	cfg, o, life := in.Config, in.Observed, in.life
	v, err := stack.ChoosePinned(cfg, o.PinnedLabels(), PublishedPort(o.Containers[config.ServiceGearmand]), in.FreePort)
	if err != nil {
		return nil, err
	}
	_, haveData := o.Volumes[o.Names.MySQLData]
	switch {
	case in.template != nil && haveData && o.CopyCutShort():
		// A copy cut short is done again; the volume keeps its values.
	case in.template != nil && !haveData:
		if in.template.Build {
			in.template.Created = v.Created
		} else {
			// Seeded rows carry the template's time: a reset reseeds them
			// the same.
			v.Created = in.template.Created
		}
	default:
		in.template = nil
	}
	p := &upPlan{names: o.Names, life: life, pinned: v, newNetwork: o.Network == nil, Specs: map[string]docker.ContainerSpec{},
		actions: map[string]action{}, current: o.Containers, volumes: o.Volumes, template: in.template, imageIDs: in.imageIDs}
	for _, c := range o.Others {
		// The compose file's init container is no leftover: it did its work
		// and stays, exited, as compose left it.
		if c.Labels[stack.LabelService] != stack.PartInit {
			p.leftovers = append(p.leftovers, c)
		}
	}
	n := o.Names
	if o.Network != nil {
		p.networkID = o.Network.ID
	}
	for _, vol := range []struct{ name, part string }{{n.MySQLData, config.ServiceMySQL}, {n.RedisData, config.ServiceRedis}, {n.Shared, stack.PartShared}} {
		if _, ok := o.Volumes[vol.name]; ok {
			continue
		}
		labels := life.Labels(n.Project, vol.part)
		if vol.name == n.MySQLData {
			maps.Copy(labels, v.Labels())
			if in.template != nil {
				labels[server.LabelFromTemplate] = in.template.Key
				labels[server.LabelTemplateRootPassword] = in.template.RootPassword
			}
		}
		p.newVolumes = append(p.newVolumes, docker.Volume{Name: vol.name, Labels: labels})
	}
	hashes := stack.Blueprint{Config: cfg, Pinned: v, Tree: in.Tree}.Parameterised(stack.Bare)
	for role, s := range (stack.Blueprint{Config: cfg, Names: n, Pinned: v, Tree: stack.TreeID(in.Tree, cfg.Shared.String()), API: in.api}).Specs() {
		var cur *docker.Container
		if c, ok := o.Containers[role]; ok {
			cur = &c
		}
		p.Specs[role] = stack.Labelled(s, n.Project, role, stack.SpecHash(hashes[role]), life)
		p.actions[role] = planFor(cur, p.Specs[role], p.networkID, p.imageIDs[s.Image])
	}
	for role := range o.Containers {
		if _, wanted := p.Specs[role]; !wanted {
			p.actions[role] = remove
		}
	}
	return p, nil
}

// newVolume reports whether the plan makes the volume.
func (p *upPlan) newVolume(name string) bool {
	return slices.ContainsFunc(p.newVolumes, func(v docker.Volume) bool { return v.Name == name })
}

// volumeLabels are the labels a stack volume has or is made with.
func (p *upPlan) volumeLabels(name string) map[string]string {
	for _, v := range p.newVolumes {
		if v.Name == name {
			return v.Labels
		}
	}
	return p.volumes[name].Labels
}

// portChecks are the host ports that must be free before up starts
// anything: those of containers it creates or starts.
func (p *upPlan) portChecks() map[string]int {
	ports := map[string]int{}
	for _, role := range stack.AllRoles {
		if a := p.actions[role]; a == create || a == start {
			for _, port := range p.Specs[role].Ports {
				ports[role] = port.HostPort
			}
		}
	}
	return ports
}

// images are the images up needs, with the setting that chose each.
func (p *upPlan) images() map[string]string {
	out := map[string]string{}
	for _, role := range slices.Sorted(maps.Keys(p.actions)) {
		if a := p.actions[role]; a != keep && a != remove {
			out[p.Specs[role].Image] = observe.ImageVariable(role)
		}
	}
	return out
}
