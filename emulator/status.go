package emulator

import (
	"context"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Stack states and service states of DESIGN.md's status JSON.
const (
	StateRunning = "running"
	StatePartial = "partial"
	StateStopped = "stopped"
	StateAbsent  = "absent"

	ServiceExited  = "exited"
	ServiceMissing = "missing"
)

// StatusReport is `devstack status -o json`; its shape is a contract.
type StatusReport struct {
	Project  string          `json:"project"`
	State    string          `json:"state"`
	Services []ServiceStatus `json:"services"`
}

type ServiceStatus struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	Image     string `json:"image"`
	State     string `json:"state"`
	Health    string `json:"health"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
}

// Status reports a project's stack as Docker has it, found by label.
func Status(ctx context.Context, e *Engine, cfg Config) (*StatusReport, error) {
	o, err := e.observe(ctx, NamesFor(cfg.Project))
	if err != nil {
		return nil, err
	}
	r, _, err := e.report(ctx, cfg, o)
	return r, err
}

// report describes an observed stack, and returns the values it was made
// with, which the callers that connect to it need too. It chooses nothing: a
// port that is not known yet is 0.
func (e *Engine) report(ctx context.Context, cfg Config, o *observed) (*StatusReport, values, error) {
	inspected := map[string]container.InspectResponse{}
	env := map[string]string{}
	for _, svc := range []string{ServiceMySQL, ServiceRedis} {
		c, ok := o.services[svc]
		if !ok {
			continue
		}
		res, err := e.Client.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, values{}, envError(err, "cannot inspect %s: %v", containerName(c), shortErr(err))
		}
		inspected[svc] = res.Container
		for _, kv := range res.Container.Config.Env {
			if k, val, ok := strings.Cut(kv, "="); ok {
				env[k] = val
			}
		}
	}
	v := knownValues(cfg, o.stableLabels(), env)
	r := &StatusReport{Project: cfg.Project, Services: []ServiceStatus{}}
	running := 0
	for _, spec := range []serviceSpec{mysqlSpec(cfg, o.names, v), redisSpec(cfg, o.names, v)} {
		s := ServiceStatus{Name: spec.Service, Container: spec.Name, Image: spec.Image, State: ServiceMissing, Health: "none", Host: cfg.Host, Port: spec.HostPort}
		if c, ok := inspected[spec.Service]; ok {
			fillFromContainer(&s, c)
		}
		if s.State == StateRunning {
			running++
		}
		r.Services = append(r.Services, s)
	}
	switch {
	case o.absent():
		r.State = StateAbsent
	case running == len(r.Services):
		r.State = StateRunning
	case running > 0:
		r.State = StatePartial
	default:
		r.State = StateStopped
	}
	// What the containers publish is the truth for whoever connects next.
	v.MySQLPort, v.RedisPort = r.Services[0].Port, r.Services[1].Port
	return r, v, nil
}

// fillFromContainer reports what the container really has, which may differ
// from the current config until the next up.
func fillFromContainer(s *ServiceStatus, c container.InspectResponse) {
	s.Image = c.Config.Image
	s.State = ServiceExited
	if c.State.Running {
		s.State = StateRunning
	}
	if c.State.Running && c.State.Health != nil {
		s.Health = string(c.State.Health.Status)
	}
	for _, bindings := range c.HostConfig.PortBindings {
		for _, b := range bindings {
			if p, err := strconv.Atoi(b.HostPort); err == nil && p > 0 {
				s.Port = p
			}
		}
	}
}
