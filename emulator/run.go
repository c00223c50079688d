package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/internal/child"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"golang.org/x/sys/unix"
)

// ExitRunFailed is `devstack run`'s code when devstack itself failed, before
// or after the command, as `docker run` does.
const ExitRunFailed = 125

// RunOptions: Keep leaves the stack for inspection instead of removing it.
// Config gives images, passwords and fixtures; project and ports are Run's.
type RunOptions struct {
	Keep           bool
	Config         config.Config
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Progress       event.Sink
}

// forwarded are the signals that ask devstack to stop: the command gets them,
// and devstack cleans up once it has ended.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Run brings up a throw-away stack under a fresh project with free ports,
// runs argv (never through a shell) with the stack's connection settings in
// its environment, and removes the stack and its volumes whatever happened,
// unless opts.Keep. It returns the command's exit code, 128+n when the
// command died of signal n, 128+n as well when devstack got signal n before
// the command started (an interrupted run reads the same whenever it came),
// and ExitRunFailed when devstack itself failed. Its own errors go to
// opts.Progress as one line each.
func Run(ctx context.Context, e *Engine, argv []string, opts RunOptions) int {
	progress := opts.Progress
	if len(argv) == 0 {
		progress.Note("devstack: no command to run: pass one after --")
		return ExitRunFailed
	}
	// A command that cannot be found or run is refused before any stack is
	// made. LookPath checks a path with a slash as well as a bare name.
	path, err := exec.LookPath(argv[0])
	if err == nil {
		// As root, LookPath takes a file without any execute bit.
		if fi, serr := os.Stat(path); serr == nil && fi.Mode()&0o111 == 0 {
			err = fmt.Errorf("exec: %q: %w", argv[0], os.ErrPermission)
		}
	}
	if err != nil {
		progress.Note("devstack: cannot run %s: %v", argv[0], errors.Unwrap(err))
		return ExitRunFailed
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	child.OrphanProof(cmd)
	// Caught from the start, so that no signal can end devstack before it
	// has removed the stack.
	sigs := make(chan os.Signal, len(forwarded))
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)

	cfg := opts.Config
	cfg.Project = config.EphemeralProject("run")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	progress.Note("devstack: starting throw-away stack %s", cfg.Project)

	code := ExitRunFailed
	vars, sig, err := startStack(ctx, e, cfg, stack.Lifetime{Ephemeral: true, Keep: opts.Keep}, sigs, progress)
	switch {
	case sig != nil:
		progress.Note("devstack: %v while starting stack %s", sig, cfg.Project)
		code = 128 + int(sig.(syscall.Signal))
	case err != nil:
		progress.Note("devstack: %v", err)
	default:
		cmd.Env = os.Environ()
		for _, v := range vars {
			cmd.Env = append(cmd.Env, v.Name+"="+v.Value)
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = opts.Stdin, opts.Stdout, opts.Stderr
		code = runCommand(cmd, sigs, progress)
	}

	remove := fmt.Sprintf("devstack down -p %s --volumes --yes", cfg.Project)
	if opts.Keep {
		progress.Note("devstack: kept stack %s; connect with `devstack env -p %s`, remove with `%s`", cfg.Project, cfg.Project, remove)
		return code
	}
	// The caller's context may be cancelled by now: cleanup must still run.
	if _, err := Down(context.WithoutCancel(ctx), e, cfg, DownOptions{Volumes: true, Progress: progress}); err != nil {
		progress.Note("devstack: cannot remove stack %s: %v; remove it with `%s`", cfg.Project, err, remove)
		return ExitRunFailed
	}
	return code
}

// startStack runs Up and reads the stack's connection settings. A signal
// stops it early and is returned, so the caller can clean up and report it.
func startStack(ctx context.Context, e *Engine, cfg config.Config, life stack.Lifetime, sigs <-chan os.Signal, progress event.Sink) ([]EnvVar, os.Signal, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var vars []EnvVar
	done := make(chan error, 1)
	go func() {
		_, err := Up(ctx, e, cfg, UpOptions{Lifetime: life, Progress: progress})
		if err == nil {
			vars, err = Env(ctx, e, cfg, EnvOptions{})
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			// The CLI's context is cancelled by the same SIGINT or SIGTERM,
			// which is then already waiting here: report the signal.
			select {
			case sig := <-sigs:
				return nil, sig, err
			default:
			}
		}
		return vars, nil, err
	case sig := <-sigs:
		cancel()
		return nil, sig, <-done
	}
}

// runCommand starts cmd, forwards devstack's signals to it until it ends,
// and returns its exit code.
func runCommand(cmd *exec.Cmd, sigs <-chan os.Signal, progress event.Sink) int {
	if err := cmd.Start(); err != nil {
		progress.Note("devstack: cannot start the command: %v", err)
		return ExitRunFailed
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	for {
		select {
		case sig := <-sigs:
			if !keyboardReachedCommand(sig) {
				_ = cmd.Process.Signal(sig)
			}
		case <-done:
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}

// keyboardReachedCommand reports whether sig came from the keyboard (Ctrl-C,
// Ctrl-\) of a terminal whose foreground is devstack's process group, which
// the command shares: the terminal signalled both, and forwarding would
// deliver it twice. A SIGINT sent to devstack alone while it is in a
// terminal's foreground is then not forwarded; SIGTERM always is.
func keyboardReachedCommand(sig os.Signal) bool {
	if sig != syscall.SIGINT && sig != syscall.SIGQUIT {
		return false
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer tty.Close()
	fg, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}
