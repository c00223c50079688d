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
	mode fs.FileMode
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
		if err := p.inspectEntry(&layout, sd, d, true, nil); err != nil {
			return err
		}
	}
	layout.State = fmt.Sprintf("%s: %d folders, %d to make or mend", sd.Path, len(dirs), len(layout.Changes))
	p.add(layout)
	configs := Step{Name: StepProcessing}
	for _, f := range tree.Files {
		if err := p.inspectEntry(&configs, sd, f.Path, false, f.Data); err != nil {
			return err
		}
	}
	configs.State = fmt.Sprintf("%d processing configurations in %s", len(tree.Files), seed.ProcessingDir)
	p.add(configs)
	return nil
}

// inspectEntry compares one folder or file with what it must be, and adds
// what is to do to step and to the plan's work in the shared directory.
func (p *Plan) inspectEntry(step *Step, sd Shared, rel string, dir bool, data []byte) error {
	full := filepath.Join(sd.Path, filepath.FromSlash(rel))
	mode, kind, owner := fs.FileMode(shared.FileMode), "file", sd.Owner
	if dir {
		mode, kind = shared.DirMode, "folder"
	}
	add := func(action, detail string) {
		c := fileChange{Change: Change{action, rel, detail}, path: rel, mode: mode, data: data}
		p.shared = append(p.shared, c)
		step.Changes = append(step.Changes, c.Change)
	}
	st, err := os.Lstat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist) && dir:
		add("mkdir", fmt.Sprintf("mode %04o, owner %d:%d", mode, owner.UID, owner.GID))
		return nil
	case errors.Is(err, fs.ErrNotExist):
		add("write", "missing")
		return nil
	case err != nil:
		return err
	case st.IsDir() != dir || !st.IsDir() && !st.Mode().IsRegular():
		return fmt.Errorf("%w: %s is in the way of a %s (devstack removes nothing)", ErrSharedDir, full, kind)
	}
	if !dir {
		have, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		if !bytes.Equal(have, data) {
			add("write", "differs from the fixtures'")
		}
	}
	if st.Mode().Perm() != mode {
		add("chmod", fmt.Sprintf("%04o, want %04o", st.Mode().Perm(), mode))
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (int(sys.Uid) != owner.UID || int(sys.Gid) != owner.GID) {
		add("chown", fmt.Sprintf("%d:%d, want %d:%d", sys.Uid, sys.Gid, owner.UID, owner.GID))
	}
	return nil
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
			if err = os.Mkdir(full, c.mode); err == nil || errors.Is(err, fs.ErrExist) {
				err = settle(full, c.mode, owner)
			}
		case "write":
			err = writeFile(full, c.data, owner)
		case "chmod":
			err = os.Chmod(full, c.mode)
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
