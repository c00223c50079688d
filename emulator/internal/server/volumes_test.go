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

// lateCreate is an engine that finishes the create of a killed devstack's
// copy just after the first look for it, as an engine does with a request
// whose client died.
type lateCreate struct {
	*fake.Engine
	name, project string
	looked        bool
}

func (l *lateCreate) Inspect(ctx context.Context, nameOrID string) (docker.Container, error) {
	if nameOrID == l.name && !l.looked {
		l.looked = true
		c, err := l.Engine.Inspect(ctx, nameOrID)
		l.AddContainer(docker.Container{Name: l.name, Labels: map[string]string{stack.LabelProject: l.project}})
		return c, err
	}
	return l.Engine.Inspect(ctx, nameOrID)
}

// A copy takes over the name a killed devstack's copy holds, even when the
// engine made that container after the copy first looked for it.
func TestCopyTakesOverALeftoverCreatedLate(t *testing.T) {
	f := fake.New()
	f.AddImage("mysql:here")
	n := stack.NamesFor("p")
	late := &lateCreate{Engine: f, name: n.Copy, project: "p"}
	e := New(engine.NewConn(docker.Said(late)))
	c := VolumeCopy{Name: n.Copy, Labels: stack.Lifetime{}.Labels("p", stack.PartHelper), Image: "mysql:here",
		Pairs: []VolumePair{{From: "snap", To: n.MySQLData}}}
	if err := e.CopyVolumes(context.Background(), c); err != nil {
		t.Fatalf("copy over a late leftover: %v", err)
	}
	if !slices.Contains(f.Calls, "remove "+n.Copy) {
		t.Errorf("the leftover was not removed: %v", f.Calls)
	}
}
