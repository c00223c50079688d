package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
)

// Unit tests of snapshots against the fake engine: names, labels, the
// values a restore pins, the journal, and what an import refuses.

func TestSnapshotNamesNeverCollide(t *testing.T) {
	for _, name := range []string{"before-step-30", "a", "v1.2_x"} {
		if err := ValidateSnapshotName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for _, name := range []string{"", "-x", "Upper", "a/b", "a b", strings.Repeat("x", 64)} {
		if err := ValidateSnapshotName(name); fault.ExitCode(err) != fault.ExitUsage {
			t.Errorf("%q accepted: %v", name, err)
		}
	}
	// Project "a-b" with snapshot "c" and project "a" with snapshot "b-c";
	// snapshots whose names end like another's volumes; a stack.
	names := slices.Collect(maps.Values(stackVolumes(stack.NamesFor("snapshot-a"))))
	for _, s := range [][2]string{{"a-b", "c"}, {"a", "b-c"}, {"a", "x"}, {"a", "x-mysql-data"}, {"a", "x-record"}, {"a", "x-shared"}} {
		names = append(names, recordOf(s[0], s[1]))
		names = append(names, slices.Collect(maps.Values(snapshotVolumesOf(s[0], s[1])))...)
	}
	slices.Sort(names)
	if len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("volume names used twice: %v", names)
	}
}

func testSnapshot() *snapshot {
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return &snapshot{
		SnapshotInfo: SnapshotInfo{Name: "s", Project: "p", Created: created.Add(time.Hour), Flavour: "mariadb", MySQLVersion: "10.11",
			Image: "img", DevstackVersion: "v1", Schema: "abc", SizeBytes: -1},
		pinned:  stack.Pinned{RootPassword: "root", AppPassword: "app", MySQLPort: 1001, RedisPort: 1002, DashboardUUID: "0f6c3f3e-6a53-4b7e-9d55-1d2e3f4a5b6c", Created: created},
		volumes: snapshotVolumesOf("p", "s"),
	}
}

func TestSnapshotLabelsCarryWhatRestoreNeeds(t *testing.T) {
	s := testSnapshot()
	l := s.labels(partRecord)
	if _, ok := l[stack.LabelProject]; ok {
		t.Errorf("a snapshot carries %s: %v", stack.LabelProject, l)
	}
	if l[LabelSnapshot] != "s" || l[LabelSnapshotOf] != "p" || l[labelSnapshotFlavour] != "mariadb" || l[labelSnapshotMySQLVersion] != "10.11" {
		t.Errorf("labels: %v", l)
	}
	back := snapshotFrom(l)
	if back.pinned != s.pinned || back.SnapshotInfo != s.SnapshotInfo {
		t.Errorf("read back %+v %+v, want %+v %+v", back.SnapshotInfo, back.pinned, s.SnapshotInfo, s.pinned)
	}
	if other := s.labels(config.ServiceMySQL); other[stack.LabelRootPassword] != "" || other[stack.LabelService] != config.ServiceMySQL {
		t.Errorf("MySQL volume labels: %v", other)
	}
}

func TestRestoreTarget(t *testing.T) {
	cfg := stacktest.Config("q")
	cfg.MySQL.Port, cfg.Redis.Port = 0, 0
	s := testSnapshot()
	absent := &observe.Observed{Names: stack.NamesFor("q"), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{}}

	// Saved here: the saved values come back.
	v, err := restoreTarget(cfg, s, absent, stacktest.Ports())
	if err != nil || v.RootPassword != "root" || v.AppPassword != "app" || v.MySQLPort != 1001 || v.RedisPort != 1002 || v.DashboardUUID != s.pinned.DashboardUUID || !v.Created.Equal(s.pinned.Created) {
		t.Errorf("in place: %+v, %v", v, err)
	}

	// Imported into a new project: its own passwords and ports, the rows'
	// UUID and time.
	s.ImportedFrom = "p"
	v, err = restoreTarget(cfg, s, absent, stacktest.Ports())
	if err != nil || v.RootPassword == "root" || v.AppPassword == "app" || v.MySQLPort == 1001 || v.RedisPort == 1002 || v.DashboardUUID != s.pinned.DashboardUUID || !v.Created.Equal(s.pinned.Created) {
		t.Errorf("imported, new project: %+v, %v", v, err)
	}

	// Imported into an existing stack: that stack's passwords and ports.
	own := stack.Pinned{RootPassword: "own-root", AppPassword: "own-app", MySQLPort: 2001, RedisPort: 2002, DashboardUUID: "own-uuid", Created: time.Now().UTC().Truncate(time.Second)}
	existing := &observe.Observed{Names: stack.NamesFor("q"), Containers: map[string]docker.Container{}, Volumes: map[string]docker.Volume{
		stack.NamesFor("q").MySQLData: {Name: stack.NamesFor("q").MySQLData, Labels: own.Labels()}}}
	v, err = restoreTarget(cfg, s, existing, stacktest.Ports())
	if err != nil || v.RootPassword != "own-root" || v.AppPassword != "own-app" || v.MySQLPort != 2001 || v.RedisPort != 2002 || v.DashboardUUID != s.pinned.DashboardUUID {
		t.Errorf("imported, existing stack: %+v, %v", v, err)
	}

	// A port the config fixes wins.
	cfg.MySQL.Port = 3306
	if v, _ := restoreTarget(cfg, s, existing, stacktest.Ports()); v.MySQLPort != 3306 {
		t.Errorf("config port ignored: %d", v.MySQLPort)
	}
}

