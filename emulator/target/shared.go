package target

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// fileChange is one thing to do in the shared directory: a folder to make,
// a mode or owner to set, a file to write.
type fileChange struct {
	Change
	path string // relative to the shared directory
	dir  bool
	data []byte
}

// ErrSharedDir is a shared directory that is not a folder devstack can
// read: bad input.
var ErrSharedDir = errors.New("not a shared directory")

// sharedDir plans the folders (the layout) and the processing
// configurations: what is missing, and modes and owners that differ.
func (p *Plan) sharedDir(sd Shared, tree shared.Tree) error {
	if st, err := os.Stat(sd.Path); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: %s is not a folder (mount the share, or give its path)", ErrSharedDir, sd.Path)
	}
	var dirs []string
	add := func(d string) {
		for ; d != "." && d != "/" && !slices.Contains(dirs, d); d = path.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range tree.Dirs {
		add(d)
	}
	for _, f := range tree.Files {
		add(path.Dir(f.Path))
	}
	slices.Sort(dirs) // parents first
	layout := Step{Name: StepShared}
	for _, d := range dirs {
		c, err := inspectEntry(sd.Path, d, true, nil, sd.Owner)
		if err != nil {
			return err
		}
		p.shared = append(p.shared, c...)
		for _, fc := range c {
			layout.Changes = append(layout.Changes, fc.Change)
		}
	}
	layout.State = fmt.Sprintf("%s: %d folders, %d to make or mend", sd.Path, len(dirs), len(layout.Changes))
	p.add(layout)
	configs := Step{Name: StepProcessing}
	for _, f := range tree.Files {
		c, err := inspectEntry(sd.Path, f.Path, false, f.Data, sd.Owner)
		if err != nil {
			return err
		}
		p.shared = append(p.shared, c...)
		for _, fc := range c {
			configs.Changes = append(configs.Changes, fc.Change)
		}
	}
	configs.State = fmt.Sprintf("%d processing configurations in %s", len(tree.Files), seed.ProcessingDir)
	p.add(configs)
	return nil
}

// inspectEntry compares one folder or file with what it must be.
func inspectEntry(root, rel string, dir bool, data []byte, owner shared.Owner) ([]fileChange, error) {
	full := filepath.Join(root, filepath.FromSlash(rel))
	mode := fs.FileMode(shared.FileMode)
	kind := "file"
	if dir {
		mode, kind = shared.DirMode, "folder"
	}
	fc := func(action, detail string) fileChange {
		return fileChange{Change: Change{action, rel, detail}, path: rel, dir: dir, data: data}
	}
	st, err := os.Lstat(full)
	if errors.Is(err, fs.ErrNotExist) {
		if dir {
			return []fileChange{fc("mkdir", fmt.Sprintf("mode %04o, owner %d:%d", mode, owner.UID, owner.GID))}, nil
		}
		return []fileChange{fc("write", "missing")}, nil
	}
	if err != nil {
		return nil, err
	}
	if st.IsDir() != dir || !st.IsDir() && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is in the way of a %s (devstack removes nothing)", ErrSharedDir, full, kind)
	}
	var out []fileChange
	if !dir {
		have, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(have, data) {
			out = append(out, fc("write", "differs from the fixtures'"))
		}
	}
	if st.Mode().Perm() != mode {
		out = append(out, fc("chmod", fmt.Sprintf("%04o, want %04o", st.Mode().Perm(), mode)))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (int(sys.Uid) != owner.UID || int(sys.Gid) != owner.GID) {
		out = append(out, fc("chown", fmt.Sprintf("%d:%d, want %d:%d", sys.Uid, sys.Gid, owner.UID, owner.GID)))
	}
	return out, nil
}

// applyShared does the shared directory's changes, folders first (they are
// planned parents first). A file is written beside its place and renamed
// into it, so a reader never sees half of one.
func applyShared(root string, changes []fileChange, owner shared.Owner) error {
	for _, c := range changes {
		full := filepath.Join(root, filepath.FromSlash(c.path))
		var err error
		switch c.Action {
		case "mkdir":
			if err = os.Mkdir(full, shared.DirMode); err == nil || errors.Is(err, fs.ErrExist) {
				err = settle(full, shared.DirMode, owner)
			}
		case "write":
			err = writeFile(full, c.data, owner)
		case "chmod":
			mode := fs.FileMode(shared.FileMode)
			if c.dir {
				mode = shared.DirMode
			}
			err = os.Chmod(full, mode)
		case "chown":
			err = os.Lchown(full, owner.UID, owner.GID)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Action, full, err)
		}
	}
	return nil
}

// settle gives a new entry its mode (the umask narrows Mkdir's) and owner.
func settle(full string, mode fs.FileMode, owner shared.Owner) error {
	if err := os.Chmod(full, mode); err != nil {
		return err
	}
	return os.Lchown(full, owner.UID, owner.GID)
}

func writeFile(full string, data []byte, owner shared.Owner) error {
	tmp := full + shared.TmpSuffix
	if err := os.WriteFile(tmp, data, shared.FileMode); err != nil {
		return err
	}
	if err := settle(tmp, shared.FileMode, owner); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, full); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
