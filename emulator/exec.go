package emulator

import (
	"bytes"
	"context"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// execIn runs argv in a running container and returns its standard output.
// A non-zero exit is an error carrying the command's standard error.
func (e *Engine) execIn(ctx context.Context, containerName string, argv []string, env ...string) (string, error) {
	ex, err := e.Client.ExecCreate(ctx, containerName, client.ExecCreateOptions{Cmd: argv, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", envError(err, "cannot run %s in %s: %v", argv[0], containerName, shortErr(err))
	}
	att, err := e.Client.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", envError(err, "cannot run %s in %s: %v", argv[0], containerName, shortErr(err))
	}
	defer att.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		return "", envError(err, "reading from %s in %s: %v", argv[0], containerName, err)
	}
	res, err := e.Client.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return "", envError(err, "cannot read the exit code of %s in %s: %v", argv[0], containerName, shortErr(err))
	}
	if res.ExitCode != 0 {
		return stdout.String(), envError(nil, "%s in %s exited with code %d: %s", argv[0], containerName, res.ExitCode, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