func TestSamePinned(t *testing.T) {
	v := testSnapshot().pinned
	l := v.Labels()
	l["io.devstack.other"] = "x"
	if !samePinned(l, v) {
		t.Error("same values, other labels: not the same")
	}
	w := v
	w.AppPassword = "changed"
	if samePinned(l, w) {
		t.Error("another password: the same")
	}
}

func TestSaveNeedsForceOverAnExistingName(t *testing.T) {
	f, e := stackOn("p")
	s := testSnapshot()
	stacktest.Must(t, e.makeSnapshotVolumes(context.Background(), s))
	f.Calls = nil
	_, err := e.Save(context.Background(), stacktest.Config("p"), "s", SnapshotOptions{})
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("save over an existing name: %v", err)
	}
	if len(f.Calls) > 0 {
		t.Errorf("a refused save changed %v", f.Calls)
	}
}

func TestSnapshotNameHeldByAnotherVolume(t *testing.T) {
	f, e := stackOn("p")
	f.AddVolume(docker.Volume{Name: snapshotVolumesOf("p", "s")[stack.PartShared], Labels: map[string]string{"other": "x"}})
	if _, err := e.findSnapshot(context.Background(), "p", "s"); fault.ExitCode(err) != fault.ExitUsage {
		t.Errorf("a volume devstack did not make: %v", err)
	}
}

func TestForeignUsers(t *testing.T) {
	f, e := stackOn("p")
	n := stack.NamesFor("p")
	f.AddContainer(docker.Container{Name: "app", Volumes: []string{"elsewhere", n.Shared}})
	f.AddContainer(docker.Container{Name: "unrelated", Volumes: []string{"elsewhere"}})
	f.AddContainer(docker.Container{Name: "devstack-p-copy", Labels: map[string]string{stack.LabelProject: "p"}, Volumes: []string{n.MySQLData}})
	o, err := e.Observe(context.Background(), "p")
	stacktest.Must(t, err)
	got, err := e.foreignUsers(context.Background(), o)
	if err != nil || !slices.Equal(got, []string{"app"}) {
		t.Errorf("foreign users: %v, %v", got, err)
	}
}

// export builds an export of testSnapshot with members holding a file each.
func export(t *testing.T) []byte {
	t.Helper()
	return exportWith(t, func(*manifest) {}, writePart)
}

