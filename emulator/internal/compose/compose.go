// Package compose writes a project's stack as a compose file that brings up
// the same stack without devstack: the same images, settings, volumes and
// seeding, for those who run docker compose.
package compose

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// The compose file (`devstack compose`, compose/docker-compose.yml) is the
// stack up makes, as plain Docker Compose: the same containers, built from
// the same blueprint (stack.Blueprint.Parameterised) with the same config-hash labels, the same
// volumes and network with the same labels, plus a one-shot init service
// that does what up does to a new stack. Values devstack would choose at a
// first up are fixed development defaults there.

// composeDefaults are those defaults, pinned on the data volume as up pins
// its choices (docs/compose.md).
var composeDefaults = stack.Pinned{
	RootPassword:  "devstack-root",
	AppPassword:   "devstack",
	DashboardUUID: "d5a7b1e0-4c1f-4f1e-9b7a-0e3c5f6a8d21",
	Created:       time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
}

// A reference to a variable is written as 〔NAME:-default〕 while the file is
// built, and becomes ${NAME:-default} once every literal $ is escaped as $$.
const refOpen, refClose = "〔", "〕"

func composeRef(name, value string) string { return refOpen + name + ":-" + value + refClose }

// portSetting names the variable of each service's host port.
var portSetting = map[string]string{config.ServiceMySQL: "DEVSTACK_MYSQL_PORT", config.ServiceRedis: "DEVSTACK_REDIS_PORT", config.ServiceGearmand: "DEVSTACK_GEARMAND_PORT"}

// File returns the compose file of the stack cfg describes. The schema
// files are referenced by path, relative to the compose/ folder of a
// checkout for the built-in ones.
func File(cfg config.Config) ([]byte, error) {
	for role, port := range map[string]int{config.ServiceMySQL: cfg.MySQL.Port, config.ServiceRedis: cfg.Redis.Port, config.ServiceGearmand: cfg.Gearmand.Port} {
		if port == 0 && slices.Contains(cfg.Services(), role) {
			return nil, fault.Usage("%s.port is 0: a compose file needs fixed ports (set %s)", role, portSetting[role])
		}
	}
	fx, err := seeding.Load(cfg)
	if err != nil {
		return nil, err
	}
	v := composeDefaults
	v.RootPassword = stack.FirstNonEmpty(cfg.MySQL.RootPassword, v.RootPassword)
	v.AppPassword = stack.FirstNonEmpty(cfg.MySQL.Password, v.AppPassword)
	v.RedisPassword = cfg.Redis.Password
	v.MySQLPort, v.RedisPort = cfg.MySQL.Port, cfg.Redis.Port
	if cfg.Gearmand.Enabled {
		v.GearmandPort = cfg.Gearmand.Port
	}
	for _, s := range []string{v.RootPassword, v.AppPassword, v.RedisPassword, cfg.MySQL.Image, cfg.Redis.Image, cfg.Gearmand.Image} {
		if strings.ContainsAny(s, "}"+refOpen+refClose) {
			return nil, fault.Usage("%q cannot be a default in a compose file (it holds a '}')", s)
		}
	}
	c := &composer{cfg: cfg, fx: fx, v: v, tree: seeding.SharedTree(cfg, fx), project: composeRef("DEVSTACK_PROJECT", cfg.Project)}
	return c.render()
}

type composer struct {
	cfg     config.Config
	fx      *seed.Fixtures
	v       stack.Pinned
	tree    shared.Tree
	project string // the project's reference
	file    composeFile
}

// composeFile is the part of the compose specification devstack writes.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Networks map[string]composeNetwork `yaml:"networks"`
	Volumes  map[string]composeNetwork `yaml:"volumes"`
	Configs  map[string]composeConfig  `yaml:"configs,omitempty"`
}

