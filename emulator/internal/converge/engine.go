// Package converge brings a project's stack to its configured state, as
// compose does: it observes what the engine holds (package observe), plans
// what to create, start or replace (plan.go), and applies the plan (up.go,
// upmysql.go, upgearmand.go); it also takes stacks down and reports their
// state. Up and DownLocked expect the caller to hold the project lock;
// Down takes it.
package converge

import (
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
)

// Engine brings a stack to its configured state: it observes what
// the engine has, plans, and applies the plan.
type Engine struct{ *observe.Engine }

// New works on the engine c reaches.
func New(c *engine.Conn) *Engine { return &Engine{observe.New(c)} }
