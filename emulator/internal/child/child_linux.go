package child

import (
	"os/exec"
	"syscall"
)

// OrphanProof gives the child of `devstack run` SIGTERM when devstack dies,
// even by SIGKILL, which no handler sees: it would otherwise run on against
// a stack that is gone or going.
func OrphanProof(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
