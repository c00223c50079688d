package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
)

// Roles are the containers a configuration asks for: its services, and the
// helper.
func Roles(cfg config.Config) []string { return append(cfg.Services(), PartHelper) }

// AllRoles are every container a stack may have, whatever its
// configuration.
var AllRoles = []string{config.ServiceMySQL, config.ServiceRedis, config.ServiceGearmand, PartHelper}

// CoreRoles are the containers every stack has.
var CoreRoles = []string{config.ServiceMySQL, config.ServiceRedis, PartHelper}

// Blueprint is what a stack's containers are made from.
type Blueprint struct {
	Config config.Config
	Names  Names
	Pinned Pinned
	// Tree identifies what the fixtures put in the shared directory, and its
	// owner (TreeID).
	Tree string
	// API is the engine's API version: newer engines take more settings.
	API string
}

// Specs are the containers the blueprint asks for, by role.
func (t Blueprint) Specs() map[string]docker.ContainerSpec {
	s := map[string]docker.ContainerSpec{
		config.ServiceMySQL: t.mysql(),
		config.ServiceRedis: t.redis(),
		PartHelper:          t.helper(),
	}
	if t.Config.Gearmand.Enabled {
		s[config.ServiceGearmand] = t.gearmand()
	}
	return s
}

// Publish publishes a service port on one address of the engine's machine
// alone: 127.0.0.1 unless the engine is remote (Config.Reach).
func Publish(cfg config.Config, containerPort, hostPort int) []docker.Port {
	return []docker.Port{{ContainerPort: containerPort, HostIP: cfg.BindAddress(), HostPort: hostPort}}
}

// mysql is the MySQL container as a compose file would give it: the image's
// own entrypoint, devstack's server options as its command. Up gives the
// entrypoint the image's CMD before the options, or starts the server
// directly where it has seen how (server.Engine.ServerSpec).
func (t Blueprint) mysql() docker.ContainerSpec {
	cfg, n, v := t.Config, t.Names, t.Pinned
	return docker.ContainerSpec{
		Name:  n.MySQL,
		Image: cfg.MySQL.Image,
		// The app user's password rides along so that a later change of it
		// in the config is visible on the container, where env reads it.
		// Root may log in from any host, for images that make it for
		// localhost alone unless told.
		Env:     map[string]string{"MYSQL_ROOT_PASSWORD": v.RootPassword, "MYSQL_ROOT_HOST": "%", "MYSQL_USER": AppUser, "MYSQL_PASSWORD": v.AppPassword},
		Cmd:     config.ServerArgs(cfg.MySQL.ServerOptions),
		Network: n.Network, Aliases: []string{config.ServiceMySQL},
		Mounts: []docker.Mount{{Volume: n.MySQLData, Target: "/var/lib/mysql"}},
		Ports:  Publish(cfg, MySQLContainerPort, v.MySQLPort),
		// "alive" is enough for Docker's view; devstack's own readiness is a
		// real SQL round trip as the app user.
		Health:  t.healthcheck("mysqladmin", "ping", "-h", "127.0.0.1", "--silent"),
		Restart: "unless-stopped",
	}
}

// redis has the same shape with and without a password, so that a compose
// file can take it from a variable: an empty requirepass is no password.
// redis-cli reads REDISCLI_AUTH, so the healthcheck and `devstack shell`
// need no password in argv; env and seed read it back from there. redis-cli
// would send an empty one as AUTH "", hence the unset.
func (t Blueprint) redis() docker.ContainerSpec {
	cfg, n, v := t.Config, t.Names, t.Pinned
	return docker.ContainerSpec{
		Name:    n.Redis,
		Image:   cfg.Redis.Image,
		Env:     map[string]string{"REDISCLI_AUTH": v.RedisPassword},
		Cmd:     []string{"redis-server", "--appendonly", "yes", "--requirepass", v.RedisPassword},
		Network: n.Network, Aliases: []string{config.ServiceRedis},
		Mounts:  []docker.Mount{{Volume: n.RedisData, Target: "/data"}},
		Ports:   Publish(cfg, RedisContainerPort, v.RedisPort),
		Health:  t.healthcheck("CMD-SHELL", `[ -n "$REDISCLI_AUTH" ] || unset REDISCLI_AUTH; exec redis-cli ping`),
		Restart: "unless-stopped",
	}
}

