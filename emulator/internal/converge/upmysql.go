package converge

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/server"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// upMySQL: the container, a server that answers root, the set-up, the seed.
func (u *upRun) upMySQL(ctx context.Context) error {
	defer u.releaseOthers()
	t0 := time.Now()
	// A template made in place is finished beside the stack's own set-up.
	defer func() { _ = u.templateMade() }()
	copied := false
	if u.plan.template != nil {
		made, err := u.inPlace(ctx)
		if err == nil && !made {
			err = u.fromTemplate(ctx)
		}
		if err != nil {
			return err
		}
		copied = true
	}
	// Only the copy goes first: the server's container starts beside the
	// others, which measured quicker than one after the other.
	u.releaseOthers()
	t1 := time.Now()
	if err := u.converge(ctx, config.ServiceMySQL); err != nil {
		return err
	}
	root, err := u.login(ctx, copied)
	if u.directStartFailed(err) {
		if err = u.startThroughEntrypoint(ctx, err); err == nil {
			root, err = u.login(ctx, copied)
		}
	}
	if err != nil {
		return err
	}
	defer root.Close()
	if u.plan.actions[config.ServiceMySQL] != keep {
		took := time.Since(t1)
		u.progress.Timed("mysql", took, "server answered in %.1fs", took.Seconds())
	}
	fresh, err := u.setUpMySQL(ctx, root)
	if err != nil {
		return err
	}
	if !u.keepData {
		if err := u.seedMySQL(ctx, root, fresh); err != nil {
			return err
		}
	}
	if err := u.templateMade(); err != nil {
		return err
	}
	u.ready(config.ServiceMySQL, t0)
	return nil
}

// directStartFailed reports whether the server this up started directly
// has failed.
func (u *upRun) directStartFailed(err error) bool {
	var cf *engine.ContainerFailed
	return u.serverStart.Direct && errors.As(err, &cf)
}

// startThroughEntrypoint replaces a MySQL container whose direct start
// failed by one the image's entrypoint starts, once, and records that the
// image is not to be started directly again.
func (u *upRun) startThroughEntrypoint(ctx context.Context, failed error) error {
	var cf *engine.ContainerFailed
	errors.As(failed, &cf)
	s, how := u.plan.Specs[config.ServiceMySQL], u.serverStart
	u.progress.Step("mysql", "starting %s directly failed (%s); starting it through the image's entrypoint", s.Name, cf.What)
	u.progress.Note("the last lines of %s:\n%s", s.Name, cf.Lines)
	why := fmt.Sprintf("a direct start failed (%s: %s)", cf.What, strings.TrimSpace(engine.LastLine(cf.Lines)))
	if err := u.e.KeepDirectStart(ctx, how.Key, how.ImageID, server.DirectStart{Why: why}); err != nil {
		return err
	}
	u.entrypointOnly = true
	return u.remakeMySQL(ctx)
}

// remakeMySQL replaces MySQL's container by a new one, the data kept.
func (u *upRun) remakeMySQL(ctx context.Context) error {
	if err := u.e.RemoveContainer(ctx, u.plan.names.MySQL); err != nil {
		return err
	}
	u.restarts.Store(config.ServiceMySQL, 0)
	return u.create(ctx, config.ServiceMySQL)
}

// inPlace makes the template that a first cold up would copy from the
// stack's own first server (server.InPlace), where the template is to be
// made and the data volume is new; it reports whether it did, the server
// then running on the stack's data with the template's passwords. When
// another process made the template meanwhile, the up copies it instead.
func (u *upRun) inPlace(ctx context.Context) (bool, error) {
	t, n := u.plan.template, u.plan.names
	if !t.Build || !u.plan.newVolume(n.MySQLData) {
		return false, nil
	}
	// Making the template takes seconds: nothing to go before.
	u.releaseOthers()
	ip, found, err := u.e.BeginInPlace(ctx, u.cfg, u.seeder.F, t, n, u.plan.life.Labels(n.Project, stack.PartHelper), u.progress)
	if err == nil && ip == nil {
		u.plan.template = found
		return false, nil
	}
	if err == nil {
		err = u.makeInPlace(ctx, ip)
	}
	if err != nil {
		return false, fmt.Errorf("making the seeded template %s: %w", t.Volume, err)
	}
	// The plan keeps the container made (converge looks it up by name).
	u.plan.template = ip.Template()
	u.plan.current[config.ServiceMySQL] = docker.Container{ID: n.MySQL, Name: n.MySQL}
	u.plan.actions[config.ServiceMySQL] = keep
	return true, nil
}

