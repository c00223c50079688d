// Package emulator is devstack's library: it brings a project's stack (MySQL,
// Redis, the shared directory, and Gearmand where asked) up on a Docker or
// Podman engine, seeded as Archivematica's are, and takes it down again; it
// saves and restores snapshots, reports status and connection settings, and
// runs commands inside. Every command works on an Engine from Connect. The
// packages beneath it are internal; docs/architecture.md draws the layers.
package emulator

import (
	"context"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/snapshot"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// Engine is a connection to a Docker engine, on which every command works.
// The layers beneath it stay behind the commands: their methods skip the
// project lock.
type Engine struct{ core *snapshot.Engine }

func newEngine(c *engine.Conn) *Engine {
	return &Engine{snapshot.New(c)}
}

// Close ends the connection, and the tunnels devstack opened for it.
func (e *Engine) Close() error { return e.core.Close() }

// Endpoint is the engine's address; Source says where it was set.
func (e *Engine) Endpoint() string { return e.core.Endpoint() }

// Source says where the endpoint was set: DOCKER_HOST, a context, or the
// default socket.
func (e *Engine) Source() string { return e.core.Source() }

// APIVersion is the API version spoken with the engine.
func (e *Engine) APIVersion() string { return e.core.APIVersion() }

// Local reports whether the engine runs on this machine.
func (e *Engine) Local() bool { return e.core.Local() }

// Reach is cfg with the host and ports at which this machine reaches the
// engine's published ports.
func (e *Engine) Reach(cfg config.Config) (config.Config, error) { return e.core.Reach(cfg) }

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

// The façade's names for the types and constants of the packages beneath
// it: a program that uses devstack imports emulator and emulator/config,
// never an internal package.

// What a failure means: its exit code.
type Error = fault.Error

const (
	ExitEnv   = fault.ExitEnv
	ExitOK    = fault.ExitOK
	ExitUsage = fault.ExitUsage
)

var (
	ExitCode = fault.ExitCode
)

// The labels on every resource devstack makes, a stack's lifetime, and where
// the shared directory is mounted.
type Lifetime = stack.Lifetime

const (
	LabelConfigHash = stack.LabelConfigHash
	LabelCreated    = stack.LabelCreated
	LabelEphemeral  = stack.LabelEphemeral
	LabelOwner      = stack.LabelOwner
	LabelProject    = stack.LabelProject
	LabelService    = stack.LabelService
	SharedDir       = stack.SharedDir
)

// The state of a stack, and the options of up and down.
type DownOptions = converge.DownOptions
type DownReport = converge.DownReport
type ServiceStatus = converge.ServiceStatus
type StatusReport = converge.StatusReport
type UpOptions = converge.UpOptions

const (
	ServiceExited     = converge.ServiceExited
	ServiceMissing    = converge.ServiceMissing
	ServiceRestarting = converge.ServiceRestarting
	StateStopped      = converge.StateStopped
	StateAbsent       = converge.StateAbsent
	StatePartial      = converge.StatePartial
	StateRestoring    = converge.StateRestoring
	StateRunning      = converge.StateRunning
)

// Seeded templates.
type TemplateInfo = server.TemplateInfo

const (
	LabelStart    = server.LabelStart
	LabelTemplate = server.LabelTemplate
)

// Snapshots: their description, the options of save, restore, export and
// import, and their labels.
type ExportOptions = snapshot.ExportOptions
type ExportReport = snapshot.ExportReport
type ImportOptions = snapshot.ImportOptions
type RestoreReport = snapshot.RestoreReport
type SaveReport = snapshot.SaveReport
type SnapshotInfo = snapshot.SnapshotInfo
type SnapshotOptions = snapshot.SnapshotOptions

const (
	LabelSnapshot   = snapshot.LabelSnapshot
	LabelSnapshotOf = snapshot.LabelSnapshotOf
)

var ValidateSnapshotName = snapshot.ValidateSnapshotName
