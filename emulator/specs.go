package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strconv"
	"time"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
)

// roles are the containers a configuration asks for: its services, and the
// helper.
func roles(cfg Config) []string { return append(cfg.Services(), partHelper) }

// allRoles are every container a stack may have, whatever its
// configuration.
var allRoles = []string{ServiceMySQL, ServiceRedis, ServiceGearmand, partHelper}

// coreRoles are the containers every stack has.
var coreRoles = []string{ServiceMySQL, ServiceRedis, partHelper}

// target is what a stack's containers are made from.
type target struct {
	cfg    Config
	names  Names
	pinned pinned
	// tree is the digest of what the fixtures put in the shared directory.
	tree string
	// api is the engine's API version: newer engines take more settings.
	api string
}

// specs are the containers the target asks for, by role.
func (t target) specs() map[string]docker.ContainerSpec {
	s := map[string]docker.ContainerSpec{
		ServiceMySQL: t.mysql(),
		ServiceRedis: t.redis(),
		partHelper:   t.helper(),
	}
	if t.cfg.Gearmand.Enabled {
		s[ServiceGearmand] = t.gearmand()
	}
	return s
}

// local publishes a service port on 127.0.0.1 only.
func local(containerPort, hostPort int) []docker.Port {
	return []docker.Port{{ContainerPort: containerPort, HostIP: "127.0.0.1", HostPort: hostPort}}
}

func (t target) mysql() docker.ContainerSpec {
	cfg, n, v := t.cfg, t.names, t.pinned
	return docker.ContainerSpec{
		Name:  n.MySQL,
		Image: cfg.MySQL.Image,
		// The app user's password rides along so that a later change of it
		// in the config is visible on the container, where env reads it.
		Env:     map[string]string{"MYSQL_ROOT_PASSWORD": v.RootPassword, "MYSQL_USER": AppUser, "MYSQL_PASSWORD": v.AppPassword},
		Network: n.Network, Aliases: []string{ServiceMySQL},
		Mounts: []docker.Mount{{Volume: n.MySQLData, Target: "/var/lib/mysql"}},
		Ports:  local(mysqlPort, v.MySQLPort),
		// "alive" is enough for Docker's view; devstack's own readiness is a
		// real SQL round trip as the app user.
		Health:  t.healthcheck("mysqladmin", "ping", "-h", "127.0.0.1", "--silent"),
		Restart: "unless-stopped",
	}
}

func (t target) redis() docker.ContainerSpec {
	cfg, n, v := t.cfg, t.names, t.pinned
	s := docker.ContainerSpec{
		Name:    n.Redis,
		Image:   cfg.Redis.Image,
		Env:     map[string]string{},
		Cmd:     []string{"redis-server", "--appendonly", "yes"},
		Network: n.Network, Aliases: []string{ServiceRedis},
		Mounts:  []docker.Mount{{Volume: n.RedisData, Target: "/data"}},
		Ports:   local(redisPort, v.RedisPort),
		Health:  t.healthcheck("redis-cli", "ping"),
		Restart: "unless-stopped",
	}
	if v.RedisPassword != "" {
		s.Cmd = append(s.Cmd, "--requirepass", v.RedisPassword)
		// redis-cli reads it, so the healthcheck needs no password in argv;
		// env and seed read it back from here.
		s.Env["REDISCLI_AUTH"] = v.RedisPassword
	}
	return s
}

