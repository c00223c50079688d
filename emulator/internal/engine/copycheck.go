package engine

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/fault"
)

// Engines differ in what a copy into a container keeps, and none says so:
// Podman gives an archive's files the container's user when asked to copy
// owners, reports owners it cannot name as 0:0 when copying out, and writes
// into a never-started container's own filesystem rather than the volumes
// mounted there. So every copy into a container is checked against the
// archive it sent (each entry there, of its type and size, with its owner;
// owners are set right where the engine dropped them), and every copy out
// takes its owners from the container rather than from the engine's archive.

// Entry is one file of an archive, or as the container has it.
type Entry struct {
	Kind  byte // 'd', 'f', 'l', or 0 for anything else
	size  int64
	owner string // uid:gid
}

// statFormat is what StatScript prints of each path: owner, size, type, name.
const statFormat = "%u:%g %s %F|%n"

// StatScript stats the NUL-separated paths on its stdin, relative to $1;
// what is missing is left out. It fails only when it cannot look.
const StatScript = `cd "$1" || exit 2
command -v xargs >/dev/null && command -v stat >/dev/null || exit 127
xargs -0 -r stat -c "$2" -- 2>/dev/null
exit 0`

// kindOf maps stat's %F to an entry kind.
func kindOf(f string) byte {
	switch {
	case f == "directory":
		return 'd'
	case strings.HasPrefix(f, "regular"):
		return 'f'
	case f == "symbolic link":
		return 'l'
	}
	return 0
}

// tarKind maps a tar header's type to an entry kind.
func tarKind(h *tar.Header) byte {
	switch h.Typeflag {
	case tar.TypeDir:
		return 'd'
	case tar.TypeReg:
		return 'f'
	case tar.TypeSymlink:
		return 'l'
	}
	return 0
}

// memberPath is a tar member's name as a relative path.
func memberPath(name string) string {
	return strings.TrimPrefix(path.Clean("./"+name), "/")
}

// parseStat reads StatScript's output. A name with a newline in it cannot be
// told apart and is left out.
func parseStat(out string) map[string]Entry {
	got := map[string]Entry{}
	for line := range strings.Lines(out) {
		head, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "|")
		owner, rest, ok2 := strings.Cut(head, " ")
		sizeText, kind, ok3 := strings.Cut(rest, " ")
		size, err := strconv.ParseInt(sizeText, 10, 64)
		if !ok || !ok2 || !ok3 || err != nil {
			continue
		}
		got[memberPath(name)] = Entry{Kind: kindOf(kind), size: size, owner: owner}
	}
	return got
}

// tarIndex reads the headers of the archive that passes through it.
type tarIndex struct {
	w       *io.PipeWriter
	done    chan struct{}
	entries map[string]Entry
}

// indexTar returns r, passing through, and an index that holds the entries
// of what was read once finish is called.
func indexTar(r io.Reader) (io.Reader, *tarIndex) {
	pr, pw := io.Pipe()
	ix := &tarIndex{w: pw, done: make(chan struct{}), entries: map[string]Entry{}}
	go func() {
		defer close(ix.done)
		tr := tar.NewReader(pr)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			ix.entries[memberPath(h.Name)] = Entry{Kind: tarKind(h), size: h.Size, owner: fmt.Sprintf("%d:%d", h.Uid, h.Gid)}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return io.TeeReader(r, pw), ix
}

// finish waits for the index to be complete.
func (ix *tarIndex) finish() map[string]Entry {
	ix.w.Close()
	<-ix.done
	return ix.entries
}

// compareCopy says what the container lacks of an archive (missing, of
// another type, of another size) and which owners to set right, by owner.
func compareCopy(want, got map[string]Entry) (missing []string, chown map[string][]string) {
	chown = map[string][]string{}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		w, g := want[p], got[p]
		_, found := got[p]
		switch {
		case p == "." || strings.Contains(p, "\n"):
		case !found, w.Kind != 0 && g.Kind != w.Kind, w.Kind == 'f' && g.size != w.size:
			missing = append(missing, p)
		case g.owner != w.owner:
			chown[w.owner] = append(chown[w.owner], p)
		}
	}
	return missing, chown
}

// verifyCopy checks a copy into dir of c against the archive's entries and
// sets right the owners the engine did not keep.
func (c InContainer) verifyCopy(ctx context.Context, dir string, want map[string]Entry) error {
	if len(want) == 0 {
		return nil
	}
	var names strings.Builder
	for p := range want {
		names.WriteString(p)
		names.WriteByte(0)
	}
	out, err := c.execIn(ctx, strings.NewReader(names.String()), "", "sh", "-c", StatScript, "verify", dir, statFormat)
	if err != nil {
		return fmt.Errorf("cannot check the copy into %s:%s: %w", c.Name, dir, err)
	}
	missing, chown := compareCopy(want, parseStat(out))
	if len(missing) > 0 {
		return fault.Env(nil, "the engine did not write what devstack copied into %s:%s (%d of %d entries missing or different, e.g. %s); see `devstack doctor`",
			c.Name, dir, len(missing), len(want), missing[0])
	}
	for _, owner := range slices.Sorted(maps.Keys(chown)) {
		for chunk := range slices.Chunk(chown[owner], 500) {
			argv := append([]string{"sh", "-c", `cd "$1" && shift && exec chown -h "$@"`, "chown", dir, owner, "--"}, chunk...)
			if _, err := c.Exec(ctx, argv...); err != nil {
				return err
			}
		}
	}
	return nil
}

// ownersScript stats everything under $2, relative to $1.
const ownersScript = `cd "$1" && find "$2" -print0 | xargs -0 -r stat -c "$3" --`

// OwnersUnder returns what is under root (relative to dir) as the container
// has it.
func (c InContainer) OwnersUnder(ctx context.Context, dir, root string) (map[string]Entry, error) {
	out, err := c.Exec(ctx, "sh", "-c", ownersScript, "owners", dir, root, statFormat)
	if err != nil {
		return nil, err
	}
	return parseStat(out), nil
}

// WithOwners copies an archive read out of c from dir, with each member's
// owner as the container has it.
func WithOwners(w io.Writer, r io.Reader, owners map[string]Entry) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if e, ok := owners[memberPath(h.Name)]; ok {
			uid, gid, _ := strings.Cut(e.owner, ":")
			h.Uid, _ = strconv.Atoi(uid)
			h.Gid, _ = strconv.Atoi(gid)
			// Names would be mapped by the engine that reads the archive.
			h.Uname, h.Gname = "", ""
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
