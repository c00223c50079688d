package server

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// A template made in place: a first cold up that has no template to copy
// makes one from the stack's own first server, instead of from a builder of
// its own. The stack's container starts on its new, empty data volume
// through the image's entrypoint, as compose would start it, and devstack
// makes that server a template's (the template's passwords, the
// placeholder UUID, the set-up and the seed). The template is then taken
// from the running server: MySQL (8.0.17 and later) clones itself, with
// CLONE LOCAL, into a volume of the stack's own, which a short-lived
// container copies into the template's volume. A server that cannot clone
// itself (MariaDB; a MySQL without its clone plugin) is stopped cleanly and
// its data directory copied, and the stack's container is made again. The
// stack then adopts its server as a cold up from a template does (its own
// passwords and UUID).
//
// Where a builder cost a second server's clean stop, a copy into the
// stack's volume and the stack's own server's start after it (some 2.5 s
// for MySQL 9.7), a clone costs a few tenths of a second, and the server
// that answers is the stack's.

// CloneMount is where a stack's first server mounts the volume it clones
// itself into: a folder of its own, which no image has, so that the
// entrypoint's changes to the container's files (which a direct start
// repeats) do not include it.
const CloneMount = "/devstack-clone"

// cloneData is the folder CLONE LOCAL makes in the clone volume: it must
// not exist before.
const cloneData = "data"

// InPlace is a template being made from a stack's own first server; the
// template's lock is held until End.
type InPlace struct {
	b      *templateBuild
	unlock func()
	// clone is the stack's volume the server clones itself into.
	clone    string
	flavour  setup.Flavour
	canClone bool
	// host and port reach the server.
	host string
	port int
	t0   time.Time
}

// BeginInPlace takes the template's lock and begins making want in place,
// its volume made. When another process has made the template meanwhile,
// it returns that template instead, and no InPlace.
func (e *Engine) BeginInPlace(ctx context.Context, cfg config.Config, fx *seed.Fixtures, want *Template, clone string, progress event.Sink) (*InPlace, *Template, error) {
	unlock, err := LockTemplate(ctx, want.Key, progress)
	if err != nil {
		return nil, nil, err
	}
	ip, t, err := e.beginLocked(ctx, cfg, fx, want, clone, progress)
	if ip == nil {
		unlock()
		return nil, t, err
	}
	ip.unlock = unlock
	return ip, nil, nil
}

func (e *Engine) beginLocked(ctx context.Context, cfg config.Config, fx *seed.Fixtures, want *Template, clone string, progress event.Sink) (*InPlace, *Template, error) {
	if t, err := e.FindTemplate(ctx, want.Key); t != nil || err != nil {
		return nil, t, err
	}
	if err := e.removeTemplate(ctx, want.Key); err != nil {
		return nil, nil, err
	}
	progress.Step("mysql", "making seeded template %s from this stack's first server (once for this image and these fixtures)", TemplateVolume(want.Key))
	b := newBuild(e, cfg, fx, want, progress)
	if err := b.createVolume(ctx); err != nil {
		return nil, nil, err
	}
	return &InPlace{b: b, clone: clone, t0: time.Now()}, nil, nil
}

// Volumes readies the stack's new volumes for its first server: the data
// volume gets the owner of the image's data directory, by a short-lived
// container (copy, with labels), and the clone volume is made (with
// cloneLabels).
func (ip *InPlace) Volumes(ctx context.Context, image, data, copy string, labels, cloneLabels map[string]string) error {
	e := ip.b.e
	img, err := e.Docker.Image(ctx, image)
	if err != nil {
		return err
	}
	if err := e.OwnDataVolume(ctx, img, image, data, copy, labels); err != nil {
		return err
	}
	return e.Docker.CreateVolume(ctx, docker.Volume{Name: ip.clone, Labels: cloneLabels})
}

// Spec is the stack's MySQL container for its first server: it mounts the
// clone volume, tells the entrypoint to leave the time zones to devstack
// (they load beside the set-up), and may read the environment of a server
// that switched users itself (CAP_SYS_PTRACE), to learn its direct start.
// Neither is part of the container's settings: a later up keeps the
// container, and a new one goes without them.
func (ip *InPlace) Spec(s docker.ContainerSpec) docker.ContainerSpec {
	s.Env = maps.Clone(s.Env)
	s.Env["MYSQL_INITDB_SKIP_TZINFO"], s.Env["MARIADB_INITDB_SKIP_TZINFO"] = "1", "1"
	s.Mounts = append(slices.Clone(s.Mounts), docker.Mount{Volume: ip.clone, Target: CloneMount})
	s.CapAdd = append(slices.Clone(s.CapAdd), "SYS_PTRACE")
	return s
}

