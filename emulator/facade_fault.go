package emulator

import "github.com/wellcomecollection/devstack/emulator/internal/fault"

type Error = fault.Error

var ExitCode = fault.ExitCode

const ExitEnv = fault.ExitEnv
const ExitOK = fault.ExitOK
const ExitUsage = fault.ExitUsage