// gearmand is the job server with its queue in the stack's Redis, as
// production ran it (gearmand --queue-type=redis against ElastiCache). The
// command line is what artefactual/gearmand takes: options alone. Its
// health check asks gearmand's admin protocol for its version with bash,
// which both that image and the stand-in have. An empty Redis password is
// none to gearmand, so the command has one shape with and without (as a
// separate argument: gearmand refuses --redis-password= with nothing after).
func (t Blueprint) gearmand() docker.ContainerSpec {
	return docker.ContainerSpec{
		Name:    t.Names.Gearmand,
		Image:   t.Config.Gearmand.Image,
		Cmd:     []string{"--queue-type=redis", "--redis-server=" + config.ServiceRedis, "--redis-port=" + strconv.Itoa(RedisContainerPort), "--redis-password", t.Pinned.RedisPassword},
		Network: t.Names.Network, Aliases: []string{config.ServiceGearmand},
		Ports:   Publish(t.Config, GearmandContainerPort, t.Pinned.GearmandPort),
		Health:  t.healthcheck("bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/4730 && printf 'version\n' >&3 && read -r l <&3 && [[ $l == OK* ]]`),
		Restart: "unless-stopped",
	}
}

// healthcheck is Docker's own view of a service: devstack's readiness does
// not wait for it, but status reports it. Where the engine takes a start
// interval (API 1.44, Docker 25), Docker probes every 100 ms while the
// service starts, so it agrees soon after devstack's own probes; older
// engines reject the field, and status then asks the service itself while
// Docker still says "starting". Every check is an exec in the container,
// which costs the engine more than the service: at one a second, an idle
// stack kept an eighth of a core busy; at one in five, a fifth of that.
//
// test is a command, or ("CMD-SHELL", script).
func (t Blueprint) healthcheck(test ...string) *docker.Healthcheck {
	if test[0] != "CMD-SHELL" {
		test = append([]string{"CMD"}, test...)
	}
	h := &docker.Healthcheck{Test: test, Interval: 5 * time.Second, Timeout: 5 * time.Second, Retries: 30}
	if APIAtLeast(t.API, 1, 44) {
		h.StartPeriod, h.StartInterval = time.Minute, 100*time.Millisecond
	}
	return h
}

// APIAtLeast compares an API version "major.minor" with major.minor.
func APIAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// helper is the stack's idle helper: on the MySQL image, so nothing extra
// is pulled, with the shared volume where Archivematica's containers mount it.
// Only execs and copies reach it, so it has no network: an endpoint less to
// make while the services start (up after down measured ~0.09 s quicker).
// It holds no state, so it is killed rather than asked to stop. What the
// fixtures put in the shared directory, and its owner, are part of it: a
// helper that runs was made after the shared directory was laid out so, and
// up leaves both alone.
func (t Blueprint) helper() docker.ContainerSpec {
	cfg, n, tree := t.Config, t.Names, t.Tree
	return docker.ContainerSpec{
		Name:       n.Helper,
		Image:      cfg.MySQL.Image,
		User:       RootUser,
		Entrypoint: []string{"sleep", "infinity"},
		Env:        map[string]string{"DEVSTACK_SHARED_TREE": tree},
		Network:    docker.NoNetwork,
		Mounts:     []docker.Mount{{Volume: n.Shared, Target: SharedDir}},
		StopSignal: "SIGKILL",
		// The MySQL image declares a volume there; without a tmpfs it would
		// become an anonymous volume without devstack's label.
		Tmpfs:   map[string]string{"/var/lib/mysql": ""},
		Restart: "unless-stopped",
	}
}

// TreeID identifies what the shared directory holds: the digest of the
// fixtures' folders and files, and the owner (uid:gid).
func TreeID(digest, owner string) string { return digest + "@" + owner }

// variable is a reference to a configuration variable in parameterised specs:
// ${DEVSTACK_X}, or ${DEVSTACK_X:-default} for a compose file.
type variable func(name, value string) string

func Bare(name, _ string) string { return "${" + name + "}" }

// Parameterised is the blueprint's specs with every value that configuration
// chooses (project, images, passwords, the shared directory's owner)
// replaced by a reference to its variable, host ports left out (0), and the
// healthchecks any engine takes: what only devstack's code decides. The
// config hash digests it; the compose file is it with defaults. t.tree is
// the digest of the fixtures' shared tree.
func (t Blueprint) Parameterised(ref variable) map[string]docker.ContainerSpec {
	cfg := t.Config
	cfg.MySQL.Image = ref("DEVSTACK_MYSQL_IMAGE", cfg.MySQL.Image)
	cfg.Redis.Image = ref("DEVSTACK_REDIS_IMAGE", cfg.Redis.Image)
	cfg.Gearmand.Image = ref("DEVSTACK_GEARMAND_IMAGE", cfg.Gearmand.Image)
	v := Pinned{
		RootPassword:  ref("DEVSTACK_MYSQL_ROOT_PASSWORD", t.Pinned.RootPassword),
		AppPassword:   ref("DEVSTACK_MYSQL_PASSWORD", t.Pinned.AppPassword),
		RedisPassword: ref("DEVSTACK_REDIS_PASSWORD", t.Pinned.RedisPassword),
	}
	owner := ref("DEVSTACK_SHARED_UID", strconv.Itoa(cfg.Shared.UID)) + ":" + ref("DEVSTACK_SHARED_GID", strconv.Itoa(cfg.Shared.GID))
	return Blueprint{Config: cfg, Names: NamesFor(ref("DEVSTACK_PROJECT", cfg.Project)), Pinned: v, Tree: TreeID(t.Tree, owner)}.Specs()
}

// SpecHash is the config-hash label of a container: a digest of its
// parameterised spec, so that up can tell "running and right" from
// "running but stale" and a compose file can carry the same label. The
// values the parameterised spec leaves out are compared one by one
// (SameValues).
func SpecHash(template docker.ContainerSpec) string {
	template.Labels = nil
	b, _ := json.Marshal(template)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// SameValues reports whether a container (inspected) runs with the values
// a spec gives it: image (by ID when imageID is known), environment and
// published ports.
func SameValues(c docker.Container, want docker.ContainerSpec, imageID string) bool {
	if imageID != "" && !sameImageID(c.ImageID, imageID) || imageID == "" && c.Image != want.Image {
		return false
	}
	for k, v := range want.Env {
		if got, ok := c.Env[k]; !ok || got != v {
			return false
		}
	}
	key := func(p docker.Port) string { return fmt.Sprintf("%s:%d:%d", p.HostIP, p.HostPort, p.ContainerPort) }
	var have, need []string
	for _, p := range c.Ports {
		have = append(have, key(p))
	}
	for _, p := range want.Ports {
		need = append(need, key(p))
	}
	slices.Sort(have)
	slices.Sort(need)
	return slices.Equal(have, need)
}

// sameImageID compares image IDs with or without their digest's algorithm,
// which engines give or leave out.
func sameImageID(a, b string) bool {
	return strings.TrimPrefix(a, "sha256:") == strings.TrimPrefix(b, "sha256:")
}

// Lifetime says how long a stack is meant to live: everyday stacks until
// they are taken down; throw-away ones (the harness, `devstack run`) as long
// as the process that made them.
type Lifetime struct {
	Ephemeral bool
	// Keep marks an ephemeral stack that is to outlive its owner.
	Keep bool
}

func (Lifetime) Owner() string {
	h, _ := os.Hostname()
	return h + "/" + strconv.Itoa(os.Getpid())
}

// Labels are the labels every resource of a stack carries; part is the
// value of LabelService.
func (l Lifetime) Labels(project, part string) map[string]string {
	m := map[string]string{
		LabelProject: project,
		LabelService: part,
		LabelCreated: time.Now().UTC().Format(time.RFC3339),
	}
	if l.Ephemeral {
		m[LabelEphemeral] = "true"
		m[LabelOwner] = l.Owner()
	}
	if l.Keep {
		m[LabelKeep] = "true"
	}
	return m
}

// Labelled returns the spec as it is created: with the stack's labels and
// hash, the config hash of its template.
func Labelled(s docker.ContainerSpec, project, role, hash string, l Lifetime) docker.ContainerSpec {
	s.Labels = l.Labels(project, role)
	maps.Copy(s.Labels, map[string]string{LabelConfigHash: hash})
	return s
}

// RootUser is who devstack's own short-lived containers on the MySQL image
// run as, whatever the image's USER: they copy volumes keeping their
// owners, and lay out the shared directory for its configured owner. They
// join no network (NoNetwork): only volumes, execs and copies reach them,
// and an endpoint less makes each start quicker.
const RootUser = "0:0"

// OwnerAlive reports whether the process that made a stack may still use it.
// An owner on another host, or one that cannot be read, counts as alive: we
// cannot know, and a live stack must never be removed by accident.
func OwnerAlive(owner string) bool {
	host, p, ok := strings.Cut(owner, "/")
	pid, err := strconv.Atoi(p)
	if !ok || err != nil || pid <= 0 {
		return true
	}
	if h, _ := os.Hostname(); h != host {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