// exportWith is an export whose manifest edit changed and whose parts write
// wrote, with sizes and checksums that agree.
func exportWith(t *testing.T, edit func(*manifest), write func(w io.Writer, part, flavour string) error) []byte {
	t.Helper()
	s := testSnapshot()
	m := &manifest{Format: exportFormat, Snapshot: s.SnapshotInfo, Pinned: s.pinned}
	edit(m)
	var spools []*os.File
	for _, part := range snapshotParts {
		f, err := os.CreateTemp(t.TempDir(), "member")
		stacktest.Must(t, err)
		t.Cleanup(func() { f.Close() })
		stacktest.Must(t, write(f, part, m.Snapshot.Flavour))
		_, err = f.Seek(0, 0)
		stacktest.Must(t, err)
		spools = append(spools, f)
		mb := member{Name: memberName(part), Part: part}
		st, _ := f.Stat()
		mb.Size = st.Size()
		mb.SHA256 = sha256File(t, f)
		m.Members = append(m.Members, mb)
	}
	var out bytes.Buffer
	if _, _, err := writeExport(&out, m, spools); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func sha256File(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	stacktest.Must(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// importInto imports data into project q of a fake engine whose MySQL image
// runs MariaDB 10.11.
func importInto(t *testing.T, data []byte) (*fake.Engine, error) {
	t.Helper()
	f := fake.New()
	cfg := stacktest.Config("q")
	f.AddImage(cfg.MySQL.Image)
	f.Output[stack.NamesFor("q").Probe] = "mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)\n"
	f.ExecFunc = statFromCopies(f)
	_, err := engineOn(f).Import(context.Background(), cfg, ImportOptions{File: "-", Stdin: bytes.NewReader(data)})
	return f, err
}

func snapshotVolumesOn(t *testing.T, f *fake.Engine) []string {
	t.Helper()
	vs, err := f.Volumes(context.Background(), LabelSnapshot)
	stacktest.Must(t, err)
	var names []string
	for _, v := range vs {
		names = append(names, v.Name)
	}
	return names
}

func TestImportChecksTheWholeFile(t *testing.T) {
	good := export(t)
	f, err := importInto(t, good)
	if err != nil {
		t.Fatalf("import of a good export: %v", err)
	}
	if got := snapshotVolumesOn(t, f); len(got) != 4 {
		t.Fatalf("volumes made: %v", got)
	}
	v, _ := f.Volume(context.Background(), recordOf("q", "s"))
	if v.Labels[LabelSnapshotOf] != "q" || v.Labels[labelSnapshotImportedFrom] != "p" || v.Labels[stack.LabelRootPassword] != "root" {
		t.Errorf("imported labels: %v", v.Labels)
	}

	corrupt := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x55
		return b
	}
	for name, data := range map[string][]byte{
		"truncated in a member":     good[:len(good)/2],
		"truncated before the CRC":  good[:len(good)-4],
		"a byte changed":            corrupt(len(good) / 2),
		"the gzip CRC changed":      corrupt(len(good) - 6),
		"not gzip":                  []byte("hello"),
		"empty":                     nil,
		"another format":            withManifest(t, good, func(m *manifest) { m.Format = 99 }),
		"a member's checksum wrong": withManifest(t, good, func(m *manifest) { m.Members[1].SHA256 = strings.Repeat("0", 64) }),
	} {
		f, err := importInto(t, data)
		if fault.ExitCode(err) != fault.ExitUsage {
			t.Errorf("%s: imported, or failed as the environment: %v", name, err)
		}
		if left := snapshotVolumesOn(t, f); len(left) > 0 {
			t.Errorf("%s: left %v", name, left)
		}
		if cs, _ := f.Containers(context.Background()); len(cs) > 0 {
			t.Errorf("%s: left container %s", name, cs[0].Name)
		}
	}
}

func TestImportRefusesAnotherFlavour(t *testing.T) {
	f := fake.New()
	cfg := stacktest.Config("q")
	f.AddImage(cfg.MySQL.Image)
	f.Output[stack.NamesFor("q").Probe] = "/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)\n"
	_, err := engineOn(f).Import(context.Background(), cfg, ImportOptions{File: "-", Stdin: bytes.NewReader(export(t))})
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "MariaDB 10.11") || !strings.Contains(err.Error(), "MySQL 8.0") {
		t.Fatalf("import across flavours: %v", err)
	}
	if left := snapshotVolumesOn(t, f); len(left) > 0 {
		t.Errorf("left %v", left)
	}
}

// withManifest rewrites an export's manifest; the members stay as they are.
func withManifest(t *testing.T, data []byte, change func(*manifest)) []byte {
	t.Helper()
	gr, err := gzip.NewReader(bytes.NewReader(data))
	stacktest.Must(t, err)
	tr := tar.NewReader(gr)
	var out bytes.Buffer
	gw := gzip.NewWriter(&out)
	tw := tar.NewWriter(gw)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		stacktest.Must(t, err)
		body, err := io.ReadAll(tr)
		stacktest.Must(t, err)
		if hdr.Name == manifestName {
			var m manifest
			stacktest.Must(t, json.Unmarshal(body, &m))
			change(&m)
			body, _ = json.Marshal(m)
			hdr.Size = int64(len(body))
		}
		stacktest.Must(t, tw.WriteHeader(hdr))
		_, err = tw.Write(body)
		stacktest.Must(t, err)
	}
	stacktest.Must(t, tw.Close())
	stacktest.Must(t, gw.Close())
	return out.Bytes()
}

