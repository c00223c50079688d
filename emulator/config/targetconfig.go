package config

import (
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wellcomecollection/devstack/emulator/fault"
)

// UnsetID is a shared.uid or gid that nothing set: the config's applies.
const UnsetID = -1

// TargetConfig describes an environment devstack did not make, to
// bootstrap or check (`devstack target`): devstack.yaml's targets.<name>,
// with flags over it. Secrets never come as values: a password is read from
// the environment variable or the file named.
type TargetConfig struct {
	MySQLHost         string
	MySQLPort         int
	MySQLUser         string
	MySQLPasswordEnv  string
	MySQLPasswordFile string
	MySQLTLS          bool
	MySQLCA           string
	// AppPasswordEnv and AppPasswordFile give the app user's password, for
	// a user apply makes; without them it generates one.
	AppPasswordEnv  string
	AppPasswordFile string
	// Redis is checked when RedisHost is set.
	RedisHost         string
	RedisPort         int
	RedisPasswordEnv  string
	RedisPasswordFile string
	RedisTLS          bool
	// SharedPath is a local folder (an EFS or NFS mount); SharedVolume a
	// Docker volume on a local engine. One of them.
	SharedPath   string
	SharedVolume string
	SharedUID    int
	SharedGID    int
	// Fixtures is a fixtures directory for this target, over the config's.
	Fixtures string
}

// targetSetting is one key of a target, as in devstack.yaml and as a flag
// (--mysql-host for mysql.host).
type targetSetting struct {
	key   string
	help  string
	Apply func(t *TargetConfig, v string) error
	// path: a file or folder, relative to the config file in it.
	path bool
	// boolean: true or false; its flag alone means true.
	boolean bool
}

// TargetSettings are a target's keys; the CLI makes a flag of each.
var TargetSettings = []targetSetting{
	{key: "mysql.host", help: "the MySQL server's host", Apply: setString(func(t *TargetConfig) *string { return &t.MySQLHost })},
	{key: "mysql.port", help: "the MySQL server's port (default 3306)", Apply: setInt(func(t *TargetConfig) *int { return &t.MySQLPort }, 1, 65535, "a port")},
	{key: "mysql.user", help: "the admin account that bootstraps the server", Apply: setString(func(t *TargetConfig) *string { return &t.MySQLUser })},
	{key: "mysql.password_env", help: "the environment variable holding the admin's password", Apply: setString(func(t *TargetConfig) *string { return &t.MySQLPasswordEnv })},
	{key: "mysql.password_file", help: "a file holding the admin's password", Apply: setString(func(t *TargetConfig) *string { return &t.MySQLPasswordFile }), path: true},
	{key: "mysql.tls", help: "connect over TLS, checking the server's certificate (RDS requires it)", Apply: setBool(func(t *TargetConfig) *bool { return &t.MySQLTLS }), boolean: true},
	{key: "mysql.ca", help: "a PEM file of the CA that signs the server's certificate (implies TLS)", Apply: setString(func(t *TargetConfig) *string { return &t.MySQLCA }), path: true},
	{key: "mysql.app_password_env", help: "the environment variable holding the password for the app user apply makes", Apply: setString(func(t *TargetConfig) *string { return &t.AppPasswordEnv })},
	{key: "mysql.app_password_file", help: "a file holding the password for the app user apply makes", Apply: setString(func(t *TargetConfig) *string { return &t.AppPasswordFile }), path: true},
	{key: "redis.host", help: "the Redis to check (optional)", Apply: setString(func(t *TargetConfig) *string { return &t.RedisHost })},
	{key: "redis.port", help: "Redis's port (default 6379)", Apply: setInt(func(t *TargetConfig) *int { return &t.RedisPort }, 1, 65535, "a port")},
	{key: "redis.password_env", help: "the environment variable holding Redis's password", Apply: setString(func(t *TargetConfig) *string { return &t.RedisPasswordEnv })},
	{key: "redis.password_file", help: "a file holding Redis's password", Apply: setString(func(t *TargetConfig) *string { return &t.RedisPasswordFile }), path: true},
	{key: "redis.tls", help: "connect to Redis over TLS", Apply: setBool(func(t *TargetConfig) *bool { return &t.RedisTLS }), boolean: true},
	{key: "shared.path", help: "the shared directory: a local folder, such as an EFS or NFS mount", Apply: setString(func(t *TargetConfig) *string { return &t.SharedPath }), path: true},
	{key: "shared.volume", help: "the shared directory: a Docker volume on a local engine", Apply: setString(func(t *TargetConfig) *string { return &t.SharedVolume })},
	{key: "shared.uid", help: "the owner of what devstack writes there (default shared.uid)", Apply: setID(func(t *TargetConfig) *int { return &t.SharedUID })},
	{key: "shared.gid", help: "its group (default shared.gid)", Apply: setID(func(t *TargetConfig) *int { return &t.SharedGID })},
	{key: "fixtures", help: "a fixtures directory for this target (default the config's)", Apply: setString(func(t *TargetConfig) *string { return &t.Fixtures }), path: true},
}

// Flag is the key's flag name: mysql.password_env is --mysql-password-env.
func (s targetSetting) Flag() string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(s.key)
}

func (s targetSetting) Key() string  { return s.key }
func (s targetSetting) Help() string { return s.help }
func (s targetSetting) Bool() bool   { return s.boolean }

var targetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// parseTargets reads devstack.yaml's targets: a mapping of names to
// targets, each checked key by key like the rest of the file.
func parseTargets(file string, n *yaml.Node) (map[string]TargetConfig, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fault.Usage("%s:%d: targets must be a mapping of target names to targets", file, n.Line)
	}
	out := map[string]TargetConfig{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !targetName.MatchString(k.Value) {
			return nil, fault.Usage("%s:%d: invalid target name %q: use letters, digits, '_', '.' and '-'", file, k.Line, k.Value)
		}
		values := map[string]*yaml.Node{}
		ks := keySet{base: "targets." + k.Value + "."}
		for _, s := range TargetSettings {
			ks.keys = append(ks.keys, s.key)
		}
		if err := flatten(file, "", v, ks, values); err != nil {
			return nil, err
		}
		t := TargetConfig{SharedUID: UnsetID, SharedGID: UnsetID}
		for _, s := range TargetSettings {
			node, ok := values[s.key]
			if !ok {
				continue
			}
			val := node.Value
			if s.path && !filepath.IsAbs(val) {
				val = filepath.Join(filepath.Dir(file), val)
			}
			if err := s.Apply(&t, val); err != nil {
				return nil, fault.Usage("%s:%d: targets.%s.%s %v", file, node.Line, k.Value, s.key, err)
			}
		}
		out[k.Value] = t
	}
	return out, nil
}
