package emulator

import "github.com/wellcomecollection/devstack/emulator/internal/snapshot"

type ExportOptions = snapshot.ExportOptions
type ImportOptions = snapshot.ImportOptions

const LabelSnapshot = snapshot.LabelSnapshot
const LabelSnapshotOf = snapshot.LabelSnapshotOf

type SaveReport = snapshot.SaveReport
type SnapshotInfo = snapshot.SnapshotInfo
type SnapshotOptions = snapshot.SnapshotOptions

var ValidateSnapshotName = snapshot.ValidateSnapshotName
