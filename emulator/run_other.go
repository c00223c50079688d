//go:build !linux

package emulator

import "os/exec"

// orphanProof has no parent-death signal to use here: a child of a killed
// devstack runs on.
func orphanProof(*exec.Cmd) {}
