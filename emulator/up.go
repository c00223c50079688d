package emulator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// UpOptions tune Up; the zero value makes an everyday stack quietly.
type UpOptions struct {
	Lifetime Lifetime
	Progress io.Writer
}

// Up brings a project's stack to the configured state: it observes what
// Docker has, plans what to create, start or replace, and applies the plan:
// network and volumes first, then each service's steps in parallel. On a
// running, up-to-date stack it creates and starts nothing.
func Up(ctx context.Context, e *Engine, cfg Config, opts UpOptions) (*StatusReport, error) {
	progress := orDiscard(opts.Progress)
	fx, err := loadFixtures(cfg)
	if err != nil {
		return nil, err
	}
	unlock, err := lockProject(ctx, cfg.Project, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()

	o, err := e.observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	if err := o.clashError(); err != nil {
		return nil, err
	}
	p, err := planUp(cfg, o, opts.Lifetime, freeLocalPort)
	if err != nil {
		return nil, err
	}
	// Everything that can be refused is checked before anything is made, so
	// bad input leaves nothing behind.
	if err := e.preflight(ctx, p); err != nil {
		return nil, err
	}
	u := &upRun{e: e, cfg: cfg, plan: p, seeder: seed.NewSeeder(fx), progress: progress}
	if err := u.applyPlan(ctx); err != nil {
		return nil, err
	}
	return Status(ctx, e, cfg)
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// preflight refuses a taken port and fetches missing images.
func (e *Engine) preflight(ctx context.Context, p *upPlan) error {
	if e.local() {
		for _, role := range containerRoles {
			if port, ok := p.portChecks()[role]; ok && !portFree("127.0.0.1", port) {
				return portTaken(role, port)
			}
		}
	}
	for ref, setting := range p.images() {
		if err := e.ensureImage(ctx, ref, setting); err != nil {
			return err
		}
	}
	return nil
}

// upRun is one up applying its plan.
type upRun struct {
	e        *Engine
	cfg      Config
	plan     *upPlan
	seeder   *seed.Seeder
	progress io.Writer
}

func (u *upRun) say(format string, args ...any) { fmt.Fprintf(u.progress, format+"\n", args...) }

func (u *upRun) applyPlan(ctx context.Context) error {
	if err := u.makeNetworkAndVolumes(ctx); err != nil {
		return err
	}
	if u.plan.actions[ServiceMySQL] != keep {
		// Hashing needs no container: do it while MySQL boots.
		go u.seeder.Prehash()
	}
	return parallel(ctx, u.upMySQL, u.upRedis, u.upHelper)
}

// parallel runs steps at once and returns the most telling error.
func parallel(ctx context.Context, steps ...func(context.Context) error) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() { errs[i] = step(ctx) })
	}
	wg.Wait()
	return firstClassified(errs)
}

func (u *upRun) makeNetworkAndVolumes(ctx context.Context) error {
	n := u.plan.names
	if u.plan.newNetwork {
		u.say("creating network %s", n.Network)
		if _, err := u.e.d.CreateNetwork(ctx, n.Network, u.plan.life.labels(n.Project, partNetwork)); err != nil {
			return envError(err, "cannot create network %s: %s", n.Network, shortErr(err))
		}
	}
	for _, v := range u.plan.newVolumes {
		u.say("creating volume %s", v.Name)
		if err := u.e.d.CreateVolume(ctx, v); err != nil {
			return envError(err, "cannot create volume %s: %s", v.Name, shortErr(err))
		}
	}
	return nil
}

// converge brings one container to its planned state.
func (u *upRun) converge(ctx context.Context, role string) error {
	s := u.plan.specs[role]
	switch u.plan.actions[role] {
	case start:
		u.say("%s: starting %s", role, s.Name)
		if err := u.e.d.Start(ctx, u.plan.current[role].ID); err != nil {
			if errors.Is(err, docker.ErrPortTaken) {
				return portTaken(role, s.Ports[0].HostPort)
			}
			return envError(err, "cannot start %s: %s", s.Name, shortErr(err))
		}
	case recreate:
		u.say("%s: settings changed, replacing %s (data kept)", role, s.Name)
		if err := u.e.removeContainer(ctx, u.plan.current[role].ID); err != nil {
			return err
		}
		return u.create(ctx, role)
	case create:
		return u.create(ctx, role)
	}
	return nil
}

func (u *upRun) create(ctx context.Context, role string) error {
	s := u.plan.specs[role]
	u.say("%s: creating %s from %s", role, s.Name, s.Image)
	run := u.e.d.RunService
	if role == partHelper {
		run = u.e.d.RunHelper
	}
	if err := run(ctx, s); err != nil {
		if errors.Is(err, docker.ErrPortTaken) {
			return portTaken(role, s.Ports[0].HostPort)
		}
		return envError(err, "cannot start %s (%s): %s", role, s.Image, shortErr(err))
	}
	return nil
}

// ready reports a service that up had to start.
func (u *upRun) ready(role string, since time.Time) {
	if u.plan.actions[role] != keep {
		u.say("%s: ready in %.1fs", role, time.Since(since).Seconds())
	}
}

