// Package observe finds what the engine holds of a project's stack, by its
// labels: containers, network and volumes, and the names that others hold.
package observe

import (
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
)

// Engine finds a project's resources by label.
type Engine struct{ *server.Engine }

// New works on the engine c reaches.
func New(c *engine.Conn) *Engine { return &Engine{server.New(c)} }
