package emulator

import "github.com/wellcomecollection/devstack/emulator/internal/stack"

const LabelConfigHash = stack.LabelConfigHash
const LabelCreated = stack.LabelCreated
const LabelProject = stack.LabelProject
const LabelService = stack.LabelService
const SharedDir = stack.SharedDir
