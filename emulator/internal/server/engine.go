// Package server starts the MySQL servers of stacks and templates through
// the image's own entrypoint (or a direct start learnt from it), builds and
// copies seeded templates, and copies volumes.
package server

import "github.com/wellcomecollection/devstack/emulator/internal/engine"

// Engine starts MySQL servers and keeps their templates and volumes.
type Engine struct{ *engine.Conn }

// New works on the engine c reaches.
func New(c *engine.Conn) *Engine { return &Engine{c} }
