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

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

// UpOptions tune Up; the zero value makes an everyday stack quietly.
type UpOptions struct {
	Meta     Meta
	Progress io.Writer
}

// action is what up must do for one service container.
type action int

const (
	keep     action = iota // running and made from the current settings
	start                  // stopped, current settings: start it, data intact
	create                 // missing
	recreate               // made from other settings: replace it, volume kept
)

// Up brings a project's stack to the configured state: it creates what is
// missing, starts what is stopped, replaces what is stale, waits for real
// readiness, sets MySQL up and seeds the fixtures. On a running, up-to-date
// stack it creates and starts nothing.
func Up(ctx context.Context, e *Engine, cfg Config, opts UpOptions) (*StatusReport, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	names := NamesFor(cfg.Project)
	fx, err := loadFixtures(cfg)
	if err != nil {
		return nil, err
	}
	unlock, err := lockProject(ctx, cfg.Project, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()

	o, err := e.observe(ctx, names)
	if err != nil {
		return nil, err
	}
	if err := o.clashError(); err != nil {
		return nil, err
	}
	v, err := resolveValues(cfg, o.stableLabels())
	if err != nil {
		return nil, err
	}
	specs := []serviceSpec{mysqlSpec(cfg, names, v), redisSpec(cfg, names, v), helperSpec(cfg, names)}
	plan := map[string]action{}
	for _, s := range specs {
		plan[s.Service] = planFor(o.services, s)
	}
	// Everything that can be refused is checked before anything is made, so
	// bad input leaves nothing behind.
	if err := e.preflight(ctx, cfg, specs, plan); err != nil {
		return nil, err
	}
	if err := e.ensureNetworkAndVolumes(ctx, o, v, opts.Meta, progress); err != nil {
		return nil, err
	}
	sd := seed.NewSeeder(fx)
	if plan[ServiceMySQL] != keep {
		// Hashing needs no container: do it while MySQL boots.
		go sd.Prehash()
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		if errs[2] = e.apply(ctx, o, specs[2], plan[ServiceHelper], opts.Meta, progress); errs[2] == nil {
			_, errs[2] = e.syncShared(ctx, cfg, names, fx, false)
		}
	})
	wg.Go(func() {
		errs[0] = e.upMySQL(ctx, cfg, o, specs[0], plan[ServiceMySQL], v, sd, opts.Meta, progress)
	})
	wg.Go(func() {
		errs[1] = e.upRedis(ctx, cfg, o, specs[1], plan[ServiceRedis], opts.Meta, progress)
	})
	wg.Wait()
	if err := firstClassified(errs); err != nil {
		return nil, err
	}
	o, err = e.observe(ctx, names)
	if err != nil {
		return nil, err
	}
	r, _, err := e.report(ctx, cfg, o)
	return r, err
}

func planFor(services map[string]container.Summary, s serviceSpec) action {
	c, ok := services[s.Service]
	switch {
	case !ok:
		return create
	case c.Labels[LabelConfigHash] != s.hash():
		return recreate
	case c.State != container.StateRunning:
		return start
	default:
		return keep
	}
}

// preflight refuses a taken port and fetches missing images before any
// resource is created.
func (e *Engine) preflight(ctx context.Context, cfg Config, specs []serviceSpec, plan map[string]action) error {
	// The helper runs on the MySQL image, so its setting is MySQL's.
	setting := map[string]string{ServiceMySQL: "DEVSTACK_MYSQL_IMAGE", ServiceRedis: "DEVSTACK_REDIS_IMAGE", ServiceHelper: "DEVSTACK_MYSQL_IMAGE"}
	images := map[string]string{}
	for _, s := range specs {
		switch plan[s.Service] {
		case create, start:
			if s.Port != 0 && e.local() && !portFree("127.0.0.1", s.HostPort) {
				return portTaken(s.Service, s.HostPort)
			}
			fallthrough
		case recreate:
			images[s.Image] = setting[s.Service]
		}
	}
	for ref, setting := range images {
		if err := e.EnsureImage(ctx, ref, setting); err != nil {
			return err
		}
	}
	return nil
}

// local reports whether published ports are on this machine, where a port
// can be checked before Docker is asked to bind it.
func (e *Engine) local() bool {
	return strings.HasPrefix(e.Endpoint, "unix://") || strings.HasPrefix(e.Endpoint, "npipe://")
}

func (e *Engine) ensureNetworkAndVolumes(ctx context.Context, o *observed, v values, meta Meta, progress io.Writer) error {
	n := o.names
	if o.network == nil {
		fmt.Fprintf(progress, "creating network %s\n", n.Network)
		if _, err := e.Client.NetworkCreate(ctx, n.Network, client.NetworkCreateOptions{Driver: "bridge", Labels: baseLabels(n.Project, ServiceNetwork, meta)}); err != nil {
			return envError(err, "cannot create network %s: %v", n.Network, shortErr(err))
		}
	}
	for _, vol := range []struct{ name, service string }{{n.MySQLData, ServiceMySQL}, {n.RedisData, ServiceRedis}, {n.Shared, ServiceShared}} {
		if _, ok := o.volumes[vol.name]; ok {
			continue
		}
		labels := baseLabels(n.Project, vol.service, meta)
		if vol.name == n.MySQLData {
			for k, val := range v.labels() {
				labels[k] = val
			}
		}
		fmt.Fprintf(progress, "creating volume %s\n", vol.name)
		if _, err := e.Client.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol.name, Labels: labels}); err != nil {
			return envError(err, "cannot create volume %s: %v", vol.name, shortErr(err))
		}
	}
	return nil
}

