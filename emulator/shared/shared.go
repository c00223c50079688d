// Package shared lays out and reaches the shared directory: the volume that
// every Archivematica container mounts at Dir, as production mounts its EBS
// volume. It works through a container that mounts the volume, with tar
// streams for content and plain argv for the rest, so it also works where the
// volume is not on this machine's disk.
package shared

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// Dir is where the shared volume is mounted in every container of a stack.
const Dir = "/var/archivematica/sharedDirectory"

// Container is a running container that mounts the shared volume at Dir.
type Container interface {
	// Exec runs argv and returns its standard output; a non-zero exit is an
	// error carrying its standard error.
	Exec(ctx context.Context, argv ...string) (string, error)
	// CopyTo extracts a tar stream into dir, keeping the stream's owners.
	CopyTo(ctx context.Context, dir string, tar io.Reader) error
	// CopyFrom returns a path as a tar stream; a missing path is an error
	// that is fs.ErrNotExist.
	CopyFrom(ctx context.Context, path string) (io.ReadCloser, error)
}

// Owner is who owns what devstack writes to the shared directory.
type Owner struct{ UID, GID int }

// Modes of what devstack writes: Archivematica's services share a group.
const (
	DirMode  = 0o770
	FileMode = 0o660
)

// ErrOutside is a path that leaves the shared directory.
var ErrOutside = errors.New("not a path inside the shared directory")

// Path checks that p, relative to Dir (or absolute under it), names
// something inside the shared directory, and returns it relative to Dir.
func Path(p string) (string, error) {
	c := path.Clean(strings.TrimPrefix(p, Dir+"/"))
	if p == "" || path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q: %w", p, ErrOutside)
	}
	return c, nil
}

// SyncResult is what a sync did.
type SyncResult struct {
	// Removed counts the entries a reset deleted.
	Removed int
	// Written are the files written, relative to Dir.
	Written []string
}

// TmpSuffix marks a file being written: it is renamed into place once
// complete, so a reader never sees half a file.
const TmpSuffix = ".devstack-tmp"

// renameScript renames each argument, a temporary file, into place. It is
// constant: paths reach it as arguments, never as shell text.
const renameScript = `for t; do mv -f -- "$t" "${t%` + TmpSuffix + `}"; done`

// Tree is what the shared directory must hold: folders and files, relative
// to Dir, and who owns them.
type Tree struct {
	Dirs  []string
	Files []seed.File
	Owner Owner
}

// Sync brings the shared directory to t: every folder exists with its owner
// and mode, and every file holds its content. A file that already does is
// not written, and nothing else is touched.
func Sync(ctx context.Context, c Container, t Tree) (SyncResult, error) {
	owner, files := t.Owner, t.Files
	var r SyncResult
	existing, err := readFiles(ctx, c, files)
	if err != nil {
		return r, err
	}
	var changed []seed.File
	for _, f := range files {
		if old, ok := existing[f.Path]; !ok || !bytes.Equal(old, f.Data) {
			changed = append(changed, f)
		}
	}
	dirs := slices.Clone(t.Dirs)
	for _, f := range changed {
		dirs = append(dirs, path.Dir(f.Path))
	}
	tw := archive{root: path.Base(Dir)}
	tw.dirs(owner, dirs...)
	for _, f := range changed {
		tw.file(f.Path+TmpSuffix, f.Data, owner)
	}
	if err := c.CopyTo(ctx, path.Dir(Dir), tw.stream()); err != nil {
		return r, err
	}
	if len(changed) == 0 {
		return r, nil
	}
	argv := []string{"sh", "-c", renameScript, "rename"}
	for _, f := range changed {
		argv = append(argv, Dir+"/"+f.Path+TmpSuffix)
		r.Written = append(r.Written, f.Path)
	}
	_, err = c.Exec(ctx, argv...)
	return r, err
}

// ExitError is a command that ran in the container and failed.
type ExitError struct {
	Command string
	Code    int
	Stderr  string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited with code %d: %s", e.Command, e.Code, e.Stderr)
}