type composeService struct {
	ContainerName string                       `yaml:"container_name"`
	Image         string                       `yaml:"image"`
	Entrypoint    []string                     `yaml:"entrypoint,omitempty"`
	Command       []string                     `yaml:"command,omitempty"`
	Environment   map[string]string            `yaml:"environment,omitempty"`
	Labels        map[string]string            `yaml:"labels"`
	NetworkMode   string                       `yaml:"network_mode,omitempty"`
	Networks      map[string]composeAliases    `yaml:"networks,omitempty"`
	Ports         []composePort                `yaml:"ports,omitempty"`
	Volumes       []composeMount               `yaml:"volumes,omitempty"`
	Tmpfs         []string                     `yaml:"tmpfs,omitempty"`
	Configs       []composeConfigMount         `yaml:"configs,omitempty"`
	Healthcheck   *composeHealth               `yaml:"healthcheck,omitempty"`
	StopSignal    string                       `yaml:"stop_signal,omitempty"`
	User          string                       `yaml:"user,omitempty"`
	Restart       string                       `yaml:"restart,omitempty"`
	DependsOn     map[string]composeDependency `yaml:"depends_on,omitempty"`
}

type composeAliases struct {
	Aliases []string `yaml:"aliases,omitempty"`
}

type composePort struct {
	Target    int    `yaml:"target"`
	HostIP    string `yaml:"host_ip"`
	Published string `yaml:"published"`
	Protocol  string `yaml:"protocol"`
}

type composeMount struct {
	Type     string         `yaml:"type"`
	Source   string         `yaml:"source"`
	Target   string         `yaml:"target"`
	ReadOnly bool           `yaml:"read_only,omitempty"`
	Volume   *composeNoCopy `yaml:"volume,omitempty"`
}

type composeNoCopy struct {
	NoCopy bool `yaml:"nocopy"`
}

type composeConfigMount struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

type composeHealth struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

// composeNetwork is a network or a volume: a fixed name and labels.
type composeNetwork struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type composeConfig struct {
	Content string `yaml:"content"`
}

// volumeKey is the compose file's key of one of the stack's volumes.
func (c *composer) volumeKey(name string) string {
	return strings.TrimPrefix(name, stack.NamesFor(c.project).Network+"-")
}

// labels are what Lifetime.labels gives an everyday stack, created at the
// defaults' time.
func (c *composer) labels(part string) map[string]string {
	return map[string]string{stack.LabelProject: c.project, stack.LabelService: part, stack.LabelCreated: c.v.Created.Format(time.RFC3339)}
}

func (c *composer) render() ([]byte, error) {
	n := stack.NamesFor(c.project)
	c.file = composeFile{
		Name:     n.Network,
		Services: map[string]composeService{},
		Networks: map[string]composeNetwork{"stack": {Name: n.Network, Labels: c.labels(stack.PartNetwork)}},
		Volumes:  map[string]composeNetwork{},
		Configs:  map[string]composeConfig{},
	}
	for _, vol := range []struct{ name, part string }{{n.MySQLData, config.ServiceMySQL}, {n.RedisData, config.ServiceRedis}, {n.Shared, stack.PartShared}} {
		labels := c.labels(vol.part)
		if vol.name == n.MySQLData {
			maps.Copy(labels, c.pinnedLabels())
		}
		c.file.Volumes[c.volumeKey(vol.name)] = composeNetwork{Name: vol.name, Labels: labels}
	}
	t := stack.Blueprint{Config: c.cfg, Pinned: c.v, Tree: c.tree.Digest()}
	refs, hashes := t.Parameterised(composeRef), t.Parameterised(stack.Bare)
	real := stack.Blueprint{Config: c.cfg, Names: stack.NamesFor(c.cfg.Project), Pinned: c.v}.Specs()
	for _, role := range stack.Roles(c.cfg) {
		s := c.service(refs[role])
		s.Labels = c.labels(role)
		s.Labels[stack.LabelConfigHash] = stack.SpecHash(hashes[role])
		for i, p := range real[role].Ports {
			s.Ports[i].Published = composeRef(portSetting[role], strconv.Itoa(p.HostPort))
		}
		c.file.Services[role] = s
	}
	helper := c.file.Services[stack.PartHelper]
	helper.DependsOn = map[string]composeDependency{stack.PartInit: {"service_completed_successfully"}}
	c.file.Services[stack.PartHelper] = helper
	if err := c.initService(refs[stack.PartHelper]); err != nil {
		return nil, err
	}
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(c.file); err != nil {
		return nil, err
	}
	text := strings.ReplaceAll(composeHeader+body.String(), "$", "$$")
	return []byte(strings.NewReplacer(refOpen, "${", refClose, "}").Replace(text)), nil
}

