// Package fake is an in-memory Docker engine for unit tests of devstack's
// decisions: what to create, what to remove, what counts as a conflict.
// It keeps containers, volumes, networks and images as plain values and
// records the calls that change them.
package fake

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
)

// Engine is a fake docker.Client. Its fields may be set before use; the
// Add methods put resources in place as if something else had made them.
type Engine struct {
	API string

	// BeforeList runs at the start of every Containers call, with the
	// number of earlier calls: a test can make a container appear late.
	BeforeList func(call int)
	// ExecFunc answers Exec; nil means every command succeeds silently.
	ExecFunc func(id string, x docker.Exec) (int, error)
	// Output is what each container logged, by name.
	Output map[string]string

	mu         sync.Mutex
	lists      int
	seq        int
	containers map[string]*docker.Container // by ID
	volumes    map[string]docker.Volume
	networks   map[string]docker.Network // by ID
	images     map[string]docker.Image
	written    map[string]map[string]*tar.Header // by container name, then path
	// Calls records every call that changed something, e.g. "remove devstack-p-mysql".
	Calls []string
}

// New returns an empty engine speaking API 1.41.
func New() *Engine {
	return &Engine{API: "1.41", containers: map[string]*docker.Container{}, volumes: map[string]docker.Volume{},
		networks: map[string]docker.Network{}, images: map[string]docker.Image{}, Output: map[string]string{},
		written: map[string]map[string]*tar.Header{}}
}

var _ docker.Client = (*Engine)(nil)

func (e *Engine) Endpoint() string   { return "unix:///fake.sock" }
func (e *Engine) APIVersion() string { return e.API }
func (e *Engine) Close() error       { return nil }

func (e *Engine) record(format string, args ...any) {
	e.Calls = append(e.Calls, fmt.Sprintf(format, args...))
}

func (e *Engine) id() string {
	e.seq++
	return fmt.Sprintf("%064d", e.seq)
}

func notFound(kind, name string) error {
	return fmt.Errorf("%w: no such %s: %s", docker.ErrNotFound, kind, name)
}

// matches reports whether labels satisfy every "key" or "key=value" filter.
func matches(labels map[string]string, filters []string) bool {
	for _, f := range filters {
		k, v, hasValue := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

// AddImage makes an image present.
func (e *Engine) AddImage(ref string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.images[ref] = docker.Image{ID: "sha256:" + ref}
}

// AddContainer puts a container in place; an empty ID or status is filled in.
func (e *Engine) AddContainer(c docker.Container) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.ID == "" {
		c.ID = e.id()
	}
	if c.State.Status == "" {
		c.State.Status = "running"
	}
	c.State.Running = c.State.Status == "running" || c.State.Status == "restarting"
	c.State.Restarting = c.State.Status == "restarting"
	if c.Networks == nil {
		c.Networks = map[string]string{}
	}
	e.containers[c.ID] = &c
	return c.ID
}

// AddVolume puts a volume in place.
func (e *Engine) AddVolume(v docker.Volume) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.volumes[v.Name] = v
}

// AddNetwork puts a network in place and returns its ID.
func (e *Engine) AddNetwork(name string, labels map[string]string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.id()
	e.networks[id] = docker.Network{ID: id, Name: name, Labels: labels}
	return id
}

func (e *Engine) find(nameOrID string) *docker.Container {
	for _, c := range e.containers {
		if c.ID == nameOrID || c.Name == nameOrID {
			return c
		}
	}
	return nil
}

