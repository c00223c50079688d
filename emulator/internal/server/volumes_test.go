package server

import (
	"context"
	"slices"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// A copy takes over the name a killed devstack's copy holds, however late
// the engine made that container: the copy does not look first, it takes
// the name when the engine says it is taken.
func TestCopyTakesOverALeftoverCreatedLate(t *testing.T) {
	f := fake.New()
	f.AddImage("mysql:here")
	n := stack.NamesFor("p")
	f.AddContainer(docker.Container{Name: n.Copy, Labels: map[string]string{stack.LabelProject: "p"}})
	e := New(engine.NewConn(docker.Said(f)))
	c := VolumeCopy{Name: n.Copy, Labels: stack.Lifetime{}.Labels("p", stack.PartHelper), Image: "mysql:here",
		Pairs: []VolumePair{{From: "snap", To: n.MySQLData}}}
	if err := e.CopyVolumes(context.Background(), c); err != nil {
		t.Fatalf("copy over a late leftover: %v", err)
	}
	if !slices.Contains(f.Calls, "remove "+n.Copy) {
		t.Errorf("the leftover was not removed: %v", f.Calls)
	}
}