// pinnedLabels are the values pinned on the data volume, the variables'
// where the config takes them from a variable.
func (c *composer) pinnedLabels() map[string]string {
	l := c.v.Labels()
	l[stack.LabelRootPassword] = composeRef("DEVSTACK_MYSQL_ROOT_PASSWORD", c.v.RootPassword)
	l[stack.LabelAppPassword] = composeRef("DEVSTACK_MYSQL_PASSWORD", c.v.AppPassword)
	l[stack.LabelMySQLPort] = composeRef(portSetting[config.ServiceMySQL], l[stack.LabelMySQLPort])
	l[stack.LabelRedisPort] = composeRef(portSetting[config.ServiceRedis], l[stack.LabelRedisPort])
	if port, ok := l[stack.LabelGearmandPort]; ok {
		l[stack.LabelGearmandPort] = composeRef(portSetting[config.ServiceGearmand], port)
	}
	return l
}

// service is a container spec as a compose service.
func (c *composer) service(s docker.ContainerSpec) composeService {
	cs := composeService{
		ContainerName: s.Name, Image: s.Image, Entrypoint: s.Entrypoint, Command: s.Cmd, Environment: s.Env,
		StopSignal: s.StopSignal, User: s.User, Restart: s.Restart,
	}
	if s.Network == docker.NoNetwork {
		cs.NetworkMode = docker.NoNetwork
	} else {
		cs.Networks = map[string]composeAliases{"stack": {Aliases: s.Aliases}}
	}
	for _, p := range s.Ports {
		cs.Ports = append(cs.Ports, composePort{Target: p.ContainerPort, HostIP: p.HostIP, Protocol: "tcp"})
	}
	for _, m := range s.Mounts {
		cs.Volumes = append(cs.Volumes, composeMount{Type: "volume", Source: c.volumeKey(m.Volume), Target: m.Target, ReadOnly: m.ReadOnly, Volume: &composeNoCopy{true}})
	}
	for _, p := range slices.Sorted(maps.Keys(s.Tmpfs)) {
		cs.Tmpfs = append(cs.Tmpfs, strings.TrimSuffix(p+":"+s.Tmpfs[p], ":"))
	}
	if h := s.Health; h != nil {
		cs.Healthcheck = &composeHealth{Test: h.Test, Interval: h.Interval.String(), Timeout: h.Timeout.String(), Retries: h.Retries}
	}
	return cs
}

