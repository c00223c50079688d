package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/lock"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// A seeded template is a MySQL data directory as a first up leaves it:
// initialised, set up and seeded, then shut down cleanly. A cold up starts
// from a copy of one instead of initialising and seeding again. A template
// is a volume of its own that outlives every stack, so it never carries
// io.devstack.project; it carries io.devstack.template=<key>, where the key
// is a digest of everything its content depends on (the image, the set-up
// and schema versions, the fixtures).
//
// It holds no stack's secret or identity: it is built by a throw-away
// server of its own, with passwords of its own that each stack replaces on
// its copy at its first start, and a placeholder pipeline UUID that each
// stack replaces with its own. The server's own UUID (auto.cnf) and
// generated keys are deleted; a server makes new ones.

const (
	LabelTemplate = "io.devstack.template"
	// labelTemplateImageID lets prune find templates whose image is gone.
	labelTemplateImageID = "io.devstack.template-image-id"
	labelTemplateImage   = "io.devstack.template-image"
	// LabelTemplateRootPassword is a template's root password, on the
	// template and on a stack's data volume made from it (the template up
	// planned to make, or the one it found): a stack whose up was cut short
	// before it got its own passwords logs in with it on the next up.
	LabelTemplateRootPassword = "io.devstack.template-root-password"
	// LabelFromTemplate, on a stack's data volume, names the template it
	// was copied from: an up cut short before the copy got the stack's own
	// passwords logs in with the template's.
	LabelFromTemplate = "io.devstack.from-template"
)

// templateFormat is the version of how templates are made; a change makes
// new ones.
const templateFormat = 4

// TemplateUUID is the pipeline UUID a template is seeded with; each stack's
// copy gets its own.
const TemplateUUID = "00000000-0000-4000-8000-000000000000"

// templateDone is the file written into a template last: a template
// without it is half made and never used.
const templateDone = ".devstack-template-complete"

// TemplateVolume is the name of the template volume of key.
func TemplateVolume(key string) string { return "devstack-template-" + key }