// makeInPlace starts the stack's server on its new data volume, prepares
// it and takes the template from it. A server that cloned itself goes on
// while the clone is copied (templateMade waits for that); one that was
// stopped for a copy of its data is started again, directly where it was
// made so, else made again to start directly as devstack has now seen.
func (u *upRun) makeInPlace(ctx context.Context, ip *server.InPlace) error {
	n, v := u.plan.names, u.plan.pinned
	if err := ip.Volumes(ctx, u.plan.life.Labels(n.Project, config.ServiceMySQL)); err != nil {
		return ip.Fail(ctx, err)
	}
	u.firstServer = ip
	err := u.create(ctx, config.ServiceMySQL)
	u.firstServer = nil
	if err == nil {
		err = ip.Prepare(ctx, u.cfg.Host, v.MySQLPort, v.RootPassword, u.serverStart.Key, []string{v.RootPassword, v.AppPassword})
	}
	if err != nil {
		return ip.Fail(ctx, err)
	}
	// From here on only the template can fail: the stack goes on without it.
	notMade := func(err error) error {
		if err != nil && ctx.Err() == nil {
			u.progress.Step("mysql", "template %s not made (%v); the next first up makes it", u.plan.template.Volume, err)
			return nil
		}
		return err
	}
	if err := ip.Taken(ctx); err != nil {
		if err = notMade(err); err != nil {
			return err
		}
	} else {
		// The lock goes once the copy is done; up waits for it at its end.
		go ip.Finish()
		u.templateMade = func() error { return notMade(ip.Finish()) }
	}
	if ip.CanClone() {
		return nil
	}
	if u.serverStart.Direct {
		return u.e.Docker.Start(ctx, n.MySQL)
	}
	return u.remakeMySQL(ctx)
}

// fromTemplate fills the new data volume from the seeded template, making
// the template first when there is none yet.
func (u *upRun) fromTemplate(ctx context.Context) error {
	t := u.plan.template
	if t.Build {
		// Making the template takes seconds: nothing to go before.
		u.releaseOthers()
		built, err := u.e.BuildTemplate(ctx, u.cfg, u.seeder.F, t, u.progress)
		if err != nil {
			return fmt.Errorf("making the seeded template %s: %w", t.Volume, err)
		}
		t = built
	}
	u.progress.Step("mysql", "starting from seeded template %s", t.Volume)
	t0 := time.Now()
	err := u.copyTemplate(ctx, t)
	if errors.Is(err, server.ErrHalfMade) {
		t, err = u.copyHalfMade(ctx, t)
	}
	if err != nil {
		return err
	}
	took := time.Since(t0)
	u.progress.Timed("mysql", took, "copied the template in %.1fs", took.Seconds())
	u.plan.template = t
	return nil
}

func (u *upRun) copyTemplate(ctx context.Context, t *server.Template) error {
	return u.e.CopyTemplate(ctx, t, u.plan.names, u.cfg.MySQL.Image, u.plan.life, u.releaseOthers)
}

