package emulator

import (
	"context"

	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/snapshot"
)

// Engine is a connection to a Docker engine, on which every command works.
type Engine struct{ *snapshot.Engine }

func newEngine(c *engine.Conn) *Engine {
	return &Engine{snapshot.New(c)}
}

// Connect reaches the Docker engine the docker CLI would use (DOCKER_HOST,
// then the current context), and pings it.
func Connect(ctx context.Context) (*Engine, error) {
	c, err := engine.Dial(ctx)
	if err != nil {
		return nil, err
	}
	return newEngine(c), nil
}

// ResolveEndpoint is the endpoint the docker CLI would use, and where it
// was set: DOCKER_HOST, the current context, or the default socket.
func ResolveEndpoint(getenv func(string) string, home string) (endpoint, source string) {
	return engine.ResolveEndpoint(getenv, home)
}
