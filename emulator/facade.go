package emulator

// The façade's names for the types and constants of the packages beneath it,
// so that users of devstack import emulator alone.

import (
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

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
type StatusReport = converge.StatusReport
type UpOptions = converge.UpOptions

const (
	ServiceExited  = converge.ServiceExited
	StateAbsent    = converge.StateAbsent
	StatePartial   = converge.StatePartial
	StateRestoring = converge.StateRestoring
	StateRunning   = converge.StateRunning
)

// Seeded templates.
type TemplateInfo = server.TemplateInfo

const (
	LabelStart    = server.LabelStart
	LabelTemplate = server.LabelTemplate
)
