package emulator

import (
	"context"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// layoutScript makes the folders given as arguments under the shared
// directory and sets their owner and mode. The script is constant; the owner
// and the folders arrive as argv, never spliced into shell text.
const layoutScript = `set -e
owner=$1; shift
cd "` + SharedDir + `"
mkdir -p -- "$@"
chown -- "$owner" . "$@"
chmod -- 0770 . "$@"`

// layoutShared lays out the shared volume in a short-lived helper container
// running on the MySQL image, so nothing extra is pulled.
func (e *Engine) layoutShared(ctx context.Context, cfg Config, n Names, meta Meta) error {
	dirs, err := sharedLayout(cfg.Fixtures)
	if err != nil {
		return err
	}
	owner := fmt.Sprintf("%d:%d", cfg.Shared.UID, cfg.Shared.GID)
	args := append([]string{"sh", "-c", layoutScript, "layout", owner}, dirs...)
	return e.runHelper(ctx, cfg.MySQL.Image, n, meta, args)
}

// runHelper runs argv to completion in a throw-away container that mounts the
// shared volume. A non-zero exit is an error that carries the end of its log.
func (e *Engine) runHelper(ctx context.Context, image string, n Names, meta Meta, argv []string) error {
	req := testcontainers.GenericContainerRequest{
		Started: true,
		ContainerRequest: testcontainers.ContainerRequest{
			Image:      image,
			Entrypoint: argv[:1],
			Cmd:        argv[1:],
			Labels:     baseLabels(n.Project, ServiceHelper, meta),
			Mounts:     testcontainers.Mounts(testcontainers.VolumeMount(n.Shared, testcontainers.ContainerMountTarget(SharedDir))),
			WaitingFor: wait.ForExit().WithPollInterval(50 * time.Millisecond).WithExitTimeout(2 * time.Minute),
		},
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	// The helper is removed whatever happened; it holds nothing.
	defer func() { _ = testcontainers.TerminateContainer(ctr) }()
	if err != nil {
		return envError(err, "helper container on %s failed: %v", image, shortErr(err))
	}
	state, err := ctr.State(ctx)
	if err != nil {
		return envError(err, "cannot read helper container state: %v", shortErr(err))
	}
	if state.ExitCode != 0 {
		return envError(nil, "helper %q on %s exited with code %d%s", argv[0], image, state.ExitCode, e.logTail(ctx, ctr.GetContainerID(), 10))
	}
	return nil
}
