// Package config is devstack's configuration: devstack.yaml, DEVSTACK_*
// variables and flags merged (a flag over a variable over the file over the
// default), checked, and with where each setting came from.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// Config is the user's configuration after file, environment and flags have
// been merged. Zero ports mean "pick a free one once"; empty passwords mean
// "generate once".
type Config struct {
	Project string
	MySQL   MySQLConfig
	Redis   RedisConfig
	// Gearmand is the job server, off unless enabled.
	Gearmand GearmandConfig
	Shared   SharedConfig
	// Fixtures is a directory whose files override the embedded defaults.
	Fixtures string
	// Schema is SchemaBuiltin or SchemaNone (the apps run their own
	// migrations).
	Schema string
	// Host is the address published ports are reached on.
	Host string
	// Bind is the address of the engine's machine the ports are published
	// on ("" is 127.0.0.1): set by Reach for a remote engine.
	Bind string
	// Targets are environments devstack did not make, to bootstrap or
	// check (devstack.yaml's targets), by name.
	Targets map[string]TargetConfig
	// Sources say where each setting that is not a default came from, by
	// key: the variable (DEVSTACK_MYSQL_IMAGE), the file and line
	// (devstack.yaml:3) or the flag (--project).
	Sources map[string]string
}

// Source records where key's value came from.
func (c *Config) Source(key, from string) {
	if c.Sources == nil {
		c.Sources = map[string]string{}
	}
	c.Sources[key] = from
}

type MySQLConfig struct {
	Image        string
	Port         int
	RootPassword string
	Password     string
	// ServerOptions are the options the server runs with: devstack's
	// development settings as mysql.server_options changed them.
	ServerOptions []ServerOption
}

type RedisConfig struct {
	Image    string
	Port     int
	Password string
}

// GearmandConfig is the opt-in job server: gearmand with its queue in the
// stack's Redis, as production ran it.
type GearmandConfig struct {
	Enabled bool
	Image   string
	Port    int
}

// Services are the stack's services under this configuration, in the order
// they are reported.
func (c Config) Services() []string {
	if c.Gearmand.Enabled {
		return []string{ServiceMySQL, ServiceRedis, ServiceGearmand}
	}
	return []string{ServiceMySQL, ServiceRedis}
}

type SharedConfig struct {
	UID int
	GID int
}

// Owner is who owns what devstack writes to the shared directory.
func (s SharedConfig) Owner() shared.Owner { return shared.Owner{UID: s.UID, GID: s.GID} }

// String is the owner as uid:gid.
func (s SharedConfig) String() string { return strconv.Itoa(s.UID) + ":" + strconv.Itoa(s.GID) }

// The values of the schema setting: devstack's built-in schema, or none
// (the apps migrate their own tables).
const (
	SchemaBuiltin = "builtin"
	SchemaNone    = "none"
)

// DefaultConfig is what devstack uses when nothing is configured.
func DefaultConfig() Config {
	return Config{
		Project: DefaultProject,
		MySQL:   MySQLConfig{Image: "mysql:8.0", Port: 63306, ServerOptions: DevServerOptions},
		Redis:   RedisConfig{Image: "redis:7.2", Port: 63379},
		// The image Archivematica's own development environment runs.
		Gearmand: GearmandConfig{Image: "artefactual/gearmand:1.1.18-alpine", Port: 64730},
		Shared:   SharedConfig{UID: 1000, GID: 1000},
		Schema:   SchemaBuiltin,
		Host:     "127.0.0.1",
	}
}

// Setting is one row of the configuration table (docs/architecture.md): the key in
// devstack.yaml, its environment variable, and how a string value is applied.
// A setting whose value is a YAML node (a mapping) reads its variable as
// YAML too.
type Setting struct {
	Key   string
	Env   string
	apply func(c *Config, v string) error
	node  func(c *Config, n *yaml.Node) error
}

// set applies a value from the environment.
func (s Setting) set(c *Config, v string) error {
	if s.node == nil {
		return s.apply(c, v)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v), &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("is not YAML: %q", v)
	}
	return s.node(c, doc.Content[0])
}

// setNode applies a value from devstack.yaml.
func (s Setting) setNode(c *Config, n *yaml.Node) error {
	if s.node == nil {
		return s.apply(c, n.Value)
	}
	return s.node(c, n)
}