// templateKey is the digest of what a template's content depends on. The
// server's options are part of it: the template's files are what the
// stacks' servers make (the redo log's size), and its builder is where
// devstack watches the image's entrypoint start a server with them.
func templateKey(imageID string, cfg config.Config, fx *seed.Fixtures) string {
	h := sha256.New()
	fmt.Fprintf(h, "format %d\nimage %s\nbootstrap %d\nschema %s\nseed %s\nuser %s\n",
		templateFormat, imageID, setup.BootstrapVersion, cfg.Schema, fx.SeedDigest(), stack.AppUser)
	for _, a := range config.ServerArgs(cfg.MySQL.ServerOptions) {
		fmt.Fprintf(h, "option %q\n", a)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Template is a template found on the engine, or one to be made (build).
type Template struct {
	Key          string
	Volume       string
	RootPassword string
	Created      time.Time
	// Build: none was found; ImageID is what it is made for.
	Build   bool
	ImageID string
}

func templateBuilder(key string) string { return TemplateVolume(key) + "-build" }

// FindTemplate returns the template with key, or nil: one whose builder is
// gone, which finished it or died. The copy tells which (the done file),
// and a half-made one is made again.
func (e *Engine) FindTemplate(ctx context.Context, key string) (*Template, error) {
	v, err := e.Docker.Volume(ctx, TemplateVolume(key))
	if engine.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if v.Labels[LabelTemplate] != key {
		return nil, nil
	}
	if _, err := e.Docker.Inspect(ctx, templateBuilder(key)); err == nil {
		return nil, nil // being built, or its builder died
	}
	created, _ := time.Parse(time.RFC3339, v.Labels[stack.LabelCreated])
	return &Template{Key: key, Volume: v.Name, RootPassword: v.Labels[LabelTemplateRootPassword], Created: created, ImageID: v.Labels[labelTemplateImageID]}, nil
}

// BuildTemplate makes the template with key, unless another process has
// made it meanwhile: a throw-away MySQL server on its own volume is set up
// and seeded as a first up would, shut down cleanly, stripped of its
// identity, and marked complete last. One process at a time builds a given
// template (a lock per key); a half-made one is removed and made again.
func (e *Engine) BuildTemplate(ctx context.Context, cfg config.Config, fx *seed.Fixtures, want *Template, progress event.Sink) (*Template, error) {
	unlock, err := LockTemplate(ctx, want.Key, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if t, err := e.FindTemplate(ctx, want.Key); t != nil || err != nil {
		return t, err
	}
	return e.BuildLocked(ctx, cfg, fx, want, progress)
}

// LockTemplate makes this process the one that builds or removes a
// template.
func LockTemplate(ctx context.Context, key string, progress event.Sink) (func(), error) {
	return lock.Project(ctx, "template-"+key, progress)
}

// BuildLocked is BuildTemplate for a caller that holds the template's lock.
func (e *Engine) BuildLocked(ctx context.Context, cfg config.Config, fx *seed.Fixtures, want *Template, progress event.Sink) (*Template, error) {
	key := want.Key
	if err := e.removeTemplate(ctx, key); err != nil {
		return nil, err
	}
	progress.Step("mysql", "making seeded template %s (once for this image and these fixtures)", TemplateVolume(key))
	b := newBuild(e, cfg, fx, want, progress)
	if err := b.run(ctx); err != nil {
		if rerr := e.removeTemplate(context.WithoutCancel(ctx), key); rerr == nil {
			var cf *engine.ContainerFailed
			if errors.As(err, &cf) {
				cf.Removed = true
			}
		}
		return nil, err
	}
	return &Template{Key: key, Volume: TemplateVolume(key), RootPassword: b.root, Created: b.created, ImageID: want.ImageID}, nil
}

// TemplateFor finds the template a new data volume would start from, or
// plans to make it.
func (e *Engine) TemplateFor(ctx context.Context, cfg config.Config, fx *seed.Fixtures) (*Template, error) {
	if err := e.EnsureImage(ctx, cfg.MySQL.Image, "DEVSTACK_MYSQL_IMAGE"); err != nil {
		return nil, err
	}
	img, err := e.Docker.Image(ctx, cfg.MySQL.Image)
	if err != nil {
		return nil, err
	}
	key := templateKey(img.ID, cfg, fx)
	t, err := e.FindTemplate(ctx, key)
	if t == nil && err == nil {
		t = &Template{Key: key, Volume: TemplateVolume(key), Build: true, ImageID: img.ID, RootPassword: stack.NewSecret()}
	}
	return t, err
}

// timeZones loads the time zone tables from the image's zoneinfo, as the
// official images do at a first start: Django's date lookups in a time zone
// need them, and RDS has them. MariaDB's tables take some 9,000 statements,
// which cost 0.9 s one round trip each and 0.5 s as one batch (a delimiter
// that never comes): one batch where the server takes a packet that large,
// else one statement at a time (the tables are emptied first).
const timeZones = `set -e
tz=$(command -v mariadb-tzinfo-to-sql || command -v mysql_tzinfo_to_sql)
client=$(command -v mariadb || command -v mysql)
zones() { "$tz" /usr/share/zoneinfo 2>/dev/null | sed 's/Local time zone must be set--see zic manual page/FCTY/'; }
load() { "$client" --protocol=socket -uroot mysql; }
{ echo 'DELIMITER ;;;;'; zones; } | load 2>/dev/null || zones | load`

// templateBuild is one template being made.
type templateBuild struct {
	e         *Engine
	cfg       config.Config
	seeder    *seed.Seeder // its fixtures: seeder.F
	key       string
	root, app string // the template's own passwords
	created   time.Time
	imageID   string
	progress  event.Sink
}

// newBuild begins making want's template: its own passwords, and the
// fixtures' password hashes made from the start, beside the server's
// initialisation.
func newBuild(e *Engine, cfg config.Config, fx *seed.Fixtures, want *Template, progress event.Sink) *templateBuild {
	b := &templateBuild{e: e, cfg: cfg, seeder: seed.NewSeeder(fx), key: want.Key, root: cmp.Or(want.RootPassword, stack.NewSecret()), app: stack.NewSecret(), created: want.Created, imageID: want.ImageID, progress: progress}
	b.seeder.Prehash()
	return b
}

// step reports a part of the build that is done, and how long it took.
func (b *templateBuild) step(t0 time.Time, what string) time.Time {
	took := time.Since(t0)
	b.progress.Timed("mysql", took, "template: %s in %.1fs", what, took.Seconds())
	return time.Now()
}

// owner are the labels of what makes the template: the template's key,
// and this process, so that one whose maker died is known.
func (b *templateBuild) owner() map[string]string {
	return map[string]string{LabelTemplate: b.key, stack.LabelService: stack.PartHelper, stack.LabelOwner: stack.Lifetime{}.Owner(), stack.LabelCreated: b.created.Format(time.RFC3339)}
}

// createVolume makes the template's volume, labelled with what finds it
// and logs in to its copies.
func (b *templateBuild) createVolume(ctx context.Context) error {
	labels := map[string]string{LabelTemplate: b.key, labelTemplateImageID: b.imageID, labelTemplateImage: b.cfg.MySQL.Image,
		stack.LabelCreated: b.created.Format(time.RFC3339), LabelTemplateRootPassword: b.root}
	return b.e.Docker.CreateVolume(ctx, docker.Volume{Name: TemplateVolume(b.key), Labels: labels})
}

func (b *templateBuild) run(ctx context.Context) error {
	e, name := b.e, templateBuilder(b.key)
	img, err := e.Docker.Image(ctx, b.imageID)
	if err != nil {
		return err
	}
	if err := b.createVolume(ctx); err != nil {
		return err
	}
	owner := b.owner()
	t0 := time.Now()
	if err := e.OwnDataVolume(ctx, img, b.cfg.MySQL.Image, TemplateVolume(b.key), name, owner); err != nil {
		return err
	}
	port, err := engine.FreeLocalPort()
	if err != nil {
		return fault.Env(err, "cannot find a free port: %v", err)
	}
	// The image's own entrypoint initialises the data directory, as at any
	// first start: root gets the template's own password, for any host
	// where the image takes MYSQL_ROOT_HOST; the app user its own. The time
	// zones are loaded while the schema loads, where the image lets devstack
	// skip them (MYSQL_INITDB_SKIP_TZINFO, MARIADB_ in MariaDB's words).
	// CAP_SYS_PTRACE lets devstack read the environment the entrypoint handed
	// the server, which a server that switched users itself keeps from
	// everybody else.
	spec := docker.ContainerSpec{Name: name, Image: b.cfg.MySQL.Image,
		Env: map[string]string{"MYSQL_ROOT_PASSWORD": b.root, "MYSQL_ROOT_HOST": "%", "MYSQL_USER": stack.AppUser, "MYSQL_PASSWORD": b.app,
			"MYSQL_INITDB_SKIP_TZINFO": "1", "MARIADB_INITDB_SKIP_TZINFO": "1"},
		Cmd:    config.ServerArgs(b.cfg.MySQL.ServerOptions),
		Labels: owner,
		Mounts: []docker.Mount{{Volume: TemplateVolume(b.key), Target: "/var/lib/mysql"}},
		Ports:  stack.Publish(b.cfg, stack.MySQLContainerPort, port),
		CapAdd: []string{"SYS_PTRACE"}}
	if spec, _, err = e.ServerSpec(ctx, spec, false); err != nil {
		return err
	}
	if err := e.Docker.RunService(ctx, spec); err != nil {
		if perr := engine.PublishFailed(config.ServiceMySQL, spec.Ports[0], err); perr != nil {
			return perr
		}
		return fault.Env(err, "%v, to make the template", err)
	}
	if err := e.Tunnels.Forward(ctx, port); err != nil {
		return err
	}
	root, err := e.templateRoot(ctx, name, b.cfg.Host, port, b.root, b.progress)
	if err != nil {
		return err
	}
	defer root.Close()
	t0 = b.step(t0, "the image's entrypoint initialised a new server")
	if err := b.prepare(ctx, root, name, directStartKey(img.ID, spec.Cmd), []string{b.root, b.app}); err != nil {
		return err
	}
	t0 = b.step(t0, "set up, schema loaded and seeded")
	// The server's identity and keys stay out of the template: every copy's
	// server makes its own.
	if _, err := (engine.InContainer{Docker: e.Docker, Name: name}).Exec(ctx, "sh", "-c", "cd /var/lib/mysql && rm -f "+identityFiles); err != nil {
		return err
	}
	// Connections still open hold the server's shutdown up by seconds.
	root.Close()
	if err := e.Docker.Stop(ctx, name, CleanStop); err != nil {
		return err
	}
	b.step(t0, "server stopped")
	if err := e.Docker.CopyTo(ctx, name, "/var/lib/mysql", markerFile(templateDone, b.created)); err != nil {
		return fault.Env(err, "%v, to mark template %s complete", err, TemplateVolume(b.key))
	}
	return e.RemoveContainer(ctx, name)
}

// templateRoot waits for the builder's server to let root in over its
// published port. An image that makes root only for localhost (it takes no
// MYSQL_ROOT_HOST) answers, once its server runs, with "access denied" or
// "host not allowed": root is then given to any host through the server's
// socket, inside the container.
func (e *Engine) templateRoot(ctx context.Context, name, host string, port int, password string, progress event.Sink) (*sql.DB, error) {
	root := setup.OpenMySQL(host, port, "root", password, "")
	var tried time.Time
	err := engine.Poll(ctx, 180*time.Second, "MySQL ("+name+")", func(ctx context.Context) error {
		err := root.PingContext(ctx)
		if err == nil {
			return nil
		}
		if aerr := e.Alive(ctx, name, 0); aerr != nil {
			return aerr
		}
		if setup.IsAccessDenied(err) && time.Since(tried) > time.Second {
			tried = time.Now()
			if serr := rootForAnyHost(ctx, engine.InContainer{Docker: e.Docker, Name: name}, password); serr != nil {
				return fmt.Errorf("%w; through the server's socket: %v", err, serr)
			}
			progress.Step("mysql", "template: the image made root for localhost alone; root may log in from any host now (through the server's socket)")
			return root.PingContext(ctx)
		}
		return err
	})
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// rootForAnyHost gives root@'%' root@localhost's password and privileges,
// with the image's own client on the server's socket.
func rootForAnyHost(ctx context.Context, c engine.InContainer, password string) error {
	sql := "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '" + password + "';\nGRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;\n"
	var out strings.Builder
	code, err := c.Docker.Exec(ctx, c.Name, docker.Exec{
		Cmd: []string{"sh", "-c", `exec "$(command -v mariadb || command -v mysql)" --protocol=socket -uroot`},
		Env: []string{"MYSQL_PWD=" + password}, Stdin: strings.NewReader(sql), Stdout: &out, Stderr: &out})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("the image's client exited with code %d: %s", code, strings.TrimSpace(out.String()))
	}
	return nil
}

// prepare makes a server that the image's entrypoint started a template's:
// what the entrypoint did to start it (the direct start of key, where none
// is known yet) and the time zones are read and loaded while the set-up
// fills MCP and SS. secrets are the passwords the container was given.
func (b *templateBuild) prepare(ctx context.Context, root *sql.DB, name, key string, secrets []string) error {
	return engine.Parallel(ctx, func(ctx context.Context) error {
		if err := b.watch(ctx, name, key, secrets); err != nil {
			return err
		}
		return b.timeZones(ctx, name)
	}, func(ctx context.Context) error { return b.setUp(ctx, root) })
}

// watch works out, once per image and options, how to start the server
// without the entrypoint (serverstart.go), from a container that the
// entrypoint started.
func (b *templateBuild) watch(ctx context.Context, name, key string, secrets []string) error {
	if _, ok := b.e.findDirectStart(ctx, key); ok {
		return nil
	}
	d, err := b.e.watchEntrypoint(ctx, name, secrets)
	if err != nil {
		return err
	}
	if d.Why != "" {
		b.progress.Step("mysql", "template: the image's entrypoint starts every server: %s", d.Why)
	}
	return b.e.KeepDirectStart(ctx, key, b.imageID, d)
}

// timeZones loads the time zone tables, which the image was asked to skip.
// An image without the tools is said to be so, not failed: its server runs
// without named time zones, as it would under compose with that variable.
func (b *templateBuild) timeZones(ctx context.Context, name string) error {
	var out strings.Builder
	code, err := b.e.Docker.Exec(ctx, name, docker.Exec{Cmd: []string{"sh", "-c", timeZones}, Env: []string{"MYSQL_PWD=" + b.root}, Stdout: &out, Stderr: &out})
	if err != nil {
		return fault.Env(err, "%v, to load the time zones", err)
	}
	if code != 0 {
		b.progress.Step("mysql", "template: time zones not loaded (exit code %d): %s", code, engine.LastLine(out.String()))
	}
	return nil
}

// setUp does to the template's server what a first up does: databases, app
// user, schema, seed (with a placeholder pipeline UUID), the state a reset
// returns to, and the set-up marker, last.
func (b *templateBuild) setUp(ctx context.Context, root *sql.DB) error {
	f, err := setup.ReadFlavour(ctx, root)
	if err != nil {
		return fault.Env(err, "cannot read the MySQL version: %v", err)
	}
	if err := setup.Bootstrap(ctx, root, f, b.app); err != nil {
		return fault.Env(err, "%v", err)
	}
	if err := setup.PruneAccounts(ctx, root); err != nil {
		return fault.Env(err, "cannot drop the image's other root accounts from the template: %v", err)
	}
	if _, err := seeding.MySQL(ctx, b.cfg, root, b.seeder, stack.Pinned{DashboardUUID: TemplateUUID, Created: b.created}); err != nil && !errors.Is(err, seeding.ErrNoAppTables) {
		return err
	}
	if b.cfg.Schema == config.SchemaBuiltin {
		if err := setup.RecordBaseline(ctx, root, b.seeder.F.Schema); err != nil {
			return fault.Env(err, "cannot record the seeded state: %v", err)
		}
	}
	if err := setup.MarkBootstrapped(ctx, root); err != nil {
		return fault.Env(err, "cannot record MySQL set-up: %v", err)
	}
	return nil
}

// removeTemplate removes a template and its builder, if they exist.
// What holds the template goes first: its builder, and the copy into it
// that a making in place left (both carry its label). The marker of a
// making in place holds nothing and goes last, so that a template that
// cannot go yet is still known as half made.
func (e *Engine) removeTemplate(ctx context.Context, key string) error {
	cs, err := e.Docker.Containers(ctx, LabelTemplate+"="+key)
	if err != nil {
		return err
	}
	var marker string
	for _, c := range cs {
		if c.Name == templateBuilder(key) && len(c.Volumes) == 0 {
			marker = c.ID
			continue
		}
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			return err
		}
	}
	if err := e.Docker.RemoveVolume(ctx, TemplateVolume(key)); err != nil && !engine.IsNotFound(err) {
		return err
	}
	if marker != "" {
		return e.RemoveContainer(ctx, marker)
	}
	return nil
}

// CopyTemplate fills a stack's new data volume from a template, by a
// short-lived container of the stack. The volume is emptied first: a copy
// that was cut short is done again.
// started is called once the copy's container has started.
func (e *Engine) CopyTemplate(ctx context.Context, t *Template, n stack.Names, image string, life stack.Lifetime, started func()) error {
	return e.CopyVolumes(ctx, VolumeCopy{Name: n.TemplateCopy, Labels: life.Labels(n.Project, stack.PartHelper), Image: image,
		Pairs: []VolumePair{{From: t.Volume, To: n.MySQLData}}, need: templateDone, started: started})
}

// TemplateInfo is one seeded template, as `devstack ls` shows it; its JSON
// shape is a contract (docs/architecture.md).
type TemplateInfo struct {
	Volume  string    `json:"volume"`
	Image   string    `json:"image"`
	Created time.Time `json:"created"`
	// SizeBytes is the volume's disk usage, -1 when the engine cannot tell.
	SizeBytes int64 `json:"size_bytes"`
	// ImagePresent is false once the image it was made from is gone: prune
	// removes it then.
	ImagePresent bool `json:"image_present"`
	// Building is true while its builder container exists (or after the
	// builder died, until a prune or the next up).
	Building bool `json:"building"`
}

// ListTemplates returns the seeded templates on the engine.
func (e *Engine) ListTemplates(ctx context.Context) ([]TemplateInfo, error) {
	vs, err := e.Docker.Volumes(ctx, LabelTemplate)
	if err != nil {
		return nil, err
	}
	sizes, _ := e.Docker.VolumeSizes(ctx)
	out := []TemplateInfo{}
	for _, v := range vs {
		key := v.Labels[LabelTemplate]
		t := TemplateInfo{Volume: v.Name, Image: v.Labels[labelTemplateImage], SizeBytes: -1}
		t.Created, _ = time.Parse(time.RFC3339, v.Labels[stack.LabelCreated])
		if size, ok := sizes[v.Name]; ok {
			t.SizeBytes = size
		}
		img, err := e.Docker.Image(ctx, v.Labels[labelTemplateImageID])
		t.ImagePresent = err == nil && img.ID != ""
		_, err = e.Docker.Inspect(ctx, templateBuilder(key))
		t.Building = err == nil
		out = append(out, t)
	}
	return out, nil
}

// PruneTemplates removes templates: all of them, or those whose image is
// gone and those whose builder died half way. One being built or copied
// stays. It returns the volumes removed.
func (e *Engine) PruneTemplates(ctx context.Context, all bool, progress event.Sink) ([]string, error) {
	vs, err := e.Docker.Volumes(ctx, LabelTemplate)
	if err != nil {
		return nil, err
	}
	removed := []string{}
	var first error
	for _, v := range vs {
		key := v.Labels[LabelTemplate]
		img, ierr := e.Docker.Image(ctx, v.Labels[labelTemplateImageID])
		gone := ierr != nil || img.ID == ""
		builder, berr := e.Docker.Inspect(ctx, templateBuilder(key))
		died := berr == nil && !stack.OwnerAlive(builder.Labels[stack.LabelOwner])
		if !all && !gone && !died {
			continue
		}
		done, err := e.pruneTemplate(ctx, key, progress)
		if err != nil && first == nil {
			first = err
		}
		if done {
			removed = append(removed, v.Name)
		}
	}
	starts, err := e.pruneDirectStarts(ctx, all, progress)
	return append(removed, starts...), cmp.Or(first, err)
}

// pruneTemplate removes one template under its lock, which its builder
// holds and every up that finds it half-made takes: another prune (several
// test harnesses start at once) or a live build is left alone.
func (e *Engine) pruneTemplate(ctx context.Context, key string, progress event.Sink) (bool, error) {
	name := TemplateVolume(key)
	unlock, err := lock.TryProject("template-" + key)
	if unlock == nil {
		if err == nil {
			progress.Note("leaving template %s: another devstack is making or removing it", name)
		}
		return false, err
	}
	defer unlock()
	if _, err := e.Docker.Volume(ctx, name); engine.IsNotFound(err) {
		return false, nil
	}
	progress.Note("removing template %s", name)
	err = e.removeTemplate(ctx, key)
	if errors.Is(err, docker.ErrInUse) {
		progress.Note("leaving template %s: a stack is being copied from it", name)
		return false, nil
	}
	return err == nil, err
}