// What a save or an import cut short leaves (data volumes, no record) is
// listed as incomplete, and a restore refuses it before changing anything.
func TestIncompleteSnapshotIsRefused(t *testing.T) {
	f, e := stackOn("p")
	cfg := stacktest.Config("p")
	stacktest.Must(t, e.makeSnapshotVolumes(context.Background(), testSnapshot()))
	got, err := e.List(context.Background(), cfg, false)
	if err != nil || len(got) != 1 || got[0].Complete {
		t.Errorf("ls: %+v, %v", got, err)
	}
	f.Calls = nil
	_, err = e.Restore(context.Background(), cfg, "s", SnapshotOptions{})
	if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("restore of an incomplete snapshot: %v", err)
	}
	if len(f.Calls) > 0 {
		t.Errorf("a refused restore changed %v", f.Calls)
	}
}

// statFromCopies answers the check after a copy (statScript) from what the
// fake engine's CopyTo kept: stat of each path named on stdin under $1.
func statFromCopies(f *fake.Engine) func(string, docker.Exec) (int, error) {
	return func(name string, x docker.Exec) (int, error) {
		if x.Stdin == nil || len(x.Cmd) < 6 || x.Cmd[2] != engine.StatScript {
			return 0, nil
		}
		names, _ := io.ReadAll(x.Stdin)
		for _, p := range strings.Split(strings.TrimSuffix(string(names), "\x00"), "\x00") {
			h, ok := f.Written(name, path.Join(x.Cmd[4], p))
			if !ok {
				continue
			}
			kind := map[byte]string{tar.TypeDir: "directory", tar.TypeReg: "regular file", tar.TypeSymlink: "symbolic link"}[h.Typeflag]
			fmt.Fprintf(x.Stdout, "%d:%d %d %s|%s\n", h.Uid, h.Gid, h.Size, kind, p)
		}
		return 0, nil
	}
}

// An engine that reports a copy done but did not write it (Podman 4 into a
// container that never ran) fails the import: no snapshot is made of it.
func TestImportFailsWhenTheEngineLosesTheCopy(t *testing.T) {
	f := fake.New()
	cfg := stacktest.Config("q")
	f.AddImage(cfg.MySQL.Image)
	f.Output[stack.NamesFor("q").Probe] = "mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)\n"
	f.ExecFunc = func(string, docker.Exec) (int, error) { return 0, nil } // stat finds nothing
	_, err := engineOn(f).Import(context.Background(), cfg, ImportOptions{File: "-", Stdin: bytes.NewReader(export(t))})
	if err == nil || !strings.Contains(err.Error(), "did not write what devstack copied") {
		t.Fatalf("import onto a losing engine: %v", err)
	}
	if got := snapshotVolumesOn(t, f); len(got) != 0 {
		t.Errorf("volumes left behind: %v", got)
	}
}

