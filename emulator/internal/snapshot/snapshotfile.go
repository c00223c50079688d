package snapshot

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// An export is one gzip'd tar (docs/architecture.md). Its first member is
// manifest.json: the format version, what the snapshot is, the values its
// stack ran with (passwords included) and, per member, its size and
// SHA-256. Then one tar per volume, mysql.tar, redis.tar and shared.tar, as
// the engine streams the volume (entries under mysql/, redis/, shared/). An
// import checks every member's checksum and the gzip CRC before it makes
// the snapshot's record, and removes what it made when one fails.

// exportFormat is the version of the file format; an import refuses
// another.
const exportFormat = 1

const manifestName = "manifest.json"

type manifest struct {
	Format   int          `json:"format"`
	Snapshot SnapshotInfo `json:"snapshot"`
	Pinned   stack.Pinned `json:"pinned"`
	Members  []member     `json:"members"`
}

type member struct {
	Name   string `json:"name"`
	Part   string `json:"part"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func memberName(part string) string { return part + ".tar" }

// ExportOptions say where an export goes: File, or Stdout when File is "-".
type ExportOptions struct {
	File   string
	Stdout io.Writer
	// Force replaces an existing File.
	Force bool
}

// ExportReport is `snapshot export -o json`; its shape is a contract.
type ExportReport struct {
	Snapshot SnapshotInfo `json:"snapshot"`
	File     string       `json:"file"`
	Bytes    int64        `json:"bytes"`
	// SHA256 is the whole file's, to check a copy against.
	SHA256 string `json:"sha256"`
}

// Export writes one of the project's snapshots as one file. A file
// is written under a temporary name and renamed once complete, so a failed
// export leaves none.
func (e *Engine) Export(ctx context.Context, cfg config.Config, name string, opts ExportOptions) (*ExportReport, error) {
	if err := ValidateSnapshotName(name); err != nil {
		return nil, err
	}
	if opts.File != "-" {
		// Before any work; writeSecretFile asks again at the end.
		if err := refuseExisting(opts.File, opts.Force); err != nil {
			return nil, err
		}
	}
	unlock, err := lock.Project(ctx, cfg.Project, nil)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if cfg, err = e.following(ctx, cfg); err != nil {
		return nil, err
	}
	s, err := e.findSnapshot(ctx, cfg.Project, name)
	switch {
	case err != nil:
		return nil, err
	case s == nil:
		return nil, noSnapshot(cfg.Project, name)
	case !s.Complete:
		return nil, incomplete(cfg.Project, name)
	}
	m := &manifest{Format: exportFormat, Snapshot: s.SnapshotInfo, Pinned: s.pinned}
	spools, err := e.spoolSnapshot(ctx, cfg, s, m)
	defer closeAll(spools)
	if err != nil {
		return nil, err
	}
	r := &ExportReport{Snapshot: s.SnapshotInfo, File: opts.File}
	if opts.File == "-" {
		r.Bytes, r.SHA256, err = writeExport(opts.Stdout, m, spools)
		return r, err
	}
	err = writeSecretFile(opts.File, opts.Force, func(w io.Writer) error {
		r.Bytes, r.SHA256, err = writeExport(w, m, spools)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// refuseExisting refuses a path where something is, unless force.
func refuseExisting(path string, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fault.Usage("%s exists: pass --force to replace it", path)
	}
	return nil
}

// writeSecretFile writes a file that holds secrets (an export holds the
// stack's passwords): readable by its owner alone, made under a new name
// beside it (created exclusively: nothing planted there is followed or
// written through) and renamed over path once complete, so that a failed
// write leaves nothing. An existing path is replaced only with force, and
// a symlink there is replaced, not followed.
func writeSecretFile(path string, force bool, write func(io.Writer) error) error {
	if err := refuseExisting(path, force); err != nil {
		return err
	}
	partial := path + ".partial-" + rand.Text()[:10]
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fault.Usage("cannot write %s: %v", path, errors.Unwrap(err))
	}
	defer os.Remove(partial)
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(partial, path)
	}
	if err != nil {
		return fault.Env(err, "cannot write %s: %v", path, err)
	}
	return nil
}

// spoolSnapshot reads the snapshot's volumes, through a container that
// mounts them, into temporary files, and fills in the members:
// the manifest that comes first must know their sizes and checksums.
func (e *Engine) spoolSnapshot(ctx context.Context, cfg config.Config, s *snapshot, m *manifest) ([]*os.File, error) {
	c, err := e.snapshotContainer(ctx, cfg, s.volumes, true)
	if err != nil {
		return nil, err
	}
	defer e.Docker.Remove(context.WithoutCancel(ctx), c.Name)
	var spools []*os.File
	for _, part := range snapshotParts {
		f, mb, err := spoolPart(ctx, c, part)
		if f != nil {
			spools = append(spools, f)
		}
		if err != nil {
			return spools, err
		}
		m.Members = append(m.Members, mb)
	}
	return spools, nil
}

// spoolPart copies one volume's tar stream into a temporary file.
func spoolPart(ctx context.Context, c engine.InContainer, part string) (*os.File, member, error) {
	mb := member{Name: memberName(part), Part: part}
	f, err := os.CreateTemp("", "devstack-export-*")
	if err != nil {
		return nil, mb, fault.Env(err, "cannot make a temporary file: %v", err)
	}
	os.Remove(f.Name()) // it lives as long as it is open
	owners, err := c.OwnersUnder(ctx, snapshotMount, part)
	if err != nil {
		return f, mb, err
	}
	rc, err := c.CopyFrom(ctx, snapshotMount+"/"+part)
	if err != nil {
		return f, mb, err
	}
	defer rc.Close()
	h := sha256.New()
	out := &counter{w: io.MultiWriter(f, h)}
	if err = engine.WithOwners(out, rc, owners); err != nil {
		return f, mb, fault.Env(err, "cannot read volume %s of the snapshot: %v", part, err)
	}
	mb.Size = out.n
	mb.SHA256 = hex.EncodeToString(h.Sum(nil))
	_, err = f.Seek(0, io.SeekStart)
	return f, mb, err
}

// writeExport writes the archive: the manifest, then the spooled members.
// It returns the archive's size and SHA-256.
func writeExport(w io.Writer, m *manifest, spools []*os.File) (int64, string, error) {
	h := sha256.New()
	out := &counter{w: io.MultiWriter(w, h)}
	gz, _ := gzip.NewWriterLevel(out, gzip.BestSpeed) // a valid level cannot fail
	tw := tar.NewWriter(gz)
	doc, _ := json.MarshalIndent(m, "", "  ")
	now := time.Now()
	err := tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: int64(len(doc)), ModTime: now})
	if err == nil {
		_, err = tw.Write(doc)
	}
	for i, mb := range m.Members {
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: mb.Name, Mode: 0o600, Size: mb.Size, ModTime: now})
		}
		if err == nil {
			_, err = io.Copy(tw, spools[i])
		}
	}
	for _, closer := range []io.Closer{tw, gz} {
		if err == nil {
			err = closer.Close()
		}
	}
	if err != nil {
		return 0, "", fault.Env(err, "cannot write the export: %v", err)
	}
	return out.n, hex.EncodeToString(h.Sum(nil)), nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// counter counts what passes through it.
type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// snapshotMount is where a snapshot's volumes are mounted, each under its
// part's name, in the container that reads or writes them.
const snapshotMount = "/snapshot"

// snapshotContainer starts a container of the project that mounts a
// snapshot's volumes. It runs, as the helper does: Podman copies into a
// created container's own filesystem, not its volumes, and the copies are
// checked with commands run in it.
func (e *Engine) snapshotContainer(ctx context.Context, cfg config.Config, vs snapshotVolumes, readOnly bool) (engine.InContainer, error) {
	n := stack.NamesFor(cfg.Project)
	c := engine.InContainer{Docker: e.Docker, Name: n.Copy}
	spec := docker.ContainerSpec{Name: n.Copy, Image: cfg.MySQL.Image, Labels: stack.Lifetime{}.Labels(cfg.Project, stack.PartHelper), Network: docker.NoNetwork, User: stack.RootUser,
		Entrypoint: []string{"sleep", "infinity"}, StopSignal: "SIGKILL", Tmpfs: map[string]string{"/var/lib/mysql": ""}}
	for _, part := range snapshotParts {
		spec.Mounts = append(spec.Mounts, docker.Mount{Volume: vs[part], Target: snapshotMount + "/" + part, ReadOnly: readOnly})
	}
	if err := e.EnsureImage(ctx, cfg.MySQL.Image, "DEVSTACK_MYSQL_IMAGE"); err != nil {
		return c, err
	}
	if err := e.RunOwnHelper(ctx, spec); err != nil {
		return c, fault.Env(err, "%v, to reach the snapshot's volumes", err)
	}
	return c, nil
}

// ImportOptions say what to import: File, or Stdin when File is "-"; Name
// is the snapshot's name here ("" keeps the file's).
type ImportOptions struct {
	File     string
	Stdin    io.Reader
	Name     string
	Progress event.Sink
}

// Import makes a snapshot of the project from an export. It refuses
// a file that is not a complete, intact export of a format it reads, or of
// a MySQL flavour or major.minor version this project's image does not run,
// and then leaves nothing behind. The snapshot is this project's; restoring
// it gives the stack this project's passwords and ports.
func (e *Engine) Import(ctx context.Context, cfg config.Config, opts ImportOptions) (*SnapshotInfo, error) {
	in, what, err := openImport(opts)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	gz, err := gzip.NewReader(bufio.NewReader(in))
	if err != nil {
		return nil, badExport(what, "not gzip data")
	}
	tr := tar.NewReader(gz)
	m, err := readManifest(tr, what)
	if err != nil {
		return nil, err
	}
	s := importedSnapshot(m, cfg.Project, opts.Name)
	if err := ValidateSnapshotName(s.Name); err != nil {
		return nil, err
	}
	unlock, err := lock.Project(ctx, cfg.Project, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := e.importable(ctx, &cfg, s); err != nil {
		return nil, err
	}
	opts.Progress.Note("importing snapshot %s of project %s from %s into project %s", s, m.Snapshot.Project, what, cfg.Project)
	if err := e.makeSnapshotVolumes(ctx, s); err != nil {
		return nil, errors.Join(err, e.removeSnapshot(context.WithoutCancel(ctx), s))
	}
	err = e.fill(ctx, cfg, s, importStream{tr: tr, gz: gz, m: m, what: what})
	if err == nil {
		err = e.recordSnapshot(ctx, s)
	}
	if err != nil {
		return nil, errors.Join(err, e.removeSnapshot(context.WithoutCancel(ctx), s))
	}
	return &s.SnapshotInfo, nil
}

func openImport(opts ImportOptions) (io.ReadCloser, string, error) {
	if opts.File == "-" {
		return io.NopCloser(opts.Stdin), "standard input", nil
	}
	f, err := os.Open(opts.File)
	if err != nil {
		return nil, "", fault.Usage("cannot read %s: %v", opts.File, errors.Unwrap(err))
	}
	return f, opts.File, nil
}

func badExport(what, why string) error {
	return fault.Usage("%s is not a complete devstack snapshot export: %s; nothing was imported", what, why)
}

// readManifest reads and checks the first member.
func readManifest(tr *tar.Reader, what string) (*manifest, error) {
	hdr, err := tr.Next()
	if err != nil || hdr.Name != manifestName || hdr.Size > 1<<20 {
		return nil, badExport(what, "it does not start with a "+manifestName)
	}
	var m manifest
	if err := json.NewDecoder(tr).Decode(&m); err != nil {
		return nil, badExport(what, "its "+manifestName+" is not JSON")
	}
	if m.Format != exportFormat {
		return nil, fault.Usage("%s is a snapshot export of format %d, and this devstack reads format %d: import it with the devstack that wrote it (snapshot %s was saved by devstack %s)",
			what, m.Format, exportFormat, m.Snapshot.Name, m.Snapshot.DevstackVersion)
	}
	var parts []string
	for _, mb := range m.Members {
		parts = append(parts, mb.Part)
		if mb.Name != memberName(mb.Part) || len(mb.SHA256) != sha256.Size*2 {
			return nil, badExport(what, "its manifest lists a member "+mb.Name)
		}
	}
	if !slices.Equal(parts, snapshotParts) || config.ValidateProject(m.Snapshot.Project) != nil || (m.Snapshot.Flavour != "mariadb" && m.Snapshot.Flavour != "mysql") {
		return nil, badExport(what, "its manifest does not describe a snapshot")
	}
	if why := m.Pinned.Invalid(); why != "" {
		return nil, badExport(what, "its manifest's "+why)
	}
	return &m, nil
}

// importedSnapshot is the snapshot an import makes: the file's, as one of
// project's, named name (or as in the file).
func importedSnapshot(m *manifest, project, name string) *snapshot {
	info := m.Snapshot
	info.Name = stack.FirstNonEmpty(name, info.Name)
	info.Project, info.ImportedFrom, info.SizeBytes = project, m.Snapshot.Project, -1
	return &snapshot{SnapshotInfo: info, pinned: m.Pinned, volumes: snapshotVolumesOf(project, info.Name)}
}

// importable refuses an import that could not be restored, or that would
// replace a snapshot, before anything is made. cfg becomes the configuration
// as it applies to the stack (observe.Observed.Follow).
func (e *Engine) importable(ctx context.Context, cfg *config.Config, s *snapshot) error {
	old, err := e.findSnapshot(ctx, cfg.Project, s.Name)
	if err != nil {
		return err
	}
	if old != nil {
		return fault.Usage("project %s has a snapshot %s already: import under another name (snapshot import FILE NAME), or remove it first", cfg.Project, s.Name)
	}
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return err
	}
	*cfg = o.Follow(*cfg)
	f, err := e.serverFlavour(ctx, *cfg, o)
	if err != nil {
		return err
	}
	return s.compatible(cfg.MySQL.Image, f.Name(), f.Series())
}

// importStream is the rest of an export, after its manifest.
type importStream struct {
	tr   *tar.Reader
	gz   *gzip.Reader
	m    *manifest
	what string
}

// fill extracts the members into the snapshot's volumes and checks each,
// then the end of the file and the gzip CRC.
func (e *Engine) fill(ctx context.Context, cfg config.Config, s *snapshot, in importStream) error {
	c, err := e.snapshotContainer(ctx, cfg, s.volumes, false)
	if err != nil {
		return err
	}
	defer e.Docker.Remove(context.WithoutCancel(ctx), c.Name)
	for _, mb := range in.m.Members {
		if err := in.extract(ctx, c, mb); err != nil {
			return err
		}
	}
	if _, err := in.tr.Next(); err != io.EOF {
		return badExport(in.what, "it holds more than its manifest lists")
	}
	if _, err := io.Copy(io.Discard, in.gz); err != nil {
		return badExport(in.what, "it is corrupted ("+err.Error()+")")
	}
	return nil
}

// extract streams one member into its volume and checks it.
func (in importStream) extract(ctx context.Context, c engine.InContainer, mb member) error {
	hdr, err := in.tr.Next()
	if err != nil {
		return badExport(in.what, "it ends before "+mb.Name)
	}
	if hdr.Name != mb.Name || hdr.Size != mb.Size {
		return badExport(in.what, fmt.Sprintf("%s comes where its manifest lists %s", hdr.Name, mb.Name))
	}
	r := &checked{r: in.tr, h: sha256.New()}
	safe, refused := screen(r, mb.Part)
	entries, copyErr := c.CopyIndexed(ctx, snapshotMount, safe)
	if why := refused(); why != "" {
		return badExport(in.what, why)
	}
	// The engine may stop reading at the end of the tar stream.
	if _, err := io.Copy(io.Discard, r); err != nil && r.err == nil {
		r.err = err
	}
	switch {
	case r.err != nil:
		return badExport(in.what, fmt.Sprintf("it is truncated or corrupted in %s (%v)", mb.Name, r.err))
	case hex.EncodeToString(r.h.Sum(nil)) != mb.SHA256:
		return badExport(in.what, mb.Name+" does not match its checksum")
	case copyErr != nil:
		return copyErr
	}
	if why := partContent(mb.Part, in.m.Snapshot.Flavour, entries); why != "" {
		return badExport(in.what, why)
	}
	return nil
}

// screen passes on a part's tar stream member by member, each header
// checked before the engine sees it: a member that leads out of its part's
// folder (an absolute name, "..", a link whose target is outside) or is a
// device or pipe ends the stream there. refused says why, once the stream
// has been read.
func screen(r io.Reader, part string) (io.Reader, func() string) {
	pr, pw := io.Pipe()
	var why string
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr, tw := tar.NewReader(r), tar.NewWriter(pw)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if why = memberOutside(h, part); why != "" {
				pw.CloseWithError(errors.New(why))
				return
			}
			if err := tw.WriteHeader(h); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr, func() string {
		pr.CloseWithError(io.ErrClosedPipe)
		<-done
		return why
	}
}

// memberOutside says why a member of part's stream may not be written, or
// "" when it may.
func memberOutside(h *tar.Header, part string) string {
	in := func(p string) bool { return p == part || strings.HasPrefix(p, part+"/") }
	name := path.Clean(h.Name)
	switch {
	case path.IsAbs(h.Name) || !in(name) || slices.Contains(strings.Split(h.Name, "/"), ".."):
		return fmt.Sprintf("it holds %q, outside its %s part", h.Name, part)
	case h.Typeflag == tar.TypeSymlink && (path.IsAbs(h.Linkname) || !in(path.Join(path.Dir(name), h.Linkname))):
		return fmt.Sprintf("it holds a link %q to %q, outside its %s part", h.Name, h.Linkname, part)
	case h.Typeflag == tar.TypeLink && !in(path.Clean(h.Linkname)):
		return fmt.Sprintf("it holds a hard link %q to %q, outside its %s part", h.Name, h.Linkname, part)
	case h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir && h.Typeflag != tar.TypeSymlink && h.Typeflag != tar.TypeLink:
		return fmt.Sprintf("it holds %q, which is neither a file, a folder nor a link", h.Name)
	}
	return ""
}

// partContent says why a part's files cannot be the volume the manifest
// says they are ("" when they can): sizes and checksums only show that the
// file is what its writer wrote, not that its writer was devstack. A MySQL
// part holds a data directory of the flavour named (its system database,
// and the file only that flavour makes); the others hold something.
func partContent(part, flavour string, entries map[string]engine.Entry) string {
	has := func(p string, kind byte) bool { e, ok := entries[p]; return ok && e.Kind == kind }
	switch part {
	case config.ServiceMySQL:
		marker := map[string]string{"mariadb": "mysql/aria_log_control", "mysql": "mysql/mysql.ibd"}[flavour]
		if !has("mysql/mysql", 'd') || !has(marker, 'f') {
			return fmt.Sprintf("its %s part holds no %s data directory", part, flavour)
		}
	default:
		if !slices.ContainsFunc(slices.Collect(maps.Keys(entries)), func(p string) bool { return strings.HasPrefix(p, part+"/") }) {
			return fmt.Sprintf("its %s part is empty", part)
		}
	}
	return ""
}

// checked hashes what is read through it and keeps the first read error.
type checked struct {
	r   io.Reader
	h   hash.Hash
	err error
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
