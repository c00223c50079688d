package snapshot

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
)

// A snapshot is a stack's state set aside: copies of its three volumes (MySQL
// data, Redis data, shared directory), taken while its services were
// stopped, so that the three agree. Like a seeded template it outlives
// every stack and never carries io.devstack.project: down --volumes, status
// and ls never count it as part of a stack. Its volumes carry
// io.devstack.snapshot=<name> and io.devstack.snapshot-of=<project>.
//
// Its done marker is a fourth, empty volume, its record, made last: a
// template's is a file, since a template is built on its own volume, but a
// snapshot's completeness is then a label lookup, which ls shows and
// restore checks without starting a container. The record's labels say
// what restore and import check a snapshot against (the MySQL flavour and
// major.minor version, the schema) and the stack's pinned values, which an
// in-place restore gives back.

const (
	LabelSnapshot   = "io.devstack.snapshot"
	LabelSnapshotOf = "io.devstack.snapshot-of"

	labelSnapshotImportedFrom = "io.devstack.snapshot-imported-from"
	labelSnapshotFlavour      = "io.devstack.snapshot-flavour"
	labelSnapshotMySQLVersion = "io.devstack.snapshot-mysql-version"
	labelSnapshotDevstack     = "io.devstack.snapshot-devstack-version"
	labelSnapshotSchema       = "io.devstack.snapshot-schema"
	labelSnapshotImage        = "io.devstack.snapshot-image"
)

// partRecord is the io.devstack.service of a snapshot's record.
const partRecord = "snapshot"

var snapshotPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidateSnapshotName refuses a name that no snapshot may have, before
// anything is asked of Docker.
func ValidateSnapshotName(name string) error {
	if !snapshotPattern.MatchString(name) {
		return fault.Usage("invalid snapshot name %q: use 1-63 characters from a-z, 0-9, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// snapshotVolumes are the volumes of one snapshot, by the part of the stack
// they copy: mysql, redis, shared.
type snapshotVolumes map[string]string

// snapshotParts are a stack's parts a snapshot copies, MySQL's first: a
// copy leaves the server's identity out of its first target.
var snapshotParts = []string{config.ServiceMySQL, config.ServiceRedis, stack.PartShared}

// snapshotVolumesOf names a snapshot's data volumes, and recordOf its
// record. A dot, which no project name holds, ends the project, and none of
// the suffixes ends another: no two projects' snapshots share a volume
// name, no two snapshots of one project, and none shares a stack's.
func snapshotVolumesOf(project, name string) snapshotVolumes {
	p := "devstack-snapshot-" + project + "." + name
	return snapshotVolumes{config.ServiceMySQL: p + "-mysql-data", config.ServiceRedis: p + "-redis-data", stack.PartShared: p + "-shared"}
}

func recordOf(project, name string) string {
	return "devstack-snapshot-" + project + "." + name + "-record"
}

// stackVolumes are a stack's volumes by part.
func stackVolumes(n stack.Names) snapshotVolumes {
	return snapshotVolumes{config.ServiceMySQL: n.MySQLData, config.ServiceRedis: n.RedisData, stack.PartShared: n.Shared}
}

// pairs are the copies from one set of volumes to another, MySQL's first.
func (from snapshotVolumes) pairs(to snapshotVolumes) []server.VolumePair {
	var out []server.VolumePair
	for _, part := range snapshotParts {
		out = append(out, server.VolumePair{From: from[part], To: to[part]})
	}
	return out
}

// SnapshotInfo is one snapshot as `snapshot ls` shows it; its JSON shape is
// a contract (docs/architecture.md).
type SnapshotInfo struct {
	Name    string `json:"name"`
	Project string `json:"project"`
	// ImportedFrom is the project an imported snapshot was saved from; ""
	// for one saved here.
	ImportedFrom string    `json:"imported_from"`
	Created      time.Time `json:"created"`
	// Flavour is mariadb or mysql; MySQLVersion its major.minor.
	Flavour         string `json:"flavour"`
	MySQLVersion    string `json:"mysql_version"`
	Image           string `json:"image"`
	DevstackVersion string `json:"devstack_version"`
	// Schema is a digest of the built-in schema the stack was loaded with,
	// or "none".
	Schema string `json:"schema"`
	// SizeBytes is the disk usage of its volumes, -1 when the engine cannot
	// tell.
	SizeBytes int64 `json:"size_bytes"`
	// Complete is false for what a save or an import cut short left: no
	// record, or not all of its volumes.
	Complete bool `json:"complete"`
}

// snapshot is one snapshot on the engine: what ls shows, the values it
// saved, and which of its volumes exist (the record first).
type snapshot struct {
	SnapshotInfo
	pinned  stack.Pinned
	volumes snapshotVolumes
	present []string
}

// labels are what each of a snapshot's volumes carries, part naming the
// volume; the record's also the metadata and the saved values.
func (s *snapshot) labels(part string) map[string]string {
	l := map[string]string{}
	if part == partRecord {
		l = s.pinned.Labels()
		maps.Copy(l, map[string]string{labelSnapshotFlavour: s.Flavour, labelSnapshotMySQLVersion: s.MySQLVersion,
			labelSnapshotImage: s.Image, labelSnapshotDevstack: s.DevstackVersion, labelSnapshotSchema: s.Schema})
		if s.ImportedFrom != "" {
			l[labelSnapshotImportedFrom] = s.ImportedFrom
		}
	}
	maps.Copy(l, map[string]string{LabelSnapshot: s.Name, LabelSnapshotOf: s.Project, stack.LabelService: part,
		stack.LabelCreated: s.Created.UTC().Format(time.RFC3339)})
	return l
}

// snapshotFrom reads a snapshot from the labels of its record.
func snapshotFrom(labels map[string]string) *snapshot {
	s := &snapshot{SnapshotInfo: SnapshotInfo{Name: labels[LabelSnapshot], Project: labels[LabelSnapshotOf],
		ImportedFrom: labels[labelSnapshotImportedFrom], Flavour: labels[labelSnapshotFlavour], MySQLVersion: labels[labelSnapshotMySQLVersion],
		Image: labels[labelSnapshotImage], DevstackVersion: labels[labelSnapshotDevstack], Schema: labels[labelSnapshotSchema], SizeBytes: -1}}
	s.Created, _ = time.Parse(time.RFC3339, labels[stack.LabelCreated])
	s.pinned = stack.PinnedFrom(labels)
	s.volumes = snapshotVolumesOf(s.Project, s.Name)
	return s
}

// findSnapshot returns the project's snapshot name, or nil when none of its
// volumes exists. A volume with one of its names that devstack did not make
// as part of it is a clash: bad input.
func (e *Engine) findSnapshot(ctx context.Context, project, name string) (*snapshot, error) {
	found := &snapshot{SnapshotInfo: SnapshotInfo{Name: name, Project: project, SizeBytes: -1}, volumes: snapshotVolumesOf(project, name)}
	names := map[string]string{partRecord: recordOf(project, name)}
	maps.Copy(names, found.volumes)
	for _, part := range append([]string{partRecord}, snapshotParts...) {
		v, err := e.Docker.Volume(ctx, names[part])
		if engine.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if v.Labels[LabelSnapshot] != name || v.Labels[LabelSnapshotOf] != project || v.Labels[stack.LabelService] != part {
			return nil, fault.Usage("name taken by a volume that is not part of snapshot %s of project %s: %s; remove or rename it, or choose another snapshot name", name, project, names[part])
		}
		if part == partRecord {
			found = snapshotFrom(v.Labels)
		}
		found.present = append(found.present, v.Name)
	}
	if len(found.present) == 0 {
		return nil, nil
	}
	found.Complete = len(found.present) == 1+len(snapshotParts) && found.present[0] == names[partRecord]
	return found, nil
}

// noSnapshot is the error for a snapshot name that has none.
func noSnapshot(project, name string) error {
	return fault.Usage("project %s has no snapshot %s (`devstack snapshot ls` lists them)", project, name)
}

// List returns the snapshots of cfg's project, or of every project
// with all, oldest first.
func (e *Engine) List(ctx context.Context, cfg config.Config, all bool) ([]SnapshotInfo, error) {
	filters := []string{LabelSnapshot}
	if !all {
		filters = append(filters, LabelSnapshotOf+"="+cfg.Project)
	}
	vs, err := e.Docker.Volumes(ctx, filters...)
	if err != nil {
		return nil, err
	}
	sizes, _ := e.Docker.VolumeSizes(ctx)
	byName := map[string]*snapshot{}
	for _, v := range vs {
		key := v.Labels[LabelSnapshotOf] + "." + v.Labels[LabelSnapshot]
		s := byName[key]
		if s == nil {
			s = &snapshot{SnapshotInfo: SnapshotInfo{Name: v.Labels[LabelSnapshot], Project: v.Labels[LabelSnapshotOf], SizeBytes: -1}}
			byName[key] = s
		}
		if v.Labels[stack.LabelService] == partRecord {
			present := s.present
			*s = *snapshotFrom(v.Labels)
			s.present, s.Complete = present, true
		}
		s.present = append(s.present, v.Name)
	}
	out := []SnapshotInfo{}
	for _, s := range byName {
		s.Complete = s.Complete && len(s.present) == 1+len(snapshotParts)
		s.SizeBytes = sizeOf(sizes, s.present)
		out = append(out, s.SnapshotInfo)
	}
	slices.SortFunc(out, func(a, b SnapshotInfo) int {
		return cmp.Or(strings.Compare(a.Project, b.Project), a.Created.Compare(b.Created), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// sizeOf sums the volumes' sizes; -1 when one is unknown.
func sizeOf(sizes map[string]int64, volumes []string) int64 {
	var total int64
	for _, v := range volumes {
		size, ok := sizes[v]
		if !ok {
			return -1
		}
		total += size
	}
	return total
}

// Remove removes one of the project's snapshots and returns its
// volumes. A restore of it that was cut short is finished first: it needs
// the snapshot.
func (e *Engine) Remove(ctx context.Context, cfg config.Config, name string, progress event.Sink) ([]string, error) {
	if err := ValidateSnapshotName(name); err != nil {
		return nil, err
	}
	unlock, err := e.LockSettled(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s, err := e.findSnapshot(ctx, cfg.Project, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, noSnapshot(cfg.Project, name)
	}
	return s.present, e.removeSnapshot(ctx, s)
}

// removeSnapshot removes what exists of a snapshot's volumes, its record
// first: a snapshot cut short in its removal is incomplete, never complete
// with a volume missing.
func (e *Engine) removeSnapshot(ctx context.Context, s *snapshot) error {
	// A copy cut short (a killed save, export or import) still mounts them.
	n := stack.NamesFor(s.Project)
	for _, leftover := range []string{n.Copy, n.Probe} {
		if err := e.RemoveLeftover(ctx, leftover, s.Project); err != nil {
			return err
		}
	}
	for _, v := range s.present {
		if err := e.Docker.RemoveVolume(ctx, v); err != nil && !engine.IsNotFound(err) {
			return fault.Env(err, "%v, of snapshot %s", err, s.Name)
		}
	}
	return nil
}

// makeSnapshotVolumes creates a snapshot's data volumes, labelled.
func (e *Engine) makeSnapshotVolumes(ctx context.Context, s *snapshot) error {
	for _, part := range snapshotParts {
		if err := e.Docker.CreateVolume(ctx, docker.Volume{Name: s.volumes[part], Labels: s.labels(part)}); err != nil {
			return err
		}
		s.present = append(s.present, s.volumes[part])
	}
	return nil
}

// recordSnapshot makes a snapshot's record, which says it is complete, once
// its data volumes hold what they should.
func (e *Engine) recordSnapshot(ctx context.Context, s *snapshot) error {
	record := recordOf(s.Project, s.Name)
	if err := e.Docker.CreateVolume(ctx, docker.Volume{Name: record, Labels: s.labels(partRecord)}); err != nil {
		return err
	}
	s.present = append([]string{record}, s.present...)
	s.Complete = true
	return nil
}

// describe is how a snapshot names its MySQL server in messages.
func describe(flavour, version string) string {
	if flavour == "mariadb" {
		return "MariaDB " + version
	}
	return "MySQL " + version
}

// compatible refuses a snapshot whose data a server of another flavour or
// major.minor version would have to open: image IDs are not compared, since
// stand-in images built on two machines differ.
func (s *snapshot) compatible(image, flavour, version string) error {
	if s.Flavour == flavour && s.MySQLVersion == version {
		return nil
	}
	return fault.Usage("snapshot %s was made with %s, and this stack's image %s runs %s: a data directory opens only on the same flavour and major.minor version; set mysql.image (DEVSTACK_MYSQL_IMAGE) to a %s image to use it",
		s.Name, describe(s.Flavour, s.MySQLVersion), image, describe(flavour, version), describe(s.Flavour, s.MySQLVersion))
}

func (s *snapshot) String() string {
	return fmt.Sprintf("%s (%s, saved %s)", s.Name, describe(s.Flavour, s.MySQLVersion), s.Created.Local().Format(time.DateTime))
}