// An export holds passwords: it is its owner's alone, nothing planted beside
// it is written through, and an existing file is replaced only when asked.
func TestWriteSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.tar.gz")
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	stacktest.Must(t, writeSecretFile(path, false, write("one")))
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v, %v", fi.Mode(), err)
	}
	if err := writeSecretFile(path, false, write("two")); fault.ExitCode(err) != fault.ExitUsage {
		t.Errorf("an existing file replaced unasked: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("content after a refusal: %q", b)
	}
	// A symlink at the name: replaced with --force, its target untouched.
	target := filepath.Join(dir, "target")
	stacktest.Must(t, os.WriteFile(target, []byte("keep"), 0o644))
	link := filepath.Join(dir, "link.tar.gz")
	stacktest.Must(t, os.Symlink(target, link))
	if err := writeSecretFile(link, false, write("x")); fault.ExitCode(err) != fault.ExitUsage {
		t.Errorf("a symlink at the name taken as free: %v", err)
	}
	stacktest.Must(t, writeSecretFile(link, true, write("three")))
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("written through a symlink: target holds %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("after --force: %v", fi.Mode())
	}
	// A failed write leaves nothing, not even its partial file.
	failed := filepath.Join(dir, "failed.tar.gz")
	if err := writeSecretFile(failed, false, func(io.Writer) error { return io.ErrUnexpectedEOF }); err == nil {
		t.Error("a failed write reported done")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "failed") || strings.Contains(e.Name(), "partial") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// writePart writes a part's tar stream: the part's folder with a file in it,
// and for MySQL the data directory of flavour (its system database and the
// file only it has).
func writePart(w io.Writer, part, flavour string) error {
	tw := tar.NewWriter(w)
	names := []string{part + "/data"}
	if part == config.ServiceMySQL {
		names = append(names, "mysql/mysql/", map[string]string{"mariadb": "mysql/aria_log_control", "mysql": "mysql/mysql.ibd"}[flavour])
	}
	for _, name := range names {
		h := &tar.Header{Name: name, Mode: 0o600, Typeflag: tar.TypeReg}
		var data []byte
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o700
		} else {
			data = bytes.Repeat([]byte(part), 5000)
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// An export whose sizes and checksums agree is still refused when its parts
// cannot be a stack's volumes, or its manifest's values a stack's.
func TestImportRefusesWhatNoStackHolds(t *testing.T) {
	empty := func(w io.Writer, _, _ string) error { return tar.NewWriter(w).Close() }
	otherFlavour := func(w io.Writer, part, _ string) error { return writePart(w, part, "mysql") }
	with := func(h *tar.Header) func(io.Writer, string, string) error {
		return func(w io.Writer, part, flavour string) error {
			if part != stack.PartShared {
				return writePart(w, part, flavour)
			}
			tw := tar.NewWriter(w)
			if err := tw.WriteHeader(&tar.Header{Name: "shared/", Typeflag: tar.TypeDir, Mode: 0o770}); err != nil {
				return err
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			return tw.Close()
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*manifest)
		write func(io.Writer, string, string) error
		why   string
	}{
		{"three empty parts", func(*manifest) {}, empty, "holds no mariadb data directory"},
		{"a MySQL data directory named MariaDB", func(*manifest) {}, otherFlavour, "holds no mariadb data directory"},
		{"no flavour it names", func(m *manifest) { m.Snapshot.Flavour = "postgres" }, writePart, "does not describe a snapshot"},
		{"a UUID that is none", func(m *manifest) { m.Pinned.DashboardUUID = "'; DROP TABLE x; --" }, writePart, "dashboard_uuid is not a UUID"},
		{"a port out of range", func(m *manifest) { m.Pinned.MySQLPort = 70000 }, writePart, "ports are out of range"},
		{"a password with a newline", func(m *manifest) { m.Pinned.RootPassword = "a\nb" }, writePart, "hold control characters"},
		{"a member that climbs out", func(*manifest) {}, with(&tar.Header{Name: "shared/../../etc/cron.d/x", Typeflag: tar.TypeReg}), "outside its shared part"},
		{"an absolute member", func(*manifest) {}, with(&tar.Header{Name: "/etc/passwd", Typeflag: tar.TypeReg}), "outside its shared part"},
		{"a link that leads out", func(*manifest) {}, with(&tar.Header{Name: "shared/out", Typeflag: tar.TypeSymlink, Linkname: "../../../etc"}), "a link"},
		{"an absolute link", func(*manifest) {}, with(&tar.Header{Name: "shared/out", Typeflag: tar.TypeSymlink, Linkname: "/etc"}), "a link"},
		{"a device", func(*manifest) {}, with(&tar.Header{Name: "shared/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}), "neither a file"},
	} {
		f, err := importInto(t, exportWith(t, tc.edit, tc.write))
		if fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := snapshotVolumesOn(t, f); len(got) != 0 {
			t.Errorf("%s: volumes left behind: %v", tc.name, got)
		}
	}
}

// engineOn is an engine that answers as f does.
func engineOn(f *fake.Engine) *Engine {
	return New(engine.NewConn(docker.Said(f)))
}

// stackOn is project's running stack on a fake engine.
func stackOn(project string) (*fake.Engine, *Engine) {
	f := stacktest.Running(project)
	return f, engineOn(f)
}

func TestStatusIsRestoringWhileTheJournalExists(t *testing.T) {
	f, e := stackOn("p")
	cfg := stacktest.Config("p")
	f.AddVolume(docker.Volume{Name: stack.NamesFor("p").Restoring, Labels: journalLabels("p", "s", testSnapshot().pinned)})
	r, err := e.Status(context.Background(), cfg, false)
	if err != nil || r.State != converge.StateRestoring {
		t.Fatalf("status: %+v, %v", r, err)
	}
	// Down with --volumes removes the journal with the rest; snapshots stay.
	s := testSnapshot()
	stacktest.Must(t, e.makeSnapshotVolumes(context.Background(), s))
	stacktest.Must(t, e.recordSnapshot(context.Background(), s))
	if _, err := e.Down(context.Background(), "p", converge.DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Status(context.Background(), cfg, false); r.State != converge.StateAbsent {
		t.Errorf("after down --volumes: %s", r.State)
	}
	if got, _ := e.List(context.Background(), cfg, false); len(got) != 1 || !got[0].Complete {
		t.Errorf("snapshots after down --volumes: %+v", got)
	}
}
