package converge

import "github.com/wellcomecollection/devstack/emulator/internal/server"

// Engine brings a stack to its configured state: it observes what
// the engine has, plans, and applies the plan.
type Engine struct{ *server.Engine }
