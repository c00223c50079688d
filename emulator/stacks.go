package emulator

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// StackInfo is one stack of `devstack ls`; its JSON shape is a contract.
type StackInfo struct {
	Project   string    `json:"project"`
	State     string    `json:"state"` // running, partial, stopped, or absent (a first up failed)
	Created   time.Time `json:"created"`
	Ephemeral bool      `json:"ephemeral"`
	// Owner is <hostname>/<pid> of the process that made an ephemeral stack;
	// empty for everyday stacks.
	Owner      string `json:"owner"`
	OwnerAlive bool   `json:"owner_alive"`
	// Kept stacks were left up on purpose (`run --keep`): a plain prune
	// spares them although their owner is gone.
	Kept bool `json:"kept"`
}

// Age is how long ago the stack was made: "3m12s", or "2h5m" past an hour.
func (s StackInfo) Age() string {
	d := max(time.Since(s.Created), 0)
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// MarshalJSON adds age, which is computed, after created.
func (s StackInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Project    string    `json:"project"`
		State      string    `json:"state"`
		Created    time.Time `json:"created"`
		Age        string    `json:"age"`
		Ephemeral  bool      `json:"ephemeral"`
		Owner      string    `json:"owner"`
		OwnerAlive bool      `json:"owner_alive"`
		Kept       bool      `json:"kept"`
	}{s.Project, s.State, s.Created, s.Age(), s.Ephemeral, s.Owner, s.OwnerAlive, s.Kept})
}

// stackTally gathers one project's resources while they are listed.
type stackTally struct {
	info              StackInfo
	resources, marked int // all of them, and those labelled ephemeral
	// running are the roles of its running containers; containers counts all.
	running    []string
	containers int
	// failed: the record of an up that failed is there.
	failed bool
}

// state is running when every container of the stack runs, those every
// stack has among them, and its last up did not fail; stopped when none
// runs; absent when only the record of a failed first up is left; else
// partial.
func (t *stackTally) state() string {
	switch {
	case t.failed && t.resources == 1:
		return converge.StateAbsent
	case len(t.running) == 0:
		return converge.StateStopped
	case !t.failed && len(t.running) == t.containers && !slices.ContainsFunc(stack.CoreRoles, func(r string) bool { return !slices.Contains(t.running, r) }):
		return converge.StateRunning
	}
	return converge.StatePartial
}

// ListStacks returns every devstack stack on the Docker host, found by the
// project label on containers, networks and volumes, sorted by project.
func ListStacks(ctx context.Context, e *Engine) ([]StackInfo, error) {
	tallies := map[string]*stackTally{}
	add := func(labels map[string]string) *stackTally {
		p := labels[stack.LabelProject]
		t := tallies[p]
		if t == nil {
			t = &stackTally{info: StackInfo{Project: p}}
			tallies[p] = t
		}
		t.resources++
		if labels[stack.LabelEphemeral] == "true" {
			t.marked++
		}
		if c, err := time.Parse(time.RFC3339, labels[stack.LabelCreated]); err == nil && (t.info.Created.IsZero() || c.Before(t.info.Created)) {
			t.info.Created = c
		}
		if t.info.Owner == "" {
			t.info.Owner = labels[stack.LabelOwner]
		}
		t.info.Kept = t.info.Kept || labels[stack.LabelKeep] == "true"
		return t
	}
	cs, err := e.core.Docker.Containers(ctx, stack.LabelProject)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		t := add(c.Labels)
		if c.Labels[stack.LabelService] == stack.PartInit {
			continue // one-shot: done when it has exited
		}
		t.containers++
		if c.State.Running && !c.State.Restarting && slices.Contains(stack.AllRoles, c.Labels[stack.LabelService]) {
			t.running = append(t.running, c.Labels[stack.LabelService])
		}
	}
	ns, err := e.core.Docker.Networks(ctx, stack.LabelProject)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		add(n.Labels)
	}
	vs, err := e.core.Docker.Volumes(ctx, stack.LabelProject)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		t := add(v.Labels)
		t.failed = t.failed || v.Labels[stack.LabelService] == stack.PartFailure
	}
	stacks := make([]StackInfo, 0, len(tallies))
	for _, t := range tallies {
		s := t.info
		s.State = t.state()
		// Ephemeral only when every resource says so: a stack that is partly
		// everyday must not be pruned with its data.
		s.Ephemeral = t.marked == t.resources
		if s.Ephemeral {
			s.OwnerAlive = stack.OwnerAlive(s.Owner)
		} else {
			s.Owner = ""
		}
		stacks = append(stacks, s)
	}
	sort.Slice(stacks, func(i, j int) bool { return stacks[i].Project < stacks[j].Project })
	return stacks, nil
}

// PruneOptions choose which ephemeral stacks go: All of them; else those
// older than OlderThan, owner alive or not; else those whose owner is dead,
// unless kept or younger than Grace.
type PruneOptions struct {
	OlderThan time.Duration
	All       bool
	// Grace spares orphans this young: the harness prunes on every Start, and
	// must not race a test that is still looking at a stack it just orphaned.
	Grace time.Duration
	// Templates removes every seeded template as well; without it only
	// those whose image is gone, or whose builder died half way, go.
	Templates bool
	Progress  event.Sink
}

// Pruned is what a prune removed; its JSON shape is a contract.
type Pruned struct {
	Stacks    []string `json:"stacks"`
	Templates []string `json:"templates"`
}

func (o PruneOptions) selects(s StackInfo, now time.Time) bool {
	switch {
	case !s.Ephemeral:
		return false
	case o.All:
		return true
	case o.OlderThan > 0:
		return now.Sub(s.Created) > o.OlderThan
	default:
		return !s.OwnerAlive && !s.Kept && now.Sub(s.Created) >= o.Grace
	}
}

// Prune removes ephemeral stacks, volumes included: throw-away data is what
// ephemeral means, and seeded templates (see PruneOptions.Templates).
// Everyday stacks are never touched. One that fails does not stop the
// others, and its error is returned with what was removed; nil means the
// stacks could not even be listed.
func Prune(ctx context.Context, e *Engine, opts PruneOptions) (*Pruned, error) {
	progress := opts.Progress
	stacks, err := ListStacks(ctx, e)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	removed := []string{}
	var first error
	for _, s := range stacks {
		if !opts.selects(s, now) {
			continue
		}
		progress.Note("removing throw-away stack %s (made %s ago by %s)", s.Project, s.Age(), s.Owner)
		// Down finds the stack by label, so one that vanished meanwhile is
		// simply nothing to remove.
		if _, err := e.core.Down(ctx, s.Project, DownOptions{Volumes: true, Progress: progress}); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		removed = append(removed, s.Project)
	}
	// Templates go with --all only when asked: they are no stack's.
	templates, err := e.core.PruneTemplates(ctx, opts.Templates, progress)
	if first == nil {
		first = err
	}
	return &Pruned{Stacks: removed, Templates: templates}, first
}

// ListTemplates returns the seeded templates on the engine.
func ListTemplates(ctx context.Context, e *Engine) ([]TemplateInfo, error) {
	return e.core.ListTemplates(ctx)
}