// gearmand is the job server with its queue in the stack's Redis, as
// production ran it (gearmand --queue-type=redis against ElastiCache). The
// command line is what artefactual/gearmand takes: options alone. Its
// health check asks gearmand's admin protocol for its version with bash,
// which both that image and the stand-in have.
func (t target) gearmand() docker.ContainerSpec {
	cmd := []string{"--queue-type=redis", "--redis-server=" + ServiceRedis, "--redis-port=" + strconv.Itoa(redisPort)}
	if t.pinned.RedisPassword != "" {
		cmd = append(cmd, "--redis-password="+t.pinned.RedisPassword)
	}
	return docker.ContainerSpec{
		Name:    t.names.Gearmand,
		Image:   t.cfg.Gearmand.Image,
		Cmd:     cmd,
		Network: t.names.Network, Aliases: []string{ServiceGearmand},
		Ports:   local(gearmandPort, t.pinned.GearmandPort),
		Health:  t.healthcheck("bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/4730 && printf 'version\n' >&3 && read -r l <&3 && [[ $l == OK* ]]`),
		Restart: "unless-stopped",
	}
}

// healthcheck is Docker's own view of a service: devstack's readiness does
// not wait for it, but status reports it. Where the engine takes a start
// interval (API 1.44, Docker 25), Docker probes every 100 ms while the
// service starts, so it agrees soon after devstack's own probes; older
// engines reject the field, and status then asks the service itself while
// Docker still says "starting".
func (t target) healthcheck(test ...string) *docker.Healthcheck {
	h := &docker.Healthcheck{Test: append([]string{"CMD"}, test...), Interval: time.Second, Timeout: 5 * time.Second, Retries: 30}
	if apiAtLeast(t.api, 1, 44) {
		h.StartPeriod, h.StartInterval = time.Minute, 100*time.Millisecond
	}
	return h
}

// apiAtLeast compares an API version "major.minor" with major.minor.
func apiAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// helper is the stack's idle helper: on the MySQL image, so nothing extra
// is pulled, with the shared volume where Archivematica's containers mount it.
// It holds no state, so it is killed rather than asked to stop. The digest
// of the fixtures' shared tree is part of it: a helper that runs was made
// after the shared directory was laid out with those fixtures, and up leaves
// both alone.
func (t target) helper() docker.ContainerSpec {
	cfg, n, tree := t.cfg, t.names, t.tree
	return docker.ContainerSpec{
		Name:       n.Helper,
		Image:      cfg.MySQL.Image,
		Entrypoint: []string{"sleep", "infinity"},
		Env:        map[string]string{"DEVSTACK_SHARED_TREE": tree},
		Network:    n.Network,
		Mounts:     []docker.Mount{{Volume: n.Shared, Target: SharedDir}},
		StopSignal: "SIGKILL",
		// The MySQL image declares a volume there; without a tmpfs it would
		// become an anonymous volume without devstack's label.
		Tmpfs:   map[string]string{"/var/lib/mysql": ""},
		Restart: "unless-stopped",
	}
}

// specHash is the config-hash label: a digest of everything a container is
// made from but its labels, so that up can tell "running and right" from
// "running but stale".
func specHash(s docker.ContainerSpec) string {
	s.Labels = nil
	b, _ := json.Marshal(s)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Lifetime says how long a stack is meant to live: everyday stacks until
// they are taken down; throw-away ones (the harness, `devstack run`) as long
// as the process that made them.
type Lifetime struct {
	Ephemeral bool
	// Keep marks an ephemeral stack that is to outlive its owner.
	Keep bool
}

func (Lifetime) owner() string {
	h, _ := os.Hostname()
	return h + "/" + strconv.Itoa(os.Getpid())
}

// labels are the labels every resource of a stack carries; part is the
// value of LabelService.
func (l Lifetime) labels(project, part string) map[string]string {
	m := map[string]string{
		LabelProject: project,
		LabelService: part,
		LabelCreated: time.Now().UTC().Format(time.RFC3339),
	}
	if l.Ephemeral {
		m[LabelEphemeral] = "true"
		m[LabelOwner] = l.owner()
	}
	if l.Keep {
		m[LabelKeep] = "true"
	}
	return m
}

// labelled returns the spec as it is created: with the stack's labels and
// its config hash.
func labelled(s docker.ContainerSpec, project, role string, l Lifetime) docker.ContainerSpec {
	s.Labels = l.labels(project, role)
	maps.Copy(s.Labels, map[string]string{LabelConfigHash: specHash(s)})
	return s
}