var Settings = []Setting{
	{"project", "DEVSTACK_PROJECT", func(c *Config, v string) error { c.Project = v; return nil }, nil},
	{"mysql.image", "DEVSTACK_MYSQL_IMAGE", setString(func(c *Config) *string { return &c.MySQL.Image }), nil},
	{"mysql.port", "DEVSTACK_MYSQL_PORT", setPort(func(c *Config) *int { return &c.MySQL.Port }), nil},
	{"mysql.root_password", "DEVSTACK_MYSQL_ROOT_PASSWORD", setPassword(func(c *Config) *string { return &c.MySQL.RootPassword }), nil},
	{"mysql.password", "DEVSTACK_MYSQL_PASSWORD", setPassword(func(c *Config) *string { return &c.MySQL.Password }), nil},
	{"mysql.server_options", "DEVSTACK_MYSQL_SERVER_OPTIONS", nil, func(c *Config, n *yaml.Node) (err error) {
		c.MySQL.ServerOptions, err = applyServerOptions(c.MySQL.ServerOptions, n)
		return err
	}},
	{"redis.image", "DEVSTACK_REDIS_IMAGE", setString(func(c *Config) *string { return &c.Redis.Image }), nil},
	{"redis.port", "DEVSTACK_REDIS_PORT", setPort(func(c *Config) *int { return &c.Redis.Port }), nil},
	{"redis.password", "DEVSTACK_REDIS_PASSWORD", setPassword(func(c *Config) *string { return &c.Redis.Password }), nil},
	{"gearmand.enabled", "DEVSTACK_GEARMAND_ENABLED", setBool(func(c *Config) *bool { return &c.Gearmand.Enabled }), nil},
	{"gearmand.image", "DEVSTACK_GEARMAND_IMAGE", setString(func(c *Config) *string { return &c.Gearmand.Image }), nil},
	{"gearmand.port", "DEVSTACK_GEARMAND_PORT", setPort(func(c *Config) *int { return &c.Gearmand.Port }), nil},
	{"shared.uid", "DEVSTACK_SHARED_UID", setID(func(c *Config) *int { return &c.Shared.UID }), nil},
	{"shared.gid", "DEVSTACK_SHARED_GID", setID(func(c *Config) *int { return &c.Shared.GID }), nil},
	{"fixtures", "DEVSTACK_FIXTURES", setString(func(c *Config) *string { return &c.Fixtures }), nil},
	{"schema", "DEVSTACK_SCHEMA", func(c *Config, v string) error {
		if v != SchemaBuiltin && v != SchemaNone {
			return fmt.Errorf("must be %s or %s, not %q", SchemaBuiltin, SchemaNone, v)
		}
		c.Schema = v
		return nil
	}, nil},
	{"host", "DEVSTACK_HOST", setHost, nil},
}

// The setters apply a value to a field of a Config, or of a TargetConfig.

func setString[T any](field func(*T) *string) func(*T, string) error {
	return func(c *T, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		*field(c) = v
		return nil
	}
}

func setBool[T any](field func(*T) *bool) func(*T, string) error {
	return func(c *T, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", v)
		}
		*field(c) = b
		return nil
	}
}

// maxPassword bounds a password: it rides in a container's environment
// and command line, where megabytes fail only as the container starts.
const maxPassword = 256

// setPassword takes any password a line of an env file can carry: quotes,
// '$', '#', '!' and backticks are quoted where they are written. Refused:
// newline, CR and NUL, which no env file can hold, and the backslash, which
// dotenv parsers read back differently inside quotes (compose keeps it, the
// dotenv libraries drop it before a quote or another backslash).
func setPassword(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" || len(v) > maxPassword || strings.ContainsAny(v, "\n\r\x00\\") {
			return fmt.Errorf("must be 1 to %d characters, without newline, CR, NUL or backslash", maxPassword)
		}
		*field(c) = v
		return nil
	}
}

// setHost takes the address published ports are reached on: an IP address,
// or a name that resolves now.
func setHost(c *Config, v string) error {
	v = strings.TrimSpace(v)
	if _, err := netip.ParseAddr(v); err != nil {
		if v == "" {
			return errors.New("must not be empty")
		}
		if _, err := net.LookupHost(v); err != nil {
			return fmt.Errorf("%q is neither an IP address nor a name that resolves", v)
		}
	}
	c.Host = v
	return nil
}

func setPort(field func(*Config) *int) func(*Config, string) error {
	return setInt(field, 0, 65535, "a port from 0 to 65535 (0 = a free port)")
}

func setID[T any](field func(*T) *int) func(*T, string) error {
	return setInt(field, 0, 1<<31-1, "a numeric uid/gid")
}

func setInt[T any](field func(*T) *int, lo, hi int, what string) func(*T, string) error {
	return func(c *T, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be %s, not %q", what, v)
		}
		*field(c) = n
		return nil
	}
}

// LoadOptions says where configuration comes from. Flags hold only the
// settings given on the command line.
type LoadOptions struct {
	// File is the config file; empty means ./devstack.yaml when it exists.
	File string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Project is the --project flag, empty when not given.
	Project string
}