func (e *Engine) Containers(_ context.Context, labels ...string) ([]docker.Container, error) {
	e.mu.Lock()
	call := e.lists
	e.lists++
	hook := e.BeforeList
	e.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []docker.Container
	for _, c := range e.containers {
		if matches(c.Labels, labels) {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b docker.Container) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (e *Engine) Inspect(_ context.Context, nameOrID string) (docker.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c := e.find(nameOrID); c != nil {
		return *c, nil
	}
	return docker.Container{}, notFound("container", nameOrID)
}

func (e *Engine) run(s docker.ContainerSpec, kind string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.images[s.Image]; !ok {
		return notFound("image", s.Image)
	}
	if e.find(s.Name) != nil {
		return fmt.Errorf("%w: the container name %q is already in use", docker.ErrNameTaken, s.Name)
	}
	for _, p := range s.Ports {
		if e.portHolder(p.HostPort) != nil {
			return fmt.Errorf("%w: Bind for 127.0.0.1:%d failed", docker.ErrPortTaken, p.HostPort)
		}
	}
	c := &docker.Container{ID: e.id(), Name: s.Name, Image: s.Image, ImageID: e.images[s.Image].ID,
		Labels: maps.Clone(s.Labels), Env: maps.Clone(s.Env), Ports: slices.Clone(s.Ports), Networks: map[string]string{},
		State: docker.State{Status: "running", Running: true}}
	for _, m := range s.Mounts {
		c.Volumes = append(c.Volumes, m.Volume)
	}
	if s.Network != "" {
		for _, n := range e.networks {
			if n.Name == s.Network {
				c.Networks[n.Name] = n.ID
			}
		}
	}
	if s.Health != nil {
		c.State.Health = "starting"
	}
	e.containers[c.ID] = c
	e.record("%s %s", kind, s.Name)
	return nil
}

// portHolder is the running container that publishes host port p.
func (e *Engine) portHolder(p int) *docker.Container {
	for _, c := range e.containers {
		for _, q := range c.Ports {
			if c.State.Running && q.HostPort == p {
				return c
			}
		}
	}
	return nil
}

func (e *Engine) RunService(_ context.Context, s docker.ContainerSpec) error {
	return e.run(s, "run-service")
}

func (e *Engine) RunHelper(_ context.Context, s docker.ContainerSpec) error {
	return e.run(s, "run-helper")
}

func (e *Engine) Create(_ context.Context, s docker.ContainerSpec) error {
	if err := e.run(s, "create"); err != nil {
		return err
	}
	return e.change(s.Name, "created", func(c *docker.Container) error {
		c.State = docker.State{Status: "created"}
		return nil
	})
}

// change applies f to a container found by name or ID.
func (e *Engine) change(nameOrID, call string, f func(c *docker.Container) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.find(nameOrID)
	if c == nil {
		return notFound("container", nameOrID)
	}
	e.record("%s %s", call, c.Name)
	return f(c)
}

func (e *Engine) Start(_ context.Context, id string) error {
	return e.change(id, "start", func(c *docker.Container) error {
		for _, p := range c.Ports {
			if h := e.portHolder(p.HostPort); h != nil && h != c {
				return fmt.Errorf("%w: Bind for 127.0.0.1:%d failed", docker.ErrPortTaken, p.HostPort)
			}
		}
		c.State = docker.State{Status: "running", Running: true, RestartCount: c.State.RestartCount}
		return nil
	})
}

func (e *Engine) Stop(_ context.Context, id string, _ time.Duration) error {
	return e.change(id, "stop", func(c *docker.Container) error {
		c.State = docker.State{Status: "exited", RestartCount: c.State.RestartCount}
		return nil
	})
}

func (e *Engine) Restart(_ context.Context, id string, _ time.Duration) error {
	return e.change(id, "restart", func(c *docker.Container) error {
		c.State = docker.State{Status: "running", Running: true, RestartCount: c.State.RestartCount}
		return nil
	})
}

func (e *Engine) Remove(_ context.Context, id string) error {
	return e.change(id, "remove", func(c *docker.Container) error {
		delete(e.containers, c.ID)
		return nil
	})
}

func (e *Engine) Rename(_ context.Context, nameOrID, name string) error {
	return e.change(nameOrID, "rename", func(c *docker.Container) error {
		if other := e.find(name); other != nil && other != c {
			return fmt.Errorf("%w: %s", docker.ErrNameTaken, name)
		}
		c.Name = name
		return nil
	})
}

func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	c, err := e.Inspect(ctx, id)
	return c.State.ExitCode, err
}

func (e *Engine) Exec(_ context.Context, id string, x docker.Exec) (int, error) {
	e.mu.Lock()
	c := e.find(id)
	f := e.ExecFunc
	e.mu.Unlock()
	if c == nil {
		return 0, notFound("container", id)
	}
	if f == nil {
		return 0, nil
	}
	return f(c.Name, x)
}

// CopyTo reads the whole stream, as the engine does, and keeps the headers
// of what it holds (Written), not the contents.
func (e *Engine) CopyTo(ctx context.Context, id, dir string, r io.Reader) error {
	c, err := e.Inspect(ctx, id)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		e.mu.Lock()
		if e.written[c.Name] == nil {
			e.written[c.Name] = map[string]*tar.Header{}
		}
		e.written[c.Name][path.Join(dir, h.Name)] = h
		e.mu.Unlock()
	}
	_, err = io.Copy(io.Discard, r)
	return err
}