// Digest identifies a tree's content: its folders and files.
func (t Tree) Digest() string {
	h := sha256.New()
	for _, d := range t.Dirs {
		fmt.Fprintf(h, "d %s\n", d)
	}
	for _, f := range t.Files {
		fmt.Fprintf(h, "f %s %d\n", f.Path, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// pristineDir is where a container keeps a fresh copy of a tree, outside the
// shared volume, so that a reset is one command: empty the directory, copy
// the copy. It lives as long as the container.
func pristineDir(t Tree) string {
	return fmt.Sprintf("/tmp/devstack-pristine-%s-%d-%d", t.Digest(), t.Owner.UID, t.Owner.GID)
}

// resetScript empties the shared directory and copies the pristine tree in,
// owners and modes included; it exits 3 when there is no pristine tree yet.
// It is constant: paths reach it as arguments, never as shell text.
const resetScript = `[ -d "$2" ] || exit 3
set -e
echo "$(find "$1" -mindepth 1 -delete -print | wc -l)"
cp -a "$2"/. "$1"/`

// Reset empties the shared directory and lays t out afresh, in one command
// once the container holds a pristine copy of t (made here when missing).
func Reset(ctx context.Context, c Container, t Tree) (SyncResult, error) {
	r := SyncResult{}
	pristine := pristineDir(t)
	argv := []string{"sh", "-c", resetScript, "reset", Dir, pristine}
	out, err := c.Exec(ctx, argv...)
	var exit *ExitError
	if errors.As(err, &exit) && exit.Code == 3 {
		if err = Prepare(ctx, c, t); err == nil {
			out, err = c.Exec(ctx, argv...)
		}
	}
	if err != nil {
		return r, err
	}
	r.Removed, _ = strconv.Atoi(strings.TrimSpace(out))
	for _, f := range t.Files {
		r.Written = append(r.Written, f.Path)
	}
	return r, nil
}

// Prepare puts a pristine copy of t into the container, for Reset.
func Prepare(ctx context.Context, c Container, t Tree) error {
	tw := archive{root: path.Base(pristineDir(t))}
	tw.dirs(t.Owner, t.Dirs...)
	for _, f := range t.Files {
		tw.dirs(t.Owner, path.Dir(f.Path))
		tw.file(f.Path, f.Data, t.Owner)
	}
	return c.CopyTo(ctx, path.Dir(pristineDir(t)), tw.stream())
}

// readFiles returns the current content of the fixtures' files that exist,
// reading each folder they are in once.
func readFiles(ctx context.Context, c Container, files []seed.File) (map[string][]byte, error) {
	got := map[string][]byte{}
	var dirs []string
	for _, f := range files {
		if d := path.Dir(f.Path); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		entries, err := readTree(ctx, c, d)
		if err != nil {
			return nil, err
		}
		for p, data := range entries {
			got[p] = data
		}
	}
	return got, nil
}

// readTree returns the regular files under p (relative to Dir), by their
// paths relative to Dir; a missing p is empty.
func readTree(ctx context.Context, c Container, p string) (map[string][]byte, error) {
	rc, err := c.CopyFrom(ctx, Dir+"/"+p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The stream's names start with p's last element.
	base := path.Dir(p)
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[path.Join(base, hdr.Name)] = data
	}
}

// ReadFile returns a file of the shared directory; p is relative to Dir.
func ReadFile(ctx context.Context, c Container, p string) ([]byte, error) {
	rel, err := Path(p)
	if err != nil {
		return nil, err
	}
	rc, err := c.CopyFrom(ctx, Dir+"/"+rel)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return nil, err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return io.ReadAll(tr)
}

// WriteFile writes a file into the shared directory with owner, making its
// folders as needed; p is relative to Dir.
func WriteFile(ctx context.Context, c Container, p string, data []byte, owner Owner) error {
	rel, err := Path(p)
	if err != nil {
		return err
	}
	tw := archive{root: path.Base(Dir)}
	tw.dirs(owner, path.Dir(rel))
	tw.file(rel, data, owner)
	return c.CopyTo(ctx, path.Dir(Dir), tw.stream())
}

// archive builds a tar stream whose entries sit under root, a folder that
// is itself an entry: extracted into root's parent, root gets the owner and
// mode too.
type archive struct {
	root string
	buf  bytes.Buffer
	tw   *tar.Writer
	seen map[string]bool
}

func (a *archive) writer() *tar.Writer {
	if a.tw == nil {
		a.tw = tar.NewWriter(&a.buf)
		a.seen = map[string]bool{}
	}
	return a.tw
}

// Folders are the folders t lays out, relative to Dir: "." (Dir itself),
// then each folder and the folders of its files with their parents, parents
// first.
func Folders(t Tree) []string {
	dirs := slices.Clone(t.Dirs)
	for _, f := range t.Files {
		dirs = append(dirs, path.Dir(f.Path))
	}
	return withParents(dirs)
}

// withParents returns dirs with their parents, "." first and parents before
// children, each once.
func withParents(dirs []string) []string {
	var all []string
	for _, d := range dirs {
		for p := d; p != "." && p != "/"; p = path.Dir(p) {
			all = append(all, p)
		}
	}
	// A parent's path is a prefix of its children's, so it sorts first.
	slices.Sort(all)
	return append([]string{"."}, slices.Compact(all)...)
}

// dirs adds each folder (relative to Dir) with its parents, Dir first and
// parents before children.
func (a *archive) dirs(o Owner, dirs ...string) {
	tw := a.writer()
	for _, d := range withParents(dirs) {
		if a.seen[d] {
			continue
		}
		a.seen[d] = true
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: a.name(d) + "/", Mode: DirMode, Uid: o.UID, Gid: o.GID, ModTime: time.Now()})
	}
}

func (a *archive) file(p string, data []byte, o Owner) {
	tw := a.writer()
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: a.name(p), Mode: FileMode, Size: int64(len(data)), Uid: o.UID, Gid: o.GID, ModTime: time.Now()})
	_, _ = tw.Write(data)
}

func (a *archive) name(p string) string { return path.Join(a.root, p) }

func (a *archive) stream() io.Reader {
	_ = a.writer().Close()
	return &a.buf
}
