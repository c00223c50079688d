package fault

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
)

// Exit codes are part of the CLI contract (docs/architecture.md): scripts
// branch on them.
const (
	ExitOK    = 0
	ExitEnv   = 1 // the environment or a service failed: Docker, images, readiness
	ExitUsage = 2 // bad input: flags, config, project name, a port that is taken
)

// Error carries the exit code that a failure maps to, so that the CLI never has
// to guess from message text.
type Error struct {
	Code int
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func Usage(format string, args ...any) error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

func Env(err error, format string, args ...any) error {
	return &Error{Code: ExitEnv, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ExitCode maps any error to the CLI's exit code: errors devstack did not
// classify are failures of the environment.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitEnv
}

func PortTaken(service, address string, port int) error {
	return Usage("port %d on %s is taken, so %s cannot publish on it: stop what uses it, or set %s.port (DEVSTACK_%s_PORT) to another port (0 picks a free one for a new stack)",
		port, address, service, service, strings.ToUpper(service))
}

// PublishFailed classifies an engine's refusal to publish a port: taken, or
// an address its machine does not have (a DEVSTACK_HOST for a remote
// engine that is not one of its addresses). nil for any other error.
func PublishFailed(service string, p docker.Port, err error) error {
	switch {
	case errors.Is(err, docker.ErrPortTaken):
		return PortTaken(service, p.HostIP, p.HostPort)
	case errors.Is(err, docker.ErrAddressUnavailable):
		return Usage("the engine cannot publish %s's port on %s: its machine has no such address; set DEVSTACK_HOST to an address of the engine's machine, or unset it to publish on DOCKER_HOST's host", service, p.HostIP)
	}
	return nil
}
