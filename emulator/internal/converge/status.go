package converge

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// Stack states and service states of the status JSON (docs/architecture.md).
const (
	StateRunning = "running"
	StatePartial = "partial"
	StateStopped = "stopped"
	StateAbsent  = "absent"
	// StateRestoring is a stack whose restore is under way or was cut short:
	// the next command that works on it finishes the restore.
	StateRestoring = "restoring"

	ServiceExited     = "exited"
	ServiceMissing    = "missing"
	ServiceRestarting = "restarting"
)

// StatusReport is `devstack status -o json`; its shape is a contract.
type StatusReport struct {
	Project string `json:"project"`
	State   string `json:"state"`
	// Reason says why a stack is partial (its last up failed, or a service
	// does not answer devstack's readiness probe), or why it is absent after
	// an up (that up failed, and removed what it had made).
	Reason   string          `json:"reason,omitempty"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one service of a StatusReport.
type ServiceStatus struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	Image     string `json:"image"`
	State     string `json:"state"`
	Health    string `json:"health"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
}

// Status reports a project's stack as the engine has it; ready says that the services have just answered
// devstack's readiness probes (an up that succeeded): they are healthy
// without being asked again.
func (e *Engine) Status(ctx context.Context, cfg config.Config, ready bool) (*StatusReport, error) {
	o, err := e.Observe(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	live, err := e.Inspect(ctx, o)
	if err != nil {
		return nil, err
	}
	r := statusOf(cfg, o, live)
	switch {
	case ready && r.State == StateRunning:
		for i := range r.Services {
			r.Services[i].Health = "healthy"
		}
	// Every container runs: the stack is running, or its last up failed.
	case r.State == StateRunning || r.Reason != "" && allRunning(r.Services):
		assess(ctx, cfg, Connection(cfg, o, live), r)
	}
	return r, nil
}

// assess asks each service of a stack whose containers all run with
// devstack's own readiness probe: Docker's health check says a server is
// alive, not that it is set up. A service that answers is healthy whatever
// Docker's clock says (its check may not have run since it became ready);
// one that does not makes the stack partial, with why.
func assess(ctx context.Context, cfg config.Config, v stack.Pinned, r *StatusReport) {
	for i, s := range r.Services {
		err := probe(ctx, cfg, v, s.Name)
		if err == nil {
			r.Services[i].Health = "healthy"
			continue
		}
		if s.Health != "starting" {
			r.Services[i].Health = "unhealthy"
		}
		if r.Reason == "" {
			r.State, r.Reason = StatePartial, fmt.Sprintf("%s does not answer as devstack set it up: %v", s.Name, err)
		}
	}
}

// probe is devstack's readiness check of one service: SQL as the app user,
// or PING.
func probe(ctx context.Context, cfg config.Config, v stack.Pinned, service string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	switch service {
	case config.ServiceMySQL:
		return setup.CheckAppUser(ctx, func(db string) *sql.DB {
			return setup.OpenMySQL(cfg.Host, v.MySQLPort, stack.AppUser, v.AppPassword, db)
		})
	case config.ServiceRedis:
		rdb := setup.OpenRedis(cfg.Host, v.RedisPort, v.RedisPassword)
		defer rdb.Close()
		return rdb.Ping(ctx).Err()
	case config.ServiceGearmand:
		_, err := GearmanStatus(ctx, net.JoinHostPort(cfg.Host, strconv.Itoa(v.GearmandPort)))
		return err
	}
	return fmt.Errorf("no probe for %s", service)
}

// Inspect reads the stack's containers in full, by role.
func (e *Engine) Inspect(ctx context.Context, o *observe.Observed) (map[string]docker.Container, error) {
	live := map[string]docker.Container{}
	for _, role := range stack.AllRoles {
		c, ok := o.Containers[role]
		if !ok {
			continue
		}
		full, err := e.Docker.Inspect(ctx, c.ID)
		if engine.IsNotFound(err) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		live[role] = full
	}
	return live, nil
}

// Connection are the values a client connects with: what the containers
// really run with (their environment holds the passwords they were made
// with), which may differ from the config until the next up.
func Connection(cfg config.Config, o *observe.Observed, live map[string]docker.Container) stack.Pinned {
	v := stack.KnownPinned(cfg, o.PinnedLabels())
	if c, ok := live[config.ServiceMySQL]; ok {
		v.AppPassword = stack.FirstNonEmpty(c.Env["MYSQL_PASSWORD"], v.AppPassword)
	}
	if c, ok := live[config.ServiceRedis]; ok {
		v.RedisPassword = c.Env["REDISCLI_AUTH"]
	}
	if p := PublishedPort(live[config.ServiceMySQL]); p != 0 {
		v.MySQLPort = p
	}
	if p := PublishedPort(live[config.ServiceRedis]); p != 0 {
		v.RedisPort = p
	}
	if p := PublishedPort(live[config.ServiceGearmand]); p != 0 && cfg.Gearmand.Enabled {
		v.GearmandPort = p
	}
	return v
}

// PublishedPort is the host port c publishes, or 0.
func PublishedPort(c docker.Container) int {
	for _, p := range c.Ports {
		if p.HostPort > 0 {
			return p.HostPort
		}
	}
	return 0
}

// statusOf describes an observed stack. It chooses nothing: a port that is
// not known yet is 0.
func statusOf(cfg config.Config, o *observe.Observed, live map[string]docker.Container) *StatusReport {
	v := Connection(cfg, o, live)
	want := stack.Blueprint{Config: cfg, Names: o.Names, Pinned: v}.Specs()
	r := &StatusReport{Project: cfg.Project, Services: []ServiceStatus{}}
	running := 0
	for _, role := range cfg.Services() {
		s := ServiceStatus{Name: role, Container: want[role].Name, Image: want[role].Image, State: ServiceMissing, Health: "none", Host: cfg.Host, Port: want[role].Ports[0].HostPort}
		if c, ok := live[role]; ok {
			s.Image = c.Image
			s.State = serviceState(c.State)
			if s.State == StateRunning && c.State.Health != "" {
				s.Health = c.State.Health
			}
		}
		if s.State == StateRunning {
			running++
		}
		r.Services = append(r.Services, s)
	}
	// The helper is no service, but a stack without it cannot be seeded.
	helper := o.Containers[stack.PartHelper].State.Running
	switch {
	case o.Restoring():
		r.State = StateRestoring
	case o.Absent() && o.Failure() != "":
		r.State, r.Reason = StateAbsent, "the last up failed: "+o.Failure()
	case o.Absent():
		r.State = StateAbsent
	case running == len(r.Services) && helper && o.Failure() != "":
		r.State, r.Reason = StatePartial, "the last up failed: "+o.Failure()
	case running == len(r.Services) && helper:
		r.State = StateRunning
	case running > 0 || helper:
		r.State, r.Reason = StatePartial, o.Failure()
		if r.Reason == "" {
			r.Reason = notRunning(r.Services, helper)
		} else {
			r.Reason = "the last up failed: " + r.Reason
		}
	default:
		r.State = StateStopped
		if f := o.Failure(); f != "" {
			r.Reason = "the last up failed: " + f
		}
	}
	return r
}

func allRunning(services []ServiceStatus) bool {
	return !slices.ContainsFunc(services, func(s ServiceStatus) bool { return s.State != StateRunning })
}

// notRunning says which parts of a partial stack are not running.
func notRunning(services []ServiceStatus, helper bool) string {
	var down []string
	for _, s := range services {
		if s.State != StateRunning {
			down = append(down, s.Name+" is "+s.State)
		}
	}
	if !helper {
		down = append(down, "the helper is not running")
	}
	return strings.Join(down, "; ")
}

// serviceState is running, restarting (a crash loop: Docker keeps such a
// container "running" between restarts) or exited.
func serviceState(s docker.State) string {
	switch {
	case s.Restarting:
		return ServiceRestarting
	case s.Running:
		return StateRunning
	}
	return ServiceExited
}

// PendingChanges names the passwords the config sets that the running
// containers do not use yet: the next up applies them.
func PendingChanges(cfg config.Config, live stack.Pinned) []string {
	var pending []string
	if cfg.MySQL.Password != "" && cfg.MySQL.Password != live.AppPassword {
		pending = append(pending, "mysql.password")
	}
	if cfg.Redis.Password != live.RedisPassword {
		pending = append(pending, "redis.password")
	}
	return pending
}
