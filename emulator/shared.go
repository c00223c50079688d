package emulator

import (
	"context"
	"fmt"
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

// layoutShared lays out the shared volume from the stack's helper container.
func (e *Engine) layoutShared(ctx context.Context, cfg Config, n Names) error {
	dirs, err := sharedLayout(cfg.Fixtures)
	if err != nil {
		return err
	}
	owner := fmt.Sprintf("%d:%d", cfg.Shared.UID, cfg.Shared.GID)
	_, err = e.execIn(ctx, n.Helper, append([]string{"sh", "-c", layoutScript, "layout", owner}, dirs...))
	return err
}