// Prepare waits for the server the image's entrypoint starts in the stack's
// container name to let root in with password, gives root the template's
// password, and sets the server up and seeds it as a template's; key is
// the direct start the container was made for, secrets the passwords it was
// given. Beside the set-up, it readies the server to clone itself
// (CanClone).
func (ip *InPlace) Prepare(ctx context.Context, name, host string, port int, password, key string, secrets []string) error {
	b := ip.b
	first, err := b.e.templateRoot(ctx, name, host, port, password, b.progress)
	if err != nil {
		return err
	}
	defer first.Close()
	if ip.flavour, err = setup.ReadFlavour(ctx, first); err != nil {
		return fault.Env(err, "cannot read the MySQL version: %v", err)
	}
	if err := setup.RotateRoot(ctx, first, ip.flavour, b.root); err != nil {
		return fault.Env(err, "cannot give root the template's password: %v", err)
	}
	ip.host, ip.port = host, port
	root := ip.root()
	defer root.Close()
	t0 := b.step(ip.t0, "the image's entrypoint initialised the stack's server")
	err = engine.Parallel(ctx,
		func(ctx context.Context) error { return b.prepare(ctx, root, name, key, secrets) },
		func(ctx context.Context) error { return ip.readyToClone(ctx, root, name) })
	if err != nil {
		return err
	}
	ip.t0 = b.step(t0, "set up, schema loaded and seeded")
	return nil
}

// root logs in as root with the template's password.
func (ip *InPlace) root() *sql.DB { return setup.OpenMySQL(ip.host, ip.port, "root", ip.b.root, "") }

// readyToClone loads the server's clone plugin, where it has one, and
// gives the clone volume to the server's user, who makes the clone's
// folder in it. A server without the plugin is said to be so.
func (ip *InPlace) readyToClone(ctx context.Context, root *sql.DB, name string) error {
	if ip.flavour.MariaDB() {
		return nil
	}
	var loaded int
	if err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone' AND PLUGIN_STATUS = 'ACTIVE'").Scan(&loaded); err != nil {
		return fault.Env(err, "cannot read the server's plugins: %v", err)
	}
	if loaded == 0 {
		if _, err := root.ExecContext(ctx, "INSTALL PLUGIN clone SONAME 'mysql_clone.so'"); err != nil {
			ip.b.progress.Step("mysql", "template: the server cannot clone itself (%v); it will be stopped to copy its data", err)
			return nil
		}
	}
	if _, err := (engine.InContainer{Docker: ip.b.e.Docker, Name: name}).ExecAs(ctx, stack.RootUser, "sh", "-c", `chown "$(stat -c %u:%g /var/lib/mysql)" `+CloneMount); err != nil {
		return err
	}
	ip.canClone = true
	return nil
}

// CanClone reports whether the prepared server can clone itself: Take
// makes the template then; else the caller stops the server and calls
// CopyStopped.
func (ip *InPlace) CanClone() bool { return ip.canClone }

// Take makes the template from the running server: it clones itself into
// the clone volume while a short-lived container (copy, with labels)
// starts, which then copies the clone into the template's volume and marks
// it complete. It returns once the clone is made, from when the server may
// change; finish waits for the copy, and ends the making.
func (ip *InPlace) Take(ctx context.Context, image, copy string, labels map[string]string) (finish func() error, err error) {
	b := ip.b
	cloned, copied := make(chan struct{}), make(chan error, 1)
	clone := func(ctx context.Context) error {
		root := ip.root()
		defer root.Close()
		if _, err := root.ExecContext(ctx, "CLONE LOCAL DATA DIRECTORY = ?", CloneMount+"/"+cloneData); err != nil {
			return fault.Env(err, "cannot clone the server into %s: %v", ip.clone, err)
		}
		ip.t0 = b.step(ip.t0, "cloned")
		close(cloned)
		return nil
	}
	go func() {
		err := b.e.CopyVolumes(ctx, VolumeCopy{Name: copy, Labels: labels, Image: image, Strip: true, mark: templateDone, Stop: clone,
			Pairs: []VolumePair{{From: ip.clone, Sub: cloneData, Drain: true, To: TemplateVolume(b.key)}}})
		if err == nil {
			b.step(ip.t0, "the clone copied into its volume")
		}
		ip.End(ctx, err)
		copied <- err
	}()
	finish = sync.OnceValue(func() error { return <-copied })
	select {
	case <-cloned:
		return finish, nil
	case <-copied:
		return nil, finish()
	}
}

// CopyStopped makes the template from the stack's data volume, by a
// short-lived container (copy, with labels) that starts while stop stops
// the server cleanly, and copies once it has.
func (ip *InPlace) CopyStopped(ctx context.Context, data, image, copy string, labels map[string]string, stop func(context.Context) error) error {
	b := ip.b
	err := b.e.CopyVolumes(ctx, VolumeCopy{Name: copy, Labels: labels, Image: image, Strip: true, mark: templateDone, Stop: stop,
		Pairs: []VolumePair{{From: data, To: TemplateVolume(b.key)}}})
	if err == nil {
		b.step(ip.t0, "server stopped and copied")
	}
	return err
}

// Template is the template made.
func (ip *InPlace) Template() *Template {
	b := ip.b
	return &Template{Key: b.key, Volume: TemplateVolume(b.key), RootPassword: b.root, Created: b.created, ImageID: b.imageID}
}

// End releases the template's lock; a template that failed (err) is
// removed.
func (ip *InPlace) End(ctx context.Context, err error) {
	if err != nil {
		_ = ip.b.e.removeTemplate(context.WithoutCancel(ctx), ip.b.key)
	}
	ip.unlock()
}
