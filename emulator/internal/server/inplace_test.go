package server

import (
	"slices"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
)

// The stack's first server, which a template is made from, is the stack's
// own container: a later up keeps it (its settings are the stack's), and
// what it has beyond them (the clone volume, CAP_SYS_PTRACE, the time zones
// left to devstack) is not part of them, nor of the spec it came from.
func TestFirstServerIsTheStacksOwnContainer(t *testing.T) {
	cfg := stacktest.Config("p")
	v := stack.Pinned{RootPassword: "r", AppPassword: "a", MySQLPort: 1, RedisPort: 2}
	want := stacktest.Spec(cfg, config.ServiceMySQL, v)
	clone := stack.NamesFor("p").MySQLClone
	first := (&InPlace{n: stack.NamesFor("p")}).Spec(want)

	made := docker.Container{Image: first.Image, Labels: first.Labels, Env: first.Env, Ports: first.Ports}
	if made.Labels[stack.LabelConfigHash] != want.Labels[stack.LabelConfigHash] || !stack.SameValues(made, want, "") {
		t.Errorf("a later up would replace the first server's container: %+v", first)
	}
	if !slices.Contains(first.CapAdd, "SYS_PTRACE") || first.Env["MYSQL_INITDB_SKIP_TZINFO"] != "1" ||
		!slices.Contains(first.Mounts, docker.Mount{Volume: clone, Target: CloneMount}) {
		t.Errorf("the first server's container lacks what making a template needs: %+v", first)
	}
	if len(want.CapAdd) > 0 || want.Env["MYSQL_INITDB_SKIP_TZINFO"] != "" || len(want.Mounts) != 1 {
		t.Errorf("the stack's own spec was changed: %+v", want)
	}
}
