package emulator

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// syncScript brings the shared directory to the fixtures: it makes the
// layout's folders (argv) with their owner and mode, and writes each file
// (passed in the environment) only when its content differs, through a
// temporary name and a rename. In reset mode it empties the directory first.
// The script is constant: paths and contents never become shell text. It
// forks as few processes as it can: each costs a few milliseconds, and a
// reset waits for this script.
const syncScript = `set -e
mode=$1; owner=$2; shift 2
cd "` + SharedDir + `"
if [ "$mode" = reset ]; then
	echo "removed $(find . -mindepth 1 -delete -print | wc -l)"
fi
mkdir -p -- "$@"
chown -- "$owner" . "$@"
chmod -- 0770 . "$@"
set --
i=0
while [ "$i" -lt "$DEVSTACK_FILES" ]; do
	eval "f=\$DEVSTACK_FILE_${i}_PATH; data=\$DEVSTACK_FILE_${i}_DATA"
	i=$((i+1))
	if [ "$mode" = seed ] && [ -f "$f" ] && [ "$(cat -- "$f"; echo .)" = "$data." ]; then
		continue
	fi
	printf '%s' "$data" > "$f.devstack-tmp"
	set -- "$@" "$f"
done
[ $# -gt 0 ] || exit 0
for f; do set -- "$@" "$f.devstack-tmp"; shift; done
chown -- "$owner" "$@"
chmod -- 0660 "$@"
for t; do mv -f -- "$t" "${t%.devstack-tmp}"; echo "wrote ${t%.devstack-tmp}"; done`

// sharedResult is what a sync did.
type sharedResult struct {
	Removed int
	Written []string
}

// syncShared lays out the shared volume and writes the fixtures' files, by
// exec in the stack's helper container; reset empties the volume first.
func (e *Engine) syncShared(ctx context.Context, cfg Config, n Names, fx *seed.Fixtures, reset bool) (sharedResult, error) {
	var r sharedResult
	mode := "seed"
	if reset {
		mode = "reset"
	}
	env := []string{"DEVSTACK_FILES=" + strconv.Itoa(len(fx.Files))}
	for i, f := range fx.Files {
		env = append(env, fmt.Sprintf("DEVSTACK_FILE_%d_PATH=%s", i, f.Path), fmt.Sprintf("DEVSTACK_FILE_%d_DATA=%s", i, f.Data))
	}
	out, err := e.execIn(ctx, n.Helper, append([]string{"sh", "-c", syncScript, "sync", mode, cfg.Shared.owner()}, fx.Layout...), env...)
	if err != nil {
		return r, err
	}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "removed "); ok {
			r.Removed, _ = strconv.Atoi(strings.TrimSpace(rest))
		} else if rest, ok := strings.CutPrefix(line, "wrote "); ok {
			r.Written = append(r.Written, rest)
		}
	}
	return r, nil
}

// sharedPath checks that p names something inside the shared directory.
func sharedPath(p string) (string, error) {
	c := path.Clean(strings.TrimPrefix(p, SharedDir+"/"))
	if p == "" || path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", usageError("%q is not a path inside the shared directory", p)
	}
	return SharedDir + "/" + c, nil
}

// ReadFile returns a file from the shared directory; p is relative to it.
func (h *Handle) ReadFile(ctx context.Context, p string) ([]byte, error) {
	full, err := sharedPath(p)
	if err != nil {
		return nil, err
	}
	out, err := h.e.execIn(ctx, h.a.names.Helper, []string{"cat", "--", full})
	return []byte(out), err
}

// WriteFile writes a file into the shared directory with the configured
// owner, making its folders as needed; p is relative to the directory.
func (h *Handle) WriteFile(ctx context.Context, p string, data []byte) error {
	full, err := sharedPath(p)
	if err != nil {
		return err
	}
	dir := path.Dir(full)
	owner := h.cfg.Shared.owner()
	if _, err := h.e.execIn(ctx, h.a.names.Helper, []string{"sh", "-c", `mkdir -p -- "$1" && chown -- "$2" "$1"`, "mkdir", dir, owner}); err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: path.Base(full), Mode: 0o660, Size: int64(len(data)), Uid: h.cfg.Shared.UID, Gid: h.cfg.Shared.GID, ModTime: time.Now()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if _, err := h.e.Client.CopyToContainer(ctx, h.a.names.Helper, client.CopyToContainerOptions{DestinationPath: dir, Content: &buf, CopyUIDGID: true}); err != nil {
		return envError(err, "cannot write %s: %v", full, shortErr(err))
	}
	return nil
}
