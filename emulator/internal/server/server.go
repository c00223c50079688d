package server

import "github.com/wellcomecollection/devstack/emulator/internal/engine"

// Engine starts MySQL servers and keeps their templates and volumes.
type Engine struct{ *engine.Conn }