// Load merges default < file < environment < flags and validates the
// result. Every error names the key, variable or flag at fault.
func Load(opts LoadOptions) (Config, error) {
	cfg := DefaultConfig()
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	file := opts.File
	if file == "" {
		if _, err := os.Stat("devstack.yaml"); err == nil {
			file = "devstack.yaml"
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return cfg, fault.Usage("cannot read config %s: %v", file, errors.Unwrap(err))
		}
		if err := applyFile(&cfg, file, data); err != nil {
			return cfg, err
		}
	}
	for _, s := range Settings {
		if v, ok := lookupEnv(getenv, s.Env); ok {
			if err := s.set(&cfg, v); err != nil {
				return cfg, fault.Usage("%s: %v", s.Env, err)
			}
			cfg.Source(s.Key, s.Env)
		}
	}
	if opts.Project != "" {
		cfg.Project = opts.Project
		cfg.Source("project", "--project")
	}
	if err := ValidateProject(cfg.Project); err != nil {
		return cfg, err
	}
	if err := distinctPorts(cfg); err != nil {
		return cfg, err
	}
	if cfg.Fixtures != "" {
		if st, err := os.Stat(cfg.Fixtures); err != nil || !st.IsDir() {
			return cfg, fault.Usage("fixtures: %q is not a directory", cfg.Fixtures)
		}
	}
	return cfg, nil
}

// distinctPorts refuses two services on one fixed host port.
func distinctPorts(cfg Config) error {
	ports := map[string]int{"mysql.port": cfg.MySQL.Port, "redis.port": cfg.Redis.Port}
	if cfg.Gearmand.Enabled {
		ports["gearmand.port"] = cfg.Gearmand.Port
	}
	seen := map[int]string{}
	for _, key := range slices.Sorted(maps.Keys(ports)) {
		p := ports[key]
		if other, ok := seen[p]; ok && p != 0 {
			return fault.Usage("%s and %s are both %d: give them different ports", other, key, p)
		}
		seen[p] = key
	}
	return nil
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// applyFile reads devstack.yaml. Keys are checked against the table before any
// value is applied, so a typo is reported as the typo it is.
func applyFile(cfg *Config, file string, data []byte) error {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fault.Usage("%s: invalid YAML: %v", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil
	}
	values := map[string]*yaml.Node{}
	if err := flatten(file, "", root.Content[0], fileKeys, values); err != nil {
		return err
	}
	if n, ok := values["targets"]; ok {
		targets, err := parseTargets(file, n)
		if err != nil {
			return err
		}
		cfg.Targets = targets
		delete(values, "targets")
	}
	for _, s := range Settings {
		n, ok := values[s.Key]
		if !ok {
			continue
		}
		if err := s.setNode(cfg, n); err != nil {
			return fault.Usage("%s:%d: %s %v", file, n.Line, s.Key, err)
		}
		cfg.Source(s.Key, fmt.Sprintf("%s:%d", file, n.Line))
	}
	// A relative fixtures path in a file means relative to that file, so the
	// config works from any directory.
	if _, ok := values["fixtures"]; ok && !filepath.IsAbs(cfg.Fixtures) {
		cfg.Fixtures = filepath.Join(filepath.Dir(file), cfg.Fixtures)
	}
	return nil
}

// keySet is what keys a mapping of devstack.yaml holds: the file's
// settings and targets, or a target's keys.
type keySet struct {
	// keys are every key, dotted (mysql.image).
	keys []string
	// whole are keys whose value is kept as it is, a mapping or not.
	whole []string
	// base names the mapping in messages: "" or "targets.NAME.".
	base string
}

// fileKeys are the keys of devstack.yaml's top level.
var fileKeys = func() keySet {
	ks := keySet{}
	for _, s := range Settings {
		ks.keys = append(ks.keys, s.Key)
		if s.node != nil {
			ks.whole = append(ks.whole, s.Key)
		}
	}
	ks.keys = append(ks.keys, "targets")
	ks.whole = append(ks.whole, "targets")
	return ks
}()

func (ks keySet) section(key string) bool {
	return slices.ContainsFunc(ks.keys, func(k string) bool { return strings.HasPrefix(k, key+".") })
}

// flatten puts each key of the mapping n, under prefix, in out by its dotted
// name, refusing what ks does not know.
func flatten(file, prefix string, n *yaml.Node, ks keySet, out map[string]*yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		where := "the top level"
		if ks.base+prefix != "" {
			where = strings.TrimSuffix(ks.base+prefix, ".")
		}
		return fault.Usage("%s:%d: %s must be a mapping of keys to values", file, n.Line, where)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		name := ks.base + key
		switch {
		case seen[key]:
			return fault.Usage("%s:%d: %s is given twice", file, k.Line, name)
		case slices.Contains(ks.whole, key):
			out[key] = v
		case ks.section(key) && v.Kind == yaml.MappingNode:
			if err := flatten(file, key+".", v, ks, out); err != nil {
				return err
			}
		case ks.section(key):
			return fault.Usage("%s:%d: %s must be a mapping of keys to values", file, v.Line, name)
		case !slices.Contains(ks.keys, key):
			return fault.Usage("%s:%d: unknown key %q (known keys: %s)", file, k.Line, name, strings.Join(ks.keys, ", "))
		case v.Kind != yaml.ScalarNode:
			return fault.Usage("%s:%d: %s must be a single value", file, v.Line, name)
		default:
			out[key] = v
		}
		seen[key] = true
	}
	return nil
}

// BindAddress is the address ports are published on.
func (c Config) BindAddress() string {
	if c.Bind == "" {
		return "127.0.0.1"
	}
	return c.Bind
}
