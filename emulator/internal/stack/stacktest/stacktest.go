// Package stacktest builds stacks on a fake engine, as an up would have left
// them, for the unit tests of the packages that work on stacks.
package stacktest

import (
	"maps"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// NetID is the ID of the stacks' networks.
const NetID = "net-1"

// Config is the default configuration for project.
func Config(project string) config.Config {
	cfg := config.DefaultConfig()
	cfg.Project = project
	return cfg
}

// Ports hands out free ports, counting up from 40001.
func Ports() func() (int, error) {
	next := 40000
	return func() (int, error) { next++; return next, nil }
}

// Spec is role's container as up makes it with cfg and v.
func Spec(cfg config.Config, role string, v stack.Pinned) docker.ContainerSpec {
	s := stack.Blueprint{Config: cfg, Names: stack.NamesFor(cfg.Project), Pinned: v, Tree: stack.TreeID("tree", cfg.Shared.String())}.Specs()[role]
	return stack.Labelled(s, cfg.Project, role, stack.SpecHash(stack.Blueprint{Config: cfg, Pinned: v, Tree: "tree"}.Parameterised(stack.Bare)[role]), stack.Lifetime{})
}

// Container is what the engine would hold for role after an up with cfg.
func Container(cfg config.Config, role string, v stack.Pinned, status string) docker.Container {
	s := Spec(cfg, role, v)
	env := maps.Clone(s.Env)
	env["PATH"] = "/usr/bin" // the image's own
	return docker.Container{Name: s.Name, Image: s.Image, Labels: s.Labels, Env: env, Ports: s.Ports,
		State: docker.State{Status: status, Running: status == "running"}, Networks: map[string]string{s.Network: NetID}}
}

// Running is a fake engine holding project's running stack: its network,
// its volumes and its core containers.
func Running(project string) *fake.Engine {
	f := fake.New()
	cfg := Config(project)
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	n := stack.NamesFor(project)
	f.AddNetwork(n.Network, map[string]string{stack.LabelProject: project})
	for _, name := range []string{n.MySQLData, n.RedisData, n.Shared} {
		f.AddVolume(docker.Volume{Name: name, Labels: map[string]string{stack.LabelProject: project}})
	}
	for _, role := range stack.CoreRoles {
		f.AddContainer(Container(cfg, role, v, "running"))
	}
	return f
}

// Must fails the test at once on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