// Written returns the header of what CopyTo wrote at path in a container.
func (e *Engine) Written(name, path string) (*tar.Header, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.written[name][path]
	return h, ok
}

func (e *Engine) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	return nil, notFound("path", path)
}

// Changes reports nothing: the fake keeps no container filesystems.
func (e *Engine) Changes(ctx context.Context, id string) ([]docker.Change, error) {
	if _, err := e.Inspect(ctx, id); err != nil {
		return nil, err
	}
	return nil, nil
}

func (e *Engine) Logs(_ context.Context, id string, _ docker.LogOptions, stdout, _ io.Writer) error {
	e.mu.Lock()
	c := e.find(id)
	e.mu.Unlock()
	if c == nil {
		return notFound("container", id)
	}
	_, err := io.WriteString(stdout, e.Output[c.Name])
	return err
}

func (e *Engine) Image(_ context.Context, ref string) (docker.Image, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if img, ok := e.images[ref]; ok {
		return img, nil
	}
	for _, img := range e.images {
		if img.ID == ref {
			return img, nil
		}
	}
	return docker.Image{}, notFound("image", ref)
}

func (e *Engine) Pull(_ context.Context, ref string) error {
	return fmt.Errorf("pull access denied for %s: no registry", ref)
}

func (e *Engine) Pullable(_ context.Context, ref string) error {
	return e.Pull(context.Background(), ref)
}

func (e *Engine) Info(context.Context) (docker.Info, error) {
	return docker.Info{Product: "Docker", ServerVersion: "20.10.24", RootDir: "/var/lib/docker"}, nil
}

func (e *Engine) Volumes(_ context.Context, labels ...string) ([]docker.Volume, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []docker.Volume
	for _, name := range slices.Sorted(maps.Keys(e.volumes)) {
		if v := e.volumes[name]; matches(v.Labels, labels) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (e *Engine) Volume(_ context.Context, name string) (docker.Volume, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.volumes[name]; ok {
		return v, nil
	}
	return docker.Volume{}, notFound("volume", name)
}

func (e *Engine) CreateVolume(_ context.Context, v docker.Volume) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.volumes[v.Name]; !ok {
		v.CreatedAt = time.Now()
		e.volumes[v.Name] = v
	}
	e.record("create-volume %s", v.Name)
	return nil
}

func (e *Engine) RemoveVolume(_ context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.volumes[name]; !ok {
		return notFound("volume", name)
	}
	for _, c := range e.containers {
		if slices.Contains(c.Volumes, name) {
			return fmt.Errorf("%w: remove %s: volume is in use - [%s]", docker.ErrInUse, name, c.ID)
		}
	}
	delete(e.volumes, name)
	e.record("remove-volume %s", name)
	return nil
}

func (e *Engine) VolumeSizes(context.Context) (map[string]int64, error) {
	return map[string]int64{}, nil
}

func (e *Engine) Networks(_ context.Context, labels ...string) ([]docker.Network, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []docker.Network
	for _, n := range e.networks {
		if matches(n.Labels, labels) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (e *Engine) Network(_ context.Context, nameOrID string) (docker.Network, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.networks {
		if n.ID == nameOrID || n.Name == nameOrID {
			for _, c := range e.containers {
				if _, ok := c.Networks[n.Name]; ok {
					n.Containers = append(n.Containers, c.Name)
				}
			}
			slices.Sort(n.Containers)
			return n, nil
		}
	}
	return docker.Network{}, notFound("network", nameOrID)
}

func (e *Engine) CreateNetwork(_ context.Context, name string, labels map[string]string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.id()
	e.networks[id] = docker.Network{ID: id, Name: name, Labels: labels}
	e.record("create-network %s", name)
	return id, nil
}

func (e *Engine) RemoveNetwork(_ context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, ok := e.networks[id]
	if !ok {
		return notFound("network", id)
	}
	for _, c := range e.containers {
		if _, ok := c.Networks[n.Name]; ok {
			return fmt.Errorf("error while removing network: network %s has active endpoints", n.Name)
		}
	}
	delete(e.networks, id)
	e.record("remove-network %s", n.Name)
	return nil
}
