//go:build !linux

package child

import "os/exec"

// OrphanProof has no parent-death signal to use here: a child of a killed
// devstack runs on.
func OrphanProof(*exec.Cmd) {}
