package server

import (
	"cmp"
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
// itself (MariaDB; a MySQL without its clone plugin) is stopped cleanly,
// its data directory copied, and started again. The
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
// template's lock is held until it is finished.
type InPlace struct {
	b      *templateBuild
	n      stack.Names
	labels map[string]string // the short-lived containers'
	unlock func()
	// host and port reach the server; flavour is what it is.
	host    string
	port    int
	flavour setup.Flavour
	t0      time.Time
	// The copy into the template's volume starts while the server is set
	// up, and copies once it is ready: when prepared is closed, unless
	// failed says the set-up failed. cloned is closed once the server has
	// cloned itself; copied carries how the copy went.
	copying  bool
	canClone bool
	prepared chan struct{}
	failed   error
	late     error // a failure after the set-up
	cloned   chan struct{}
	copied   chan error
	finish   func() error
}

// BeginInPlace takes the template's lock and begins making want in place,
// from the stack named n, its volume made; labels are those of the
// stack's short-lived containers. When another process has made the
// template meanwhile, it returns that template instead, and no InPlace.
func (e *Engine) BeginInPlace(ctx context.Context, cfg config.Config, fx *seed.Fixtures, want *Template, n stack.Names, labels map[string]string, progress event.Sink) (*InPlace, *Template, error) {
	unlock, err := LockTemplate(ctx, want.Key, progress)
	if err != nil {
		return nil, nil, err
	}
	if t, err := e.FindTemplate(ctx, want.Key); t != nil || err != nil {
		unlock()
		return nil, t, err
	}
	ip := &InPlace{n: n, labels: labels, unlock: unlock, prepared: make(chan struct{}), cloned: make(chan struct{}), copied: make(chan error, 1)}
	ip.finish = sync.OnceValue(ip.end)
	if err := e.removeTemplate(ctx, want.Key); err != nil {
		unlock()
		return nil, nil, err
	}
	progress.Step("mysql", "making seeded template %s from this stack's first server (once for this image and these fixtures)", TemplateVolume(want.Key))
	ip.b = newBuild(e, cfg, fx, want, progress)
	if err := ip.b.createVolume(ctx); err != nil {
		return nil, nil, ip.Fail(ctx, err)
	}
	// While the template is made, a container that never starts holds the
	// builder's name, owned by this process: others see the template being
	// built, and a prune removes one whose maker died.
	marker := docker.ContainerSpec{Name: templateBuilder(want.Key), Image: cfg.MySQL.Image, Labels: ip.b.owner(), Network: docker.NoNetwork, Entrypoint: []string{"true"}}
	if err := e.Docker.Create(ctx, marker); err != nil {
		return nil, nil, ip.Fail(ctx, err)
	}
	ip.t0 = time.Now()
	return ip, nil, nil
}

// Volumes readies the stack's new volumes for its first server: the data
// volume gets the owner of the image's data directory, and the clone
// volume (with cloneLabels) is made.
func (ip *InPlace) Volumes(ctx context.Context, cloneLabels map[string]string) error {
	e, image := ip.b.e, ip.b.cfg.MySQL.Image
	img, err := e.Docker.Image(ctx, image)
	if err != nil {
		return err
	}
	if err := e.OwnDataVolume(ctx, img, image, ip.n.MySQLData, ip.n.Copy, ip.labels); err != nil {
		return err
	}
	return e.Docker.CreateVolume(ctx, docker.Volume{Name: ip.n.MySQLClone, Labels: cloneLabels})
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
	s.Mounts = append(slices.Clone(s.Mounts), docker.Mount{Volume: ip.n.MySQLClone, Target: CloneMount})
	s.CapAdd = append(slices.Clone(s.CapAdd), "SYS_PTRACE")
	return s
}

// Prepare waits for the server the image's entrypoint starts in the stack's
// container to let root in with password, gives root the template's
// password, and sets the server up and seeds it as a template's; key is
// the direct start the container was made for, secrets the passwords it was
// given. Beside the set-up, the copy into the template's volume starts: of
// a clone, where the server can clone itself, else of the data directory
// once the server is stopped (Taken).
func (ip *InPlace) Prepare(ctx context.Context, host string, port int, password, key string, secrets []string) error {
	b, name := ip.b, ip.n.MySQL
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
	t0 := b.step(ip.t0, "the image's entrypoint initialised the stack's server")
	err = engine.Parallel(ctx,
		func(ctx context.Context) error { return b.prepare(ctx, root, name, key, secrets) },
		func(ctx context.Context) error {
			if err := ip.readyToClone(ctx, root); err != nil {
				return err
			}
			ip.startCopy(ctx)
			return nil
		})
	// Connections still open hold a shutdown up by seconds.
	root.Close()
	first.Close()
	if err != nil {
		ip.failed = err
	} else {
		ip.t0 = b.step(t0, "set up, schema loaded and seeded")
	}
	close(ip.prepared)
	return err
}

// root logs in as root with the template's password.
func (ip *InPlace) root() *sql.DB { return setup.OpenMySQL(ip.host, ip.port, "root", ip.b.root, "") }

// readyToClone loads the server's clone plugin, where it has one, and
// gives the clone volume to the server's user, who makes the clone's
// folder in it. A server without the plugin is said to be so.
func (ip *InPlace) readyToClone(ctx context.Context, root *sql.DB) error {
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
	// A clone a killed up left would be in the way: CLONE makes its folder.
	script := `rm -rf ` + CloneMount + "/" + cloneData + ` && chown "$(stat -c %u:%g /var/lib/mysql)" ` + CloneMount
	if _, err := (engine.InContainer{Docker: ip.b.e.Docker, Name: ip.n.MySQL}).ExecAs(ctx, stack.RootUser, "sh", "-c", script); err != nil {
		return err
	}
	ip.canClone = true
	return nil
}

// startCopy starts the copy into the template's volume: a short-lived
// container that starts while the server is set up, then copies, once the
// server has cloned itself, the clone (which it then removes), or else,
// once the server is stopped cleanly, its data directory.
func (ip *InPlace) startCopy(ctx context.Context) {
	b := ip.b
	pair := VolumePair{From: ip.n.MySQLData, To: TemplateVolume(b.key)}
	if ip.canClone {
		pair = VolumePair{From: ip.n.MySQLClone, Sub: cloneData, Drain: true, To: TemplateVolume(b.key)}
	}
	ready := func(ctx context.Context) error {
		select {
		case <-ip.prepared:
		case <-ctx.Done():
			return ctx.Err()
		}
		if ip.failed != nil {
			return ip.failed
		}
		if !ip.canClone {
			return b.e.Docker.Stop(ctx, ip.n.MySQL, CleanStop)
		}
		root := ip.root()
		defer root.Close()
		if _, err := root.ExecContext(ctx, "CLONE LOCAL DATA DIRECTORY = ?", CloneMount+"/"+cloneData); err != nil {
			return fault.Env(err, "cannot clone the server into %s: %v", ip.n.MySQLClone, err)
		}
		ip.t0 = b.step(ip.t0, "cloned")
		close(ip.cloned)
		return nil
	}
	ip.copying = true
	go func() {
		// The copy carries the template's label too: one a killed making
		// left goes when the template is made again.
		labels := maps.Clone(ip.labels)
		labels[LabelTemplate] = b.key
		err := b.e.CopyVolumes(ctx, VolumeCopy{Name: ip.n.Copy, Labels: labels, Image: b.cfg.MySQL.Image, Strip: true, mark: templateDone, Stop: ready, Pairs: []VolumePair{pair}})
		if err == nil {
			b.step(ip.t0, map[bool]string{true: "the clone copied into its volume", false: "server stopped and copied"}[ip.canClone])
		}
		ip.copied <- err
	}()
}

// CanClone reports whether the prepared server clones itself; else it is
// stopped for a copy of its data.
func (ip *InPlace) CanClone() bool { return ip.canClone }

// Taken waits until the template is taken from the server: it has cloned
// itself, from when it may change, or it is stopped and its data copied.
// The server cannot have changed before. Finish waits for the rest; after
// an error the making is ended, the template removed.
func (ip *InPlace) Taken(ctx context.Context) error {
	select {
	case <-ip.cloned:
		return nil
	case err := <-ip.copied:
		ip.copied <- err
		if err != nil {
			return ip.Fail(ctx, err)
		}
		return nil
	}
}

// Finish waits for the copy into the template's volume, and ends the
// making: the template is found once its marker has gone.
func (ip *InPlace) Finish() error { return ip.finish() }

// Fail ends a making that failed with err: a copy that has not begun
// gives up, one under way is waited for, and the template is removed. It
// returns err.
func (ip *InPlace) Fail(ctx context.Context, err error) error {
	select {
	case <-ip.prepared:
		ip.late = err
	default:
		ip.failed = err
		close(ip.prepared)
	}
	_ = ip.finish()
	return err
}

// end waits for the copy, if any, and releases the lock, the template made
// (its marker removed) or, after a failure, removed.
func (ip *InPlace) end() error {
	defer ip.unlock()
	err := cmp.Or(ip.failed, ip.late)
	if ip.copying {
		if cerr := <-ip.copied; err == nil {
			err = cerr
		}
	}
	ctx := context.Background()
	if err != nil || ip.b == nil {
		if ip.b != nil {
			_ = ip.b.e.removeTemplate(ctx, ip.b.key)
		}
		return err
	}
	return ip.b.e.RemoveContainer(ctx, templateBuilder(ip.b.key))
}

// Template is the template made.
func (ip *InPlace) Template() *Template {
	b := ip.b
	return &Template{Key: b.key, Volume: TemplateVolume(b.key), RootPassword: b.root, Created: b.created, ImageID: b.imageID}
}
