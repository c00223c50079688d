// Package fault says what a failure means: bad input (exit 2) or a broken
// environment (exit 1), so that the CLI never guesses from message text.
package fault

import (
	"errors"
	"fmt"
	"strings"
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

// Usage is bad input, said in one line.
func Usage(format string, args ...any) error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

// Env is a failure of the environment, with its cause.
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

// PortTaken is a host port that another program holds.
func PortTaken(service, address string, port int) error {
	return Usage("port %d on %s is taken, so %s cannot publish on it: stop what uses it, or set %s.port (DEVSTACK_%s_PORT) to another port (0 picks a free one for a new stack)",
		port, address, service, service, strings.ToUpper(service))
}