// initService does to a new stack what up does: it lays out the shared
// directory and, unless MySQL has devstack's marker, sets MySQL up and
// seeds it. It runs on the MySQL image (it has the mysql client), like the
// helper, whose spec it starts from.
func (c *composer) initService(helper docker.ContainerSpec) error {
	s := c.service(helper)
	// Unlike the helper, it reaches MySQL over the stack's network.
	s.NetworkMode, s.Networks = "", map[string]composeAliases{"stack": {}}
	s.ContainerName = stack.NamesFor(c.project).Network + "-" + stack.PartInit
	s.Labels = c.labels(stack.PartInit)
	s.Entrypoint = []string{"sh", "/devstack/init.sh"}
	s.Environment = map[string]string{
		"MYSQL_PWD":              composeRef("DEVSTACK_MYSQL_ROOT_PASSWORD", c.v.RootPassword),
		"DEVSTACK_APP_PASSWORD":  composeRef("DEVSTACK_MYSQL_PASSWORD", c.v.AppPassword),
		"DEVSTACK_SHARED_OWNER":  composeRef("DEVSTACK_SHARED_UID", strconv.Itoa(c.cfg.Shared.UID)) + ":" + composeRef("DEVSTACK_SHARED_GID", strconv.Itoa(c.cfg.Shared.GID)),
		"DEVSTACK_SHARED_FOLDER": stack.SharedDir,
	}
	s.StopSignal, s.Restart = "", "no"
	s.DependsOn = map[string]composeDependency{config.ServiceMySQL: {"service_healthy"}}
	addConfig := func(name, target, content string) {
		c.file.Configs[name] = composeConfig{Content: content}
		s.Configs = append(s.Configs, composeConfigMount{Source: name, Target: target})
	}
	script, err := c.initScript()
	if err != nil {
		return err
	}
	addConfig("init.sh", "/devstack/init.sh", script)
	for _, name := range slices.Sorted(maps.Keys(setup.Flavours)) {
		addConfig("setup-"+name+".sql", "/devstack/setup/"+name+".sql", sqlScript(setup.Script(setup.Flavours[name], appPasswordToken)))
	}
	if c.cfg.Schema == config.SchemaBuiltin {
		for _, db := range c.fx.Schema {
			s.Volumes = append(s.Volumes, composeMount{Type: "bind", Source: c.schemaPath(db.Database), Target: "/devstack/schema/" + db.Database + ".sql", ReadOnly: true})
		}
		rows, err := seed.NewSeeder(c.fx).Render(c.v.DashboardUUID, c.v.Created)
		if err != nil {
			return fmt.Errorf("cannot render the seed: %w", err)
		}
		addConfig("seed.sql", "/devstack/seed.sql", sqlScript(append(append([]string{"START TRANSACTION"}, rows...), "COMMIT")))
	}
	addConfig("folders", "/devstack/folders", strings.Join(shared.Folders(c.tree), "\n")+"\n")
	for _, f := range c.fx.Files {
		addConfig(path.Base(f.Path), "/devstack/shared/"+f.Path, string(f.Data))
	}
	c.file.Services[stack.PartInit] = s
	return nil
}

