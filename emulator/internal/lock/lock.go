// Package lock is the project lock: one command at a time changes a
// project's stack, across processes.
package lock

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
)

// Project makes this process the one writer of a project. It is an flock
// on a file in the temp directory: the kernel releases it when the process
// dies, so a crashed devstack cannot hold it.
func Project(ctx context.Context, project string, progress event.Sink) (func(), error) {
	told := false
	for {
		unlock, err := TryProject(project)
		if unlock != nil || err != nil {
			return unlock, err
		}
		if !told {
			progress.Note("waiting for another devstack command on project %s to finish", project)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TryProject is Project for a caller that would rather not wait: it
// returns a nil unlock while another process (or another goroutine of this
// one) holds the lock.
func TryProject(project string) (func(), error) {
	// One directory per user: another user's lock files must not get in the way.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("devstack-locks-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fault.Env(err, "cannot make lock directory %s: %v", dir, err)
	}
	path := filepath.Join(dir, project+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fault.Env(err, "cannot open lock file %s: %v", path, err)
	}
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err {
	case nil:
		return func() { f.Close() }, nil
	case syscall.EWOULDBLOCK:
		f.Close()
		return nil, nil
	default:
		f.Close()
		return nil, fault.Env(err, "cannot lock %s: %v", path, err)
	}
}