// upMySQL: the container, a server that answers root, the set-up, the seed.
func (u *upRun) upMySQL(ctx context.Context) error {
	t0 := time.Now()
	if err := u.converge(ctx, ServiceMySQL); err != nil {
		return err
	}
	root, err := u.waitMySQL(ctx)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := u.setUpMySQL(ctx, root); err != nil {
		return err
	}
	if err := u.seedMySQL(ctx, root); err != nil {
		return err
	}
	if err := u.e.waitHealthy(ctx, u.plan.names.MySQL); err != nil {
		return err
	}
	u.ready(ServiceMySQL, t0)
	return nil
}

// waitMySQL polls until root can run a query over the published port.
func (u *upRun) waitMySQL(ctx context.Context) (*sql.DB, error) {
	name, v := u.plan.names.MySQL, u.plan.pinned
	root := setup.OpenMySQL(u.cfg.Host, v.MySQLPort, "root", v.RootPassword, "")
	var denied time.Time
	err := poll(ctx, 180*time.Second, "MySQL ("+name+")", func(ctx context.Context) error {
		err := root.PingContext(ctx)
		if err == nil {
			return nil
		}
		if setup.IsAccessDenied(err) {
			// The server is up but refuses the password: the volume was made
			// with another one. Allow a moment for a first start to finish.
			if denied.IsZero() {
				denied = time.Now()
			} else if time.Since(denied) > 5*time.Second {
				return permanent{usageError("MySQL refuses the root password devstack has for %s: the data volume was initialised with another one. Set mysql.root_password back, or remove the data with `devstack down --volumes --yes`.", name)}
			}
		}
		if aerr := u.e.alive(ctx, name); aerr != nil {
			return aerr
		}
		return err
	})
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

// setUpMySQL runs the set-up when its marker is missing (a first start, or
// one that was interrupted) or when the app user is refused (its password was
// changed in the config), and proves readiness with the app user.
func (u *upRun) setUpMySQL(ctx context.Context, root *sql.DB) error {
	openApp := u.openApp()
	if setup.Bootstrapped(ctx, root) {
		err := setup.CheckAppUser(ctx, openApp)
		if err == nil || !setup.IsAccessDenied(err) {
			return err
		}
	}
	f, err := setup.ReadFlavour(ctx, root)
	if err != nil {
		return envError(err, "cannot read the MySQL version: %v", err)
	}
	u.say("mysql: setting up databases %s and user %s on %s", strings.Join(setup.Databases, ", "), AppUser, f.Version)
	if err := setup.Bootstrap(ctx, root, f, u.plan.pinned.AppPassword); err != nil {
		return envError(err, "%v", err)
	}
	if err := setup.CheckAppUser(ctx, openApp); err != nil {
		return envError(err, "MySQL is up but the app user cannot connect: %v", err)
	}
	if err := setup.MarkBootstrapped(ctx, root); err != nil {
		return envError(err, "cannot record MySQL set-up: %v", err)
	}
	return nil
}

// openApp connects as the app user to a database.
func (u *upRun) openApp() func(string) *sql.DB {
	v := u.plan.pinned
	return func(db string) *sql.DB { return setup.OpenMySQL(u.cfg.Host, v.MySQLPort, AppUser, v.AppPassword, db) }
}

func (u *upRun) seedMySQL(ctx context.Context, root *sql.DB) error {
	c, err := seedMySQL(ctx, u.cfg, root, u.seeder, u.plan.pinned)
	switch {
	case errors.Is(err, errNoAppTables):
		u.say("mysql: not seeded: %s", noAppTablesHint(err))
	case err != nil:
		return err
	case c.Added+c.Updated > 0:
		u.say("mysql: seeded %d rows, updated %d", c.Added, c.Updated)
	}
	return nil
}

// upRedis: the container and a Redis that answers PING.
func (u *upRun) upRedis(ctx context.Context) error {
	t0 := time.Now()
	if err := u.converge(ctx, ServiceRedis); err != nil {
		return err
	}
	if err := u.e.waitRedis(ctx, u.plan.names.Redis, u.cfg.Host, u.plan.pinned); err != nil {
		return err
	}
	if err := u.e.waitHealthy(ctx, u.plan.names.Redis); err != nil {
		return err
	}
	u.ready(ServiceRedis, t0)
	return nil
}

// upHelper: the helper container and the shared directory's layout and files.
func (u *upRun) upHelper(ctx context.Context) error {
	if err := u.converge(ctx, partHelper); err != nil {
		return err
	}
	_, err := syncShared(ctx, u.e.helper(u.plan.names), u.cfg, u.seeder.F, false)
	return err
}

// helper reaches the shared directory through the stack's helper container.
func (e *Engine) helper(n Names) shared.Container { return inContainer{d: e.d, name: n.Helper} }

// firstClassified returns the most telling of several errors: bad input
// outranks the failures it may have caused elsewhere.
func firstClassified(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if ExitCode(err) == ExitUsage {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// removeContainer stops a container gracefully, then removes it. A container
// that is already gone is not an error: cleanup must be repeatable.
func (e *Engine) removeContainer(ctx context.Context, id string) error {
	if err := e.d.Stop(ctx, id, 30*time.Second); err != nil && !isNotFound(err) {
		return envError(err, "cannot stop container %s: %s", id[:12], shortErr(err))
	}
	if err := e.d.Remove(ctx, id); err != nil && !isNotFound(err) {
		return envError(err, "cannot remove container %s: %s", id[:12], shortErr(err))
	}
	return nil
}