// copyHalfMade copies a template that had no done file when it was looked
// at: its builder was at work (it makes the volume before it starts), or
// died. Under the template's lock no builder is at work, so the template as
// it is then tells: complete, or half-made and made again. Without the lock,
// removing it could pull it from under a builder.
func (u *upRun) copyHalfMade(ctx context.Context, t *server.Template) (*server.Template, error) {
	unlock, err := server.LockTemplate(ctx, t.Key, u.progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	now, err := u.e.FindTemplate(ctx, t.Key)
	if err != nil {
		return nil, err
	}
	if now != nil {
		if err := u.copyTemplate(ctx, now); !errors.Is(err, server.ErrHalfMade) {
			return now, err
		}
	}
	// The template's root password is the one the data volume names.
	built, err := u.e.BuildLocked(ctx, u.cfg, u.seeder.F, &server.Template{Key: t.Key, Volume: t.Volume, ImageID: t.ImageID, Created: u.plan.pinned.Created,
		RootPassword: u.plan.volumeLabels(u.plan.names.MySQLData)[server.LabelTemplateRootPassword]}, u.progress)
	if err != nil {
		return nil, err
	}
	return built, u.copyTemplate(ctx, built)
}

// login connects as root with the stack's password. A data volume just
// copied from a template (or one whose first up was cut short before it got
// the stack's passwords) answers to the template's: root then gets the
// stack's password and the pipeline the stack's UUID. Data restored from a
// snapshot of another stack answers to that stack's root password, which
// root gives up likewise.
func (u *upRun) login(ctx context.Context, copied bool) (*sql.DB, error) {
	if copied {
		root, err := u.waitMySQL(ctx, u.plan.template.RootPassword)
		if err != nil {
			return nil, err
		}
		return u.adoptTemplate(ctx, root)
	}
	root, err := u.waitMySQL(ctx, u.plan.pinned.RootPassword)
	if !errors.Is(err, errDenied) {
		return root, err
	}
	if u.copiedRoot != "" {
		if root, err := u.waitMySQL(ctx, u.copiedRoot); err == nil {
			return u.adoptRoot(ctx, root)
		}
	}
	labels := u.plan.volumeLabels(u.plan.names.MySQLData)
	if key := labels[server.LabelFromTemplate]; key != "" {
		passwords := []string{labels[server.LabelTemplateRootPassword]}
		if t, _ := u.e.FindTemplate(ctx, key); t != nil {
			passwords = append(passwords, t.RootPassword)
		}
		for _, pw := range passwords {
			if pw == "" {
				continue
			}
			if root, err := u.waitMySQL(ctx, pw); err == nil {
				return u.adoptTemplate(ctx, root)
			}
		}
	}
	return u.reinitialise(ctx)
}

// adoptRoot gives a server whose data was copied from elsewhere (a
// template, a snapshot of another stack) the stack's own root password.
// root is logged in with the password the copy came with; the app user gets
// its password in the set-up that follows.
func (u *upRun) adoptRoot(ctx context.Context, root *sql.DB) (*sql.DB, error) {
	defer root.Close()
	v := u.plan.pinned
	f, err := setup.ReadFlavour(ctx, root)
	if err != nil {
		return nil, fault.Env(err, "cannot read the MySQL version: %v", err)
	}
	if err := setup.RotateRoot(ctx, root, f, v.RootPassword); err != nil {
		return nil, fault.Env(err, "cannot give root the stack's password: %v", err)
	}
	return setup.OpenMySQL(u.cfg.Host, v.MySQLPort, "root", v.RootPassword, ""), nil
}

// adoptTemplate does adoptRoot to a server copied from a template, and gives
// its pipeline the stack's UUID, so that no two stacks share a secret or a
// pipeline.
func (u *upRun) adoptTemplate(ctx context.Context, root *sql.DB) (*sql.DB, error) {
	own, err := u.adoptRoot(ctx, root)
	if err != nil {
		return nil, err
	}
	if err := seed.Rekey(ctx, own, server.TemplateUUID, u.plan.pinned.DashboardUUID); err != nil {
		own.Close()
		return nil, fault.Env(err, "cannot give the pipeline the stack's UUID: %v", err)
	}
	if u.cfg.Schema == config.SchemaBuiltin {
		if err := setup.RecordBaseline(ctx, own, u.seeder.F.Schema, seed.RekeyedTables...); err != nil {
			own.Close()
			return nil, fault.Env(err, "cannot record the seeded state: %v", err)
		}
	}
	return own, nil
}

// waitMySQL polls until root can run a query over the published port.
func (u *upRun) waitMySQL(ctx context.Context, password string) (*sql.DB, error) {
	name, v := u.plan.names.MySQL, u.plan.pinned
	root := setup.OpenMySQL(u.cfg.Host, v.MySQLPort, "root", password, "")
	err := engine.Poll(ctx, 180*time.Second, "MySQL ("+name+")", func(ctx context.Context) error {
		err := root.PingContext(ctx)
		if err == nil {
			return nil
		}
		if setup.IsAccessDenied(err) {
			return engine.Permanent(errDenied)
		}
		return u.probeError(ctx, config.ServiceMySQL, err)
	})
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// errDenied is a MySQL server that refuses the root password devstack has.
var errDenied = errors.New("MySQL refuses the root password")

// systemDatabases are what a server's data directory holds before anybody
// has used it.
var systemDatabases = []string{"mysql", "sys", "performance_schema"}

// reinitialise handles a data volume whose server refuses devstack's root
// password. One that was never set up (an earlier up with a wrong image, say:
// no devstack marker, no database but the system ones) is emptied and
// initialised again; any other holds somebody's data, which devstack never
// deletes unasked.
func (u *upRun) reinitialise(ctx context.Context) (*sql.DB, error) {
	name, volume := u.plan.names.MySQL, u.plan.names.MySQLData
	listed, err := engine.InContainer{Docker: u.e.Docker, Name: name}.Exec(ctx, "ls", "-1p", "/var/lib/mysql")
	if err != nil {
		return nil, err
	}
	if dbs := databaseDirs(listed); len(dbs) > 0 {
		return nil, fault.Usage("MySQL in %s refuses the root password devstack has: its data volume %s was initialised with other credentials and holds %s. Set mysql.root_password back, or delete the data with `devstack down -p %s --volumes --yes`.",
			name, volume, strings.Join(dbs, ", "), u.cfg.Project)
	}
	u.progress.Step("mysql", "%s was never set up by devstack; initialising it again", volume)
	labels := maps.Clone(u.plan.volumeLabels(volume))
	maps.Copy(labels, u.plan.pinned.Labels())
	if c, err := u.e.Docker.Inspect(ctx, name); err == nil {
		if err := u.e.RemoveContainer(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	if err := u.e.Docker.RemoveVolume(ctx, volume); err != nil {
		return nil, err
	}
	if err := u.e.Docker.CreateVolume(ctx, docker.Volume{Name: volume, Labels: labels}); err != nil {
		return nil, err
	}
	image := u.plan.Specs[config.ServiceMySQL].Image
	img, err := u.e.Docker.Image(ctx, image)
	if err != nil {
		return nil, err
	}
	if err := u.e.OwnDataVolume(ctx, img, image, volume, u.plan.names.Copy, u.plan.life.Labels(u.plan.names.Project, stack.PartHelper)); err != nil {
		return nil, err
	}
	if err := u.create(ctx, config.ServiceMySQL); err != nil {
		return nil, err
	}
	u.restarts.Store(config.ServiceMySQL, 0)
	root, err := u.waitMySQL(ctx, u.plan.pinned.RootPassword)
	if errors.Is(err, errDenied) {
		return nil, fault.Env(err, "MySQL in %s refuses the root password even on a fresh data volume: is %s an image with the official mysql image's interface (MYSQL_ROOT_PASSWORD)?", name, u.plan.Specs[config.ServiceMySQL].Image)
	}
	return root, err
}

// databaseDirs returns the databases in a data directory listing (`ls -1p`,
// folders end in /) beyond the system ones; a devstack marker counts.
func databaseDirs(listing string) []string {
	var dbs []string
	for _, entry := range strings.Fields(listing) {
		d, isDir := strings.CutSuffix(entry, "/")
		if !isDir || strings.HasPrefix(d, "#") || d == "lost+found" || slices.Contains(systemDatabases, d) {
			continue
		}
		dbs = append(dbs, d)
	}
	return dbs
}

// setUpMySQL runs the set-up when its marker is missing (a first start, or
// one that was cut short) or when the app user is refused (its password was
// changed in the config), and proves readiness with the app user. It
// reports whether the marker was missing: up writes it once it has seeded.
func (u *upRun) setUpMySQL(ctx context.Context, root *sql.DB) (fresh bool, err error) {
	openApp := u.openApp()
	marked := setup.Bootstrapped(ctx, root)
	if marked {
		err := setup.CheckAppUser(ctx, openApp)
		if err == nil || !setup.IsAccessDenied(err) {
			return false, err
		}
	}
	f, err := setup.ReadFlavour(ctx, root)
	if err != nil {
		return false, fault.Env(err, "cannot read the MySQL version: %v", err)
	}
	u.progress.Step("mysql", "setting up databases %s and user %s on %s", strings.Join(setup.Databases, ", "), stack.AppUser, f.Version)
	if err := setup.Bootstrap(ctx, root, f, u.plan.pinned.AppPassword); err != nil {
		return false, fault.Env(err, "%v", err)
	}
	if err := setup.CheckAppUser(ctx, openApp); err != nil {
		return false, fault.Env(err, "MySQL is up but the app user cannot connect: %v", err)
	}
	return !marked, nil
}

// openApp connects as the app user to a database.
func (u *upRun) openApp() func(string) *sql.DB {
	v := u.plan.pinned
	return func(db string) *sql.DB {
		return setup.OpenMySQL(u.cfg.Host, v.MySQLPort, stack.AppUser, v.AppPassword, db)
	}
}

// seedMySQL seeds; after a first set-up (fresh) it writes the set-up
// marker, last: a first up cut short anywhere before is done again.
func (u *upRun) seedMySQL(ctx context.Context, root *sql.DB, fresh bool) error {
	if err := u.seed(ctx, root); err != nil {
		return err
	}
	if fresh {
		if err := setup.MarkBootstrapped(ctx, root); err != nil {
			return fault.Env(err, "cannot record MySQL set-up: %v", err)
		}
	}
	return nil
}

func (u *upRun) seed(ctx context.Context, root *sql.DB) error {
	c, err := seeding.MySQL(ctx, u.cfg, root, u.seeder, u.plan.pinned)
	switch {
	case errors.Is(err, seeding.ErrNoAppTables):
		u.progress.Step("mysql", "not seeded: %s", seeding.NoAppTablesHint(err))
		return nil
	case err != nil:
		return err
	case c.Added+c.Updated > 0:
		u.progress.Step("mysql", "seeded %d rows, updated %d", c.Added, c.Updated)
	}
	if u.cfg.Schema != config.SchemaBuiltin {
		return nil
	}
	// The state a reset returns to is this one, recorded once: a later up
	// finds the tests' rows too.
	var recorded int
	if err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM devstack.baseline").Scan(&recorded); err != nil || recorded > 0 {
		return err
	}
	if err := setup.RecordBaseline(ctx, root, u.seeder.F.Schema); err != nil {
		return fault.Env(err, "cannot record the seeded state: %v", err)
	}
	return nil
}