// apply brings one service container to the planned state.
func (e *Engine) apply(ctx context.Context, o *observed, s serviceSpec, a action, meta Meta, progress io.Writer) error {
	switch a {
	case start:
		fmt.Fprintf(progress, "%s: starting %s\n", s.Service, s.Name)
		if _, err := e.Client.ContainerStart(ctx, o.services[s.Service].ID, client.ContainerStartOptions{}); err != nil {
			if isPortConflict(err) {
				return portTaken(s.Service, s.HostPort)
			}
			return envError(err, "cannot start %s: %v", s.Name, shortErr(err))
		}
		return nil
	case recreate:
		fmt.Fprintf(progress, "%s: settings changed, replacing %s (data kept)\n", s.Service, s.Name)
		if err := e.removeContainer(ctx, o.services[s.Service].ID); err != nil {
			return err
		}
		fallthrough
	case create:
		fmt.Fprintf(progress, "%s: creating %s from %s\n", s.Service, s.Name, s.Image)
		return e.createService(ctx, o.names, s, meta)
	}
	return nil
}

func (e *Engine) upMySQL(ctx context.Context, cfg Config, o *observed, s serviceSpec, a action, v values, sd *seed.Seeder, meta Meta, progress io.Writer) error {
	t0 := time.Now()
	if err := e.apply(ctx, o, s, a, meta, progress); err != nil {
		return err
	}
	root, err := e.waitMySQL(ctx, s, cfg.Host, v)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := e.setUpMySQL(ctx, cfg, s, v, root, progress); err != nil {
		return err
	}
	c, err := seedMySQL(ctx, cfg, root, sd, v)
	if errors.Is(err, errNoAppTables) {
		fmt.Fprintln(progress, "mysql: not seeded:", noAppTablesHint(err))
	} else if err != nil {
		return err
	} else if c.Added+c.Updated > 0 {
		fmt.Fprintf(progress, "mysql: seeded %d rows, updated %d\n", c.Added, c.Updated)
	}
	if err := e.waitHealthy(ctx, s.Name); err != nil {
		return err
	}
	if a != keep {
		fmt.Fprintf(progress, "mysql: ready in %.1fs\n", time.Since(t0).Seconds())
	}
	return nil
}

// setUpMySQL runs the set-up when its marker is missing (a first start, or
// one that was interrupted) or when the app user is refused (its password was
// changed in the config), and proves readiness with the app user.
func (e *Engine) setUpMySQL(ctx context.Context, cfg Config, s serviceSpec, v values, root *sql.DB, progress io.Writer) error {
	if bootstrapped(ctx, root) {
		err := checkAppUser(ctx, cfg.Host, s.HostPort, v.AppPassword)
		if err == nil || !isAccessDenied(err) {
			return err
		}
	}
	f, err := readFlavour(ctx, root)
	if err != nil {
		return envError(err, "cannot read the MySQL version: %v", err)
	}
	fmt.Fprintf(progress, "mysql: setting up databases %s and user %s on %s\n", strings.Join(Databases, ", "), AppUser, f.version)
	if err := bootstrapMySQL(ctx, root, f, v.AppPassword); err != nil {
		return err
	}
	if err := checkAppUser(ctx, cfg.Host, s.HostPort, v.AppPassword); err != nil {
		return envError(err, "MySQL is up but the app user cannot connect: %v", err)
	}
	return markBootstrapped(ctx, root)
}

func (e *Engine) upRedis(ctx context.Context, cfg Config, o *observed, s serviceSpec, a action, meta Meta, progress io.Writer) error {
	t0 := time.Now()
	if err := e.apply(ctx, o, s, a, meta, progress); err != nil {
		return err
	}
	if err := e.waitRedis(ctx, s, cfg.Host, s.Env["REDISCLI_AUTH"]); err != nil {
		return err
	}
	if err := e.waitHealthy(ctx, s.Name); err != nil {
		return err
	}
	if a != keep {
		fmt.Fprintf(progress, "redis: ready in %.1fs\n", time.Since(t0).Seconds())
	}
	return nil
}

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
	timeout := 30
	if _, err := e.Client.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil && !isNotFound(err) {
		return envError(err, "cannot stop container %s: %v", id[:12], shortErr(err))
	}
	// RemoveVolumes takes only anonymous volumes: named ones stay for a purge.
	if _, err := e.Client.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return envError(err, "cannot remove container %s: %v", id[:12], shortErr(err))
	}
	return nil
}
