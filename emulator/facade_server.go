package emulator

import "github.com/wellcomecollection/devstack/emulator/internal/server"

const LabelStart = server.LabelStart
const LabelTemplate = server.LabelTemplate

type TemplateInfo = server.TemplateInfo
