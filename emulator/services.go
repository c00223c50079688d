package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
)

// serviceSpec is everything a service container is made from. Its hash is
// the config-hash label, so up can tell "running and right" from "stale".
type serviceSpec struct {
	Service    string
	Name       string
	Image      string
	Entrypoint []string
	Env        map[string]string
	Cmd        []string
	Volume     string
	MountPath  string
	Port       int // inside the container; 0 publishes nothing
	HostPort   int
	Health     []string
	StopSignal string
	Tmpfs      map[string]string
}

func (s serviceSpec) port() network.Port {
	return network.MustParsePort(fmt.Sprintf("%d/tcp", s.Port))
}

func (s serviceSpec) hash() string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func mysqlSpec(cfg Config, n Names, v values) serviceSpec {
	return serviceSpec{
		Service: ServiceMySQL,
		Name:    n.MySQL,
		Image:   cfg.MySQL.Image,
		// The app user's password rides along so that a later change of it
		// in the config is visible on the container, where env reads it.
		Env:       map[string]string{"MYSQL_ROOT_PASSWORD": v.RootPassword, "MYSQL_USER": AppUser, "MYSQL_PASSWORD": v.AppPassword},
		Volume:    n.MySQLData,
		MountPath: "/var/lib/mysql",
		Port:      mysqlPort,
		HostPort:  v.MySQLPort,
		// "alive" is enough for Docker's view; devstack's own readiness is a
		// real SQL round trip as the app user.
		Health: []string{"CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent"},
	}
}

func redisSpec(cfg Config, n Names, v values) serviceSpec {
	s := serviceSpec{
		Service:   ServiceRedis,
		Name:      n.Redis,
		Image:     cfg.Redis.Image,
		Env:       map[string]string{},
		Cmd:       []string{"redis-server", "--appendonly", "yes"},
		Volume:    n.RedisData,
		MountPath: "/data",
		Port:      redisPort,
		HostPort:  v.RedisPort,
		Health:    []string{"CMD", "redis-cli", "ping"},
	}
	if v.RedisPassword != "" {
		s.Cmd = append(s.Cmd, "--requirepass", v.RedisPassword)
		// redis-cli reads it, so the healthcheck needs no password in argv;
		// env and seed read it back from here.
		s.Env["REDISCLI_AUTH"] = v.RedisPassword
	}
	return s
}

// helperSpec is the stack's idle helper: on the MySQL image, so nothing extra
// is pulled, with the shared volume where Archivematica's containers mount it.
// It holds no state, so it is killed rather than asked to stop.
func helperSpec(cfg Config, n Names) serviceSpec {
	return serviceSpec{
		Service:    ServiceHelper,
		Name:       n.Helper,
		Image:      cfg.MySQL.Image,
		Entrypoint: []string{"sleep", "infinity"},
		Volume:     n.Shared,
		MountPath:  SharedDir,
		StopSignal: "SIGKILL",
		Tmpfs:      map[string]string{"/var/lib/mysql": ""},
	}
}

// baseLabels are the labels every resource of a stack carries.
func baseLabels(project, service string, meta Meta) map[string]string {
	l := map[string]string{
		LabelProject: project,
		LabelService: service,
		LabelCreated: time.Now().UTC().Format(time.RFC3339),
	}
	if meta.Ephemeral {
		l[LabelEphemeral] = "true"
		l[LabelOwner] = meta.owner()
	}
	if meta.Keep {
		l[LabelKeep] = "true"
	}
	return l
}

// Meta describes who makes a stack: everyday stacks are not ephemeral; the
// harness and `devstack run` make throw-away ones owned by a process.
type Meta struct {
	Ephemeral bool
	// Keep marks an ephemeral stack that is to outlive its owner.
	Keep bool
}

func (Meta) owner() string {
	h, _ := os.Hostname()
	return h + "/" + strconv.Itoa(os.Getpid())
}

// createService creates and starts a service container through
// testcontainers, on the stack's network under the service's hostname.
func (e *Engine) createService(ctx context.Context, n Names, s serviceSpec, meta Meta) error {
	labels := baseLabels(n.Project, s.Service, meta)
	labels[LabelConfigHash] = s.hash()
	req := testcontainers.GenericContainerRequest{
		Started: true,
		ContainerRequest: testcontainers.ContainerRequest{
			Name:           s.Name,
			Image:          s.Image,
			Entrypoint:     s.Entrypoint,
			Env:            s.Env,
			Cmd:            s.Cmd,
			Labels:         labels,
			Networks:       []string{n.Network},
			NetworkAliases: map[string][]string{n.Network: {s.Service}},
			Mounts:         testcontainers.Mounts(testcontainers.VolumeMount(s.Volume, testcontainers.ContainerMountTarget(s.MountPath))),
			ConfigModifier: func(c *container.Config) {
				if s.Health != nil {
					// No StartInterval: engines before 25 (API 1.44) reject it.
					c.Healthcheck = &container.HealthConfig{Test: s.Health, Interval: time.Second, Timeout: 5 * time.Second, Retries: 30}
				}
				c.StopSignal = s.StopSignal
			},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
				// Volumes the image declares that the spec does not mount
				// (the helper runs on the MySQL image) would otherwise become
				// anonymous volumes without devstack's label.
				hc.Tmpfs = s.Tmpfs
				if s.Port != 0 {
					hc.PortBindings = network.PortMap{s.port(): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(s.HostPort)}}}
				}
			},
		},
	}
	if s.Port != 0 {
		req.ExposedPorts = []string{s.port().String()}
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if err != nil {
		// A container that was made but would not start is removed, so the
		// next up does not find it and take it for a stopped service.
		_ = testcontainers.TerminateContainer(ctr)
		if isPortConflict(err) {
			return portTaken(s.Service, s.HostPort)
		}
		return envError(err, "cannot start %s (%s): %v", s.Service, s.Image, shortErr(err))
	}
	return nil
}

// isPortConflict recognises Docker's refusal to bind a host port, which it
// reports only as text.
func isPortConflict(err error) bool {
	return strings.Contains(err.Error(), "port is already allocated") || strings.Contains(err.Error(), "address already in use")
}

func portTaken(service string, port int) error {
	return usageError("port %d on 127.0.0.1 is taken, so %s cannot publish on it: stop what uses it, or set %s.port (DEVSTACK_%s_PORT) to another port (0 picks a free one for a new stack)",
		port, service, service, strings.ToUpper(service))
}
