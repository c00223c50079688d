package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// Prune removes a template only under the template's lock, so it never
// pulls one from under its builder, a copy or another prune: four test
// harnesses that start at once all prune the same dead builder's template.
func TestPruneTemplatesUnderTheirLock(t *testing.T) {
	f := fake.New()
	f.AddImage("mysql:here")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	key := func(name string) string { return name + "-" + stack.NewSecret()[:8] }
	addTemplate := func(k, imageID string) {
		f.AddVolume(docker.Volume{Name: TemplateVolume(k), Labels: map[string]string{LabelTemplate: k, labelTemplateImageID: imageID}})
	}
	gone, locked, copying, died, kept := key("gone"), key("locked"), key("copying"), key("died"), key("kept")
	addTemplate(gone, "sha256:gone")
	addTemplate(locked, "sha256:gone")
	addTemplate(copying, "sha256:gone")
	addTemplate(died, "sha256:mysql:here")
	addTemplate(kept, "sha256:mysql:here")
	f.AddContainer(docker.Container{Name: "copy", Volumes: []string{TemplateVolume(copying)}})
	f.AddContainer(docker.Container{Name: templateBuilder(died), Volumes: []string{TemplateVolume(died)},
		Labels: map[string]string{LabelTemplate: died, stack.LabelOwner: fmt.Sprintf("%s/%d", host, dead.Process.Pid)}})
	unlock, err := lock.TryProject("template-" + locked)
	if unlock == nil {
		t.Fatalf("cannot take the lock of %s: %v", locked, err)
	}
	defer unlock()

	e := New(engine.NewConn(docker.Said(f)))
	var mu sync.Mutex
	var removed []string
	var out strings.Builder
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var progress strings.Builder
			r, err := e.PruneTemplates(context.Background(), false, event.Lines(&progress))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("prune: %v", err)
			}
			removed = append(removed, r...)
			out.WriteString(progress.String())
		})
	}
	wg.Wait()
	slices.Sort(removed)
	if want := []string{TemplateVolume(died), TemplateVolume(gone)}; !slices.Equal(removed, want) {
		t.Errorf("four prunes removed %v, want each of %v once\n%s", removed, want, out.String())
	}
	for _, k := range []string{locked, copying, kept} {
		if _, err := f.Volume(context.Background(), TemplateVolume(k)); err != nil {
			t.Errorf("template %s went: %v", k, err)
		}
	}
	if _, err := f.Inspect(context.Background(), templateBuilder(died)); !engine.IsNotFound(err) {
		t.Errorf("the dead builder stayed: %v", err)
	}
	for _, line := range []string{"leaving template " + TemplateVolume(locked) + ": another devstack is making or removing it",
		"leaving template " + TemplateVolume(copying) + ": a stack is being copied from it"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("prune did not say %q:\n%s", line, out.String())
		}
	}
}
