package shared

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// What developers copy in and out of the shared directory (`devstack
// shared`): whole trees, through the container with tar streams. Paths are
// checked twice: as written (Path) and, inside the container, as the
// filesystem resolves them, so that a symlink cannot lead out either.

// ErrExists is a destination that is there already.
var ErrExists = errors.New("exists already")

// ErrNotFound is a path that is not in the shared directory.
var ErrNotFound = errors.New("no such file or folder in the shared directory")

// ErrBadName is a name the shared directory cannot hold: too long once
// put's temporary suffix is added, or with a control character in it.
var ErrBadName = errors.New("is not a name a file in the shared directory can have")

// ErrNotAFile is a source put cannot copy: a pipe, a socket or a device.
var ErrNotAFile = errors.New("is neither a file nor a folder")

// maxName is the longest name put takes: 255 bytes, the limit of the
// filesystems volumes live on, less put's temporary suffix.
const maxName = 255 - len(".devstack-put-") - 16

// checkName refuses a destination the filesystem or a reader of its names
// would choke on.
func checkName(rel string) error {
	for _, part := range strings.Split(rel, "/") {
		if len(part) > maxName || strings.ContainsFunc(part, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("%q %w (at most %d bytes, no control characters)", part, ErrBadName, maxName)
		}
	}
	return nil
}

// ErrFull is a shared volume with no room for what was put.
var ErrFull = errors.New("no space left on the shared volume")

