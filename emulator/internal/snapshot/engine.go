// Package snapshot saves a stack's volumes as a snapshot, restores one,
// exports and imports them as files, and finishes a restore that was cut
// short (Settle), which every command that changes a stack does first.
// A restore copies the volumes, then converges the stack on that data.
package snapshot

import (
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
)

// Engine saves, restores, exports and imports stacks' states, and
// finishes a restore that was cut short.
type Engine struct{ *converge.Engine }

// New works on the engine c reaches.
func New(c *engine.Conn) *Engine { return &Engine{converge.New(c)} }