// schemaPath is where a database's schema file is, for the compose file:
// the built-in one relative to compose/, an override as it is.
func (c *composer) schemaPath(db string) string {
	_, p, _ := seed.Source{Dir: c.cfg.Fixtures}.Read("schema/" + db + ".sql")
	if strings.HasPrefix(p, "fixtures/") {
		return "../" + p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

func sqlScript(statements []string) string { return strings.Join(statements, ";\n") + ";\n" }

// appPasswordToken stands for the app password in the set-up SQL; the init
// script puts the password there from its environment.
const appPasswordToken = "@APP_PASSWORD@"

func (c *composer) initScript() (string, error) {
	var b bytes.Buffer
	err := initScript.Execute(&b, map[string]any{
		"Token": appPasswordToken, "TmpSuffix": shared.TmpSuffix, "Marked": setup.Marked(), "Mark": setup.Mark(),
		"Schemas": c.fx.Schema, "Loaded": setup.Loaded, "Checksum": "CHECKSUM TABLE " + strings.Join(setup.BaselineTables(c.fx.Schema), ", "),
		"BaselineInsert": setup.BaselineInsert, "Builtin": c.cfg.Schema == config.SchemaBuiltin,
	})
	return b.String(), err
}

var initScript = texttemplate.Must(texttemplate.New("init.sh").Parse(`# devstack's init step for a stack made by docker compose: what ` + "`devstack up`" + `
# does to a new stack. It lays out the shared directory, then, unless MySQL
# holds devstack's set-up marker, sets MySQL up: databases, app user, schema,
# seeded rows, the baseline a reset returns to, and the marker, last.
# Rendered by ` + "`devstack compose`" + `.
set -eu
sql() { mysql --protocol=tcp -h mysql -u root "$@"; }

n=0
until sql -e 'SELECT 1' >/dev/null 2>&1; do
	n=$((n + 1))
	if [ "$n" -ge 180 ]; then
		echo "devstack init: MySQL does not answer root at mysql:3306 after 3 minutes" >&2
		exit 1
	fi
	sleep 1
done

# Folders, parents first; files under a temporary name, renamed into place.
while IFS= read -r d; do
	mkdir -p "$DEVSTACK_SHARED_FOLDER/$d"
	chown "$DEVSTACK_SHARED_OWNER" "$DEVSTACK_SHARED_FOLDER/$d"
	chmod 0770 "$DEVSTACK_SHARED_FOLDER/$d"
done </devstack/folders
cd /devstack/shared
find . ! -type d | while IFS= read -r f; do
	tmp="$DEVSTACK_SHARED_FOLDER/$f{{.TmpSuffix}}"
	cp "$f" "$tmp"
	chown "$DEVSTACK_SHARED_OWNER" "$tmp"
	chmod 0660 "$tmp"
	mv -f "$tmp" "$DEVSTACK_SHARED_FOLDER/$f"
done

if [ "$(sql -N -e '{{.Marked}}' 2>/dev/null || echo 0)" != 0 ]; then
	echo "devstack init: MySQL is set up already"
	exit 0
fi

version=$(sql -N -e 'SELECT VERSION()')
case "$version" in
*MariaDB*) flavour=mariadb ;;
*)
	flavour=mysql
	native=$(sql -N -e "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'mysql_native_password' AND PLUGIN_STATUS = 'ACTIVE'")
	[ "$native" = 0 ] || flavour=mysql-native
	;;
esac
echo "devstack init: setting up MySQL $version"
# The app password goes into the SQL here, from the environment, quotes doubled.
awk 'BEGIN { pw = ENVIRON["DEVSTACK_APP_PASSWORD"]; gsub(/\047/, "\047\047", pw) }
{
	out = ""
	while ((i = index($0, "{{.Token}}")) > 0) {
		out = out substr($0, 1, i - 1) pw
		$0 = substr($0, i + length("{{.Token}}"))
	}
	print out $0
}' "/devstack/setup/$flavour.sql" | sql
{{if .Builtin}}
# Each schema once; a load that was cut short is dropped and done again.
load() {
	[ "$(sql -N -e "SELECT COUNT(*) FROM devstack.schema_loads WHERE db = '$1'")" = 0 ] || return 0
	if [ "$(sql -N -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$1'")" != 0 ]; then
		charset=$(sql -N -e "SELECT CONCAT('CHARACTER SET ', default_character_set_name, ' COLLATE ', default_collation_name) FROM information_schema.schemata WHERE schema_name = '$1'")
		sql -e "DROP DATABASE \` + "`" + `$1\` + "`" + `; CREATE DATABASE \` + "`" + `$1\` + "`" + ` $charset"
	fi
	echo "devstack init: loading the schema of $1"
	sql "$1" <"/devstack/schema/$1.sql"
	sql -e "$2"
}
{{range .Schemas}}load {{.Database}} "{{call $.Loaded .}}"
{{end}}
# The seed commits in one transaction with the password cache's rows: rows
# there mean it is done.
if [ "$(sql -N -e 'SELECT COUNT(*) FROM devstack.password_hashes')" = 0 ]; then
	echo "devstack init: seeding"
	sql </devstack/seed.sql
fi
sql -N -e '{{.Checksum}}' |
	awk '$2 != "NULL" { split($1, t, "."); printf "{{.BaselineInsert}}(\047%s\047, \047%s\047, %s);\n", t[1], t[2], $2 }' | sql
{{end}}
sql -e '{{.Mark}}'
echo "devstack init: done"
`))

// composeHeader says what the file is and how to use it.
const composeHeader = `# devstack's stack as plain Docker Compose: what ` + "`devstack up`" + ` makes for
# the default config. Generated by ` + "`devstack compose`" + ` (make compose); do not edit.
#
#   docker compose -f compose/docker-compose.yml up --wait
#
# The variables devstack reads set it as they set devstack: DEVSTACK_PROJECT,
# DEVSTACK_MYSQL_IMAGE, DEVSTACK_MYSQL_PORT, DEVSTACK_MYSQL_ROOT_PASSWORD,
# DEVSTACK_MYSQL_PASSWORD, DEVSTACK_REDIS_IMAGE, DEVSTACK_REDIS_PORT,
# DEVSTACK_REDIS_PASSWORD, DEVSTACK_SHARED_UID and DEVSTACK_SHARED_GID
# (fixed ports only). What devstack would choose at a first up is fixed:
# MySQL root password devstack-root, app password devstack, dashboard UUID
# d5a7b1e0-4c1f-4f1e-9b7a-0e3c5f6a8d21, creation time 2025-01-01T00:00:00Z.
# The result is devstack's own stack: devstack status, env, seed, reset and
# up work on it, and up finds nothing to do.
`