// Entry is one item of the shared directory.
type Entry struct {
	// Path is relative to Dir.
	Path string `json:"path"`
	// Type is file, dir, symlink or other.
	Type     string    `json:"type"`
	Mode     string    `json:"mode"`
	UID      int       `json:"uid"`
	GID      int       `json:"gid"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	// Target is a symlink's.
	Target string `json:"target,omitempty"`
}

// probeScript prints, for each argument, where it resolves to (symlinks
// followed, missing parts kept) and what it is: dir, file, link or none.
const probeScript = `for p; do
	if [ -L "$p" ]; then t=link; elif [ -d "$p" ]; then t=dir; elif [ -e "$p" ]; then t=file; else t=none; fi
	printf '%s\t%s\n' "$t" "$(realpath -m -- "$p")"
done`

// place is a path in the shared directory as the container sees it.
type place struct {
	rel  string // relative to Dir; "." is Dir
	kind string // dir, file, link or none
}

func (p place) abs() string { return path.Join(Dir, p.rel) }

// inside checks that p names something in the shared directory, as written
// and as the filesystem resolves it; "" and "." are the directory itself.
func inside(ctx context.Context, c Container, p string) (place, error) {
	rel := "."
	if p != "" && p != "." && path.Clean(p) != Dir {
		var err error
		if rel, err = Path(p); err != nil {
			return place{}, err
		}
	}
	ps, err := probe(ctx, c, rel)
	if err != nil {
		return place{}, err
	}
	return ps[0], nil
}

// probe resolves paths relative to Dir in the container.
func probe(ctx context.Context, c Container, rels ...string) ([]place, error) {
	argv := []string{"sh", "-c", probeScript, "probe"}
	for _, r := range rels {
		argv = append(argv, path.Join(Dir, r))
	}
	out, err := c.Exec(ctx, argv...)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(rels) {
		return nil, fmt.Errorf("realpath in the container: %q", out)
	}
	var ps []place
	for i, l := range lines {
		kind, resolved, _ := strings.Cut(l, "\t")
		if resolved != Dir && !strings.HasPrefix(resolved, Dir+"/") {
			return nil, fmt.Errorf("%q leads to %s through a symlink: %w", rels[i], resolved, ErrOutside)
		}
		ps = append(ps, place{rel: rels[i], kind: kind})
	}
	return ps, nil
}

const listFormat = `%y\t%#m\t%U\t%G\t%s\t%T@\t%l\t%p\0`

// listScript lists a folder's entries, or a file itself.
const listScript = `if [ -d "$1" ] && [ ! -L "$1" ]; then exec find "$1" -mindepth 1 -maxdepth 1 -printf "$2"; fi
exec find "$1" -maxdepth 0 -printf "$2"`

// List returns the entries of a folder of the shared directory, or the
// file p names, sorted by path.
func List(ctx context.Context, c Container, p string) ([]Entry, error) {
	pl, err := inside(ctx, c, p)
	if err != nil {
		return nil, err
	}
	if pl.kind == "none" {
		return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	out, err := c.Exec(ctx, "sh", "-c", listScript, "list", pl.abs(), listFormat)
	if err != nil {
		return nil, err
	}
	entries := []Entry{}
	for _, rec := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		if rec == "" {
			continue
		}
		f := strings.SplitN(rec, "\t", 8)
		if len(f) != 8 {
			return nil, fmt.Errorf("find in the container: %q", rec)
		}
		e := Entry{Path: strings.TrimPrefix(strings.TrimPrefix(f[7], Dir), "/"), Type: entryType(f[0]), Mode: f[1], Target: f[6]}
		e.UID, _ = strconv.Atoi(f[2])
		e.GID, _ = strconv.Atoi(f[3])
		e.Size, _ = strconv.ParseInt(f[4], 10, 64)
		if secs, err := strconv.ParseFloat(f[5], 64); err == nil {
			e.Modified = time.Unix(0, int64(secs*1e9)).UTC().Truncate(time.Second)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func entryType(y string) string {
	switch y {
	case "f":
		return "file"
	case "d":
		return "dir"
	case "l":
		return "symlink"
	}
	return "other"
}

// mkdirsScript makes each missing folder, parents first, with the owner
// (its first argument) and mode 0770.
const mkdirsScript = `owner=$1; shift
for d; do
	[ -d "$d" ] && continue
	mkdir "$d" && chown "$owner" "$d" && chmod 0770 "$d"
done`

// Put copies a local file or tree into the shared directory, owned by owner
// with its own modes: to remote, or into remote when that is a folder
// (remote "" is the directory itself). It returns where it went, relative
// to Dir. It arrives under a temporary name and is renamed into place, so a
// failure (a full volume) never leaves part of it under the final name. A
// folder never replaces one that exists.
func Put(ctx context.Context, c Container, local, remote string, owner Owner) (string, error) {
	fi, err := os.Lstat(local)
	if err != nil {
		return "", fmt.Errorf("%s: %w", local, ErrNotFound)
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		return "", fmt.Errorf("%s %w: put copies files and folders", local, ErrNotAFile)
	}
	if remote != "" {
		if err := checkName(remote); err != nil {
			return "", err
		}
	}
	dest, err := inside(ctx, c, remote)
	if err != nil {
		return "", err
	}
	if dest.kind == "dir" {
		if dest, err = inside(ctx, c, path.Join(dest.rel, filepath.Base(local))); err != nil {
			return "", err
		}
	}
	if err := checkName(dest.rel); err != nil {
		return "", err
	}
	if dest.rel == "." || (dest.kind != "none" && (fi.IsDir() || dest.kind == "dir")) {
		return "", fmt.Errorf("%s: %w", dest.rel, ErrExists)
	}
	if err := checkTree(local); err != nil {
		return "", err
	}
	parents := withParents([]string{path.Dir(dest.rel)})
	argv := []string{"sh", "-c", mkdirsScript, "mkdirs", fmt.Sprintf("%d:%d", owner.UID, owner.GID)}
	for _, d := range parents[1:] {
		argv = append(argv, path.Join(Dir, d))
	}
	if _, err := c.Exec(ctx, argv...); err != nil {
		return "", err
	}
	tmp := path.Base(dest.rel) + ".devstack-put-" + randomHex()
	tmpAbs := path.Join(path.Dir(dest.abs()), tmp)
	r, w := io.Pipe()
	go func() { w.CloseWithError(packTree(w, local, tmp, owner)) }()
	err = c.CopyTo(ctx, path.Dir(dest.abs()), r)
	r.CloseWithError(io.ErrClosedPipe)
	if err == nil {
		_, err = c.Exec(ctx, "mv", "-f", "-T", "--", tmpAbs, dest.abs())
	}
	if err != nil {
		_, _ = c.Exec(context.WithoutCancel(ctx), "rm", "-rf", "--", tmpAbs)
		if strings.Contains(err.Error(), "no space left on device") {
			return "", fmt.Errorf("%s: %w", dest.rel, ErrFull)
		}
		return "", err
	}
	return dest.rel, nil
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// packTree writes local (a file, a symlink or a folder with everything
// in it) as a tar stream whose top entry is named top, owned by owner,
// with the local modes and times. A symlink must stay inside the tree: in
// the container it would lead elsewhere.
// linkInside returns the target of a symlink at p (rel inside what is put),
// refusing one that leads out of it; "" for anything else.
func linkInside(p, rel string, fi fs.FileInfo) (string, error) {
	if fi.Mode()&fs.ModeSymlink == 0 {
		return "", nil
	}
	link, err := os.Readlink(p)
	if err != nil {
		return "", err
	}
	if target := filepath.Join(filepath.Dir(rel), link); rel == "." || filepath.IsAbs(link) || target == ".." || strings.HasPrefix(target, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s points to %s, outside what is put: %w", p, link, ErrOutside)
	}
	return link, nil
}

// walkTree calls f for each entry of a local tree, with its path relative
// to the tree and a symlink's target, refusing a link that leads out.
func walkTree(local string, f func(p, rel string, fi fs.FileInfo, link string) error) error {
	root := filepath.Clean(local)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		link, err := linkInside(p, rel, fi)
		if err != nil {
			return err
		}
		return f(p, rel, fi, link)
	})
}

// checkTree refuses a tree packTree would refuse, before anything is copied:
// a copy refused half-way leaves what the engine had extracted.
func checkTree(local string) error {
	return walkTree(local, func(string, string, fs.FileInfo, string) error { return nil })
}

func packTree(w io.Writer, local, top string, owner Owner) error {
	tw := tar.NewWriter(w)
	err := walkTree(local, func(p, rel string, fi fs.FileInfo, link string) error {
		if fi.Mode()&fs.ModeSymlink == 0 && !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil // sockets, devices and pipes have no place there
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = path.Join(top, filepath.ToSlash(rel))
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = owner.UID, owner.GID, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// Get copies a file or folder of the shared directory to local, or into
// local when that is a folder (local "" is the current folder). It returns
// where it went. It is written under a temporary name and renamed into
// place; nothing that exists is replaced.
func Get(ctx context.Context, c Container, remote, local string) (string, error) {
	src, err := inside(ctx, c, remote)
	if err != nil {
		return "", err
	}
	if src.kind == "none" {
		return "", fmt.Errorf("%s: %w", remote, ErrNotFound)
	}
	name := path.Base(src.abs())
	dest := local
	if dest == "" {
		dest = "."
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		dest = filepath.Join(dest, name)
	}
	if _, err := os.Lstat(dest); err == nil {
		return "", fmt.Errorf("%s: %w", dest, ErrExists)
	}
	rc, err := c.CopyFrom(ctx, src.abs())
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".devstack-get-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := extractTree(rc, tmp, name); err != nil {
		return "", err
	}
	return dest, os.Rename(filepath.Join(tmp, name), dest)
}

// extractTree extracts a tar stream whose entries sit under top into dir.
// Names and symlinks that would lead out of top are refused; folders get
// their modes once everything is in them.
func extractTree(r io.Reader, dir, top string) error {
	tr := tar.NewReader(r)
	type later struct {
		path string
		mode fs.FileMode
		time time.Time
	}
	var dirs []later
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := path.Clean(hdr.Name)
		if name != top && !strings.HasPrefix(name, top+"/") {
			return fmt.Errorf("%q in the copy: %w", hdr.Name, ErrOutside)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		mode := hdr.FileInfo().Mode().Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, later{p, mode, hdr.ModTime})
			continue
		case tar.TypeSymlink:
			target := path.Join(path.Dir(name), hdr.Linkname)
			if path.IsAbs(hdr.Linkname) || (target != top && !strings.HasPrefix(target, top+"/")) {
				return fmt.Errorf("%s points to %s, outside what is copied: %w", strings.TrimPrefix(name, top+"/"), hdr.Linkname, ErrOutside)
			}
			if err := os.Symlink(hdr.Linkname, p); err != nil {
				return err
			}
			continue
		case tar.TypeReg:
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
			_ = os.Chtimes(p, hdr.ModTime, hdr.ModTime)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return err
		}
		_ = os.Chtimes(dirs[i].path, dirs[i].time, dirs[i].time)
	}
	return nil
}
