package emulator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/shared"
	tgt "github.com/wellcomecollection/devstack/emulator/target"
)

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
	apply func(t *TargetConfig, v string) error
	// path: a file or folder, relative to the config file in it.
	path bool
	// boolean: true or false; its flag alone means true.
	boolean bool
}

// TargetSettings are a target's keys; the CLI makes a flag of each.
var TargetSettings = []targetSetting{
	{key: "mysql.host", help: "the MySQL server's host", apply: setString(func(t *TargetConfig) *string { return &t.MySQLHost })},
	{key: "mysql.port", help: "the MySQL server's port (default 3306)", apply: setInt(func(t *TargetConfig) *int { return &t.MySQLPort }, 1, 65535, "a port")},
	{key: "mysql.user", help: "the admin account that bootstraps the server", apply: setString(func(t *TargetConfig) *string { return &t.MySQLUser })},
	{key: "mysql.password_env", help: "the environment variable holding the admin's password", apply: setString(func(t *TargetConfig) *string { return &t.MySQLPasswordEnv })},
	{key: "mysql.password_file", help: "a file holding the admin's password", apply: setString(func(t *TargetConfig) *string { return &t.MySQLPasswordFile }), path: true},
	{key: "mysql.tls", help: "connect over TLS, checking the server's certificate (RDS requires it)", apply: setBool(func(t *TargetConfig) *bool { return &t.MySQLTLS }), boolean: true},
	{key: "mysql.ca", help: "a PEM file of the CA that signs the server's certificate (implies TLS)", apply: setString(func(t *TargetConfig) *string { return &t.MySQLCA }), path: true},
	{key: "mysql.app_password_env", help: "the environment variable holding the password for the app user apply makes", apply: setString(func(t *TargetConfig) *string { return &t.AppPasswordEnv })},
	{key: "mysql.app_password_file", help: "a file holding the password for the app user apply makes", apply: setString(func(t *TargetConfig) *string { return &t.AppPasswordFile }), path: true},
	{key: "redis.host", help: "the Redis to check (optional)", apply: setString(func(t *TargetConfig) *string { return &t.RedisHost })},
	{key: "redis.port", help: "Redis's port (default 6379)", apply: setInt(func(t *TargetConfig) *int { return &t.RedisPort }, 1, 65535, "a port")},
	{key: "redis.password_env", help: "the environment variable holding Redis's password", apply: setString(func(t *TargetConfig) *string { return &t.RedisPasswordEnv })},
	{key: "redis.password_file", help: "a file holding Redis's password", apply: setString(func(t *TargetConfig) *string { return &t.RedisPasswordFile }), path: true},
	{key: "redis.tls", help: "connect to Redis over TLS", apply: setBool(func(t *TargetConfig) *bool { return &t.RedisTLS }), boolean: true},
	{key: "shared.path", help: "the shared directory: a local folder, such as an EFS or NFS mount", apply: setString(func(t *TargetConfig) *string { return &t.SharedPath }), path: true},
	{key: "shared.volume", help: "the shared directory: a Docker volume on a local engine", apply: setString(func(t *TargetConfig) *string { return &t.SharedVolume })},
	{key: "shared.uid", help: "the owner of what devstack writes there (default shared.uid)", apply: setID(func(t *TargetConfig) *int { return &t.SharedUID })},
	{key: "shared.gid", help: "its group (default shared.gid)", apply: setID(func(t *TargetConfig) *int { return &t.SharedGID })},
	{key: "fixtures", help: "a fixtures directory for this target (default the config's)", apply: setString(func(t *TargetConfig) *string { return &t.Fixtures }), path: true},
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
		t := TargetConfig{SharedUID: unsetID, SharedGID: unsetID}
		for _, s := range TargetSettings {
			node, ok := values[s.key]
			if !ok {
				continue
			}
			val := node.Value
			if s.path && !filepath.IsAbs(val) {
				val = filepath.Join(filepath.Dir(file), val)
			}
			if err := s.apply(&t, val); err != nil {
				return nil, fault.Usage("%s:%d: targets.%s.%s %v", file, node.Line, k.Value, s.key, err)
			}
		}
		out[k.Value] = t
	}
	return out, nil
}

// TargetOptions are a target command's flags, by key (mysql.host), over
// the file's target of the same name, which need not exist.
type TargetOptions struct {
	Flags map[string]string
}

// unsetID is a shared.uid or gid that nothing set: the config's applies.
const unsetID = -1

// resolveTarget is the named target: the file's, the flags over it, with
// defaults, its secrets read, and a shared volume resolved to its folder.
func resolveTarget(ctx context.Context, cfg Config, name string, opts TargetOptions) (tgt.Target, *seed.Fixtures, shared.Tree, error) {
	fail := func(format string, args ...any) (tgt.Target, *seed.Fixtures, shared.Tree, error) {
		return tgt.Target{}, nil, shared.Tree{}, fault.Usage("target %s: "+format, append([]any{name}, args...)...)
	}
	tc, inFile := cfg.Targets[name]
	if !inFile {
		if len(opts.Flags) == 0 {
			known := strings.Join(slices.Sorted(maps.Keys(cfg.Targets)), ", ")
			if known == "" {
				known = "none"
			}
			return fail("no such target in the configuration (targets: %s), and no flags describe one", known)
		}
		tc = TargetConfig{SharedUID: unsetID, SharedGID: unsetID}
	}
	for _, s := range TargetSettings {
		if v, ok := opts.Flags[s.key]; ok {
			if err := s.apply(&tc, v); err != nil {
				return fail("--%s %v", s.Flag(), err)
			}
		}
	}
	if tc.MySQLPort == 0 {
		tc.MySQLPort = 3306
	}
	if tc.RedisPort == 0 {
		tc.RedisPort = 6379
	}
	if tc.SharedUID == unsetID {
		tc.SharedUID = cfg.Shared.UID
	}
	if tc.SharedGID == unsetID {
		tc.SharedGID = cfg.Shared.GID
	}
	switch {
	case tc.MySQLHost == "":
		return fail("mysql.host is not set (--mysql-host)")
	case tc.MySQLUser == "":
		return fail("mysql.user is not set (--mysql-user): the admin account that bootstraps the server")
	case (tc.SharedPath == "") == (tc.SharedVolume == ""):
		return fail("give the shared directory as shared.path (a local folder) or shared.volume (a Docker volume), one of them")
	}
	password, err := secret(tc.MySQLPasswordEnv, tc.MySQLPasswordFile, true)
	if err != nil {
		return fail("mysql password: %v", err)
	}
	app, err := secret(tc.AppPasswordEnv, tc.AppPasswordFile, false)
	if err != nil {
		return fail("app password: %v", err)
	}
	t := tgt.Target{Name: name, AppPassword: app,
		MySQL:  tgt.MySQL{Host: tc.MySQLHost, Port: tc.MySQLPort, User: tc.MySQLUser, Password: password, TLS: tc.MySQLTLS || tc.MySQLCA != "", CA: tc.MySQLCA},
		Shared: tgt.Shared{Path: tc.SharedPath, Owner: shared.Owner{UID: tc.SharedUID, GID: tc.SharedGID}}}
	if tc.RedisHost != "" {
		pw, err := secret(tc.RedisPasswordEnv, tc.RedisPasswordFile, false)
		if err != nil {
			return fail("redis password: %v", err)
		}
		t.Redis = &tgt.Redis{Host: tc.RedisHost, Port: tc.RedisPort, Password: pw, TLS: tc.RedisTLS}
	}
	if tc.SharedVolume != "" {
		if t.Shared.Path, err = volumeFolder(ctx, tc.SharedVolume); err != nil {
			return tgt.Target{}, nil, shared.Tree{}, fmt.Errorf("target %s: %w", name, err)
		}
	}
	fcfg := cfg
	if tc.Fixtures != "" {
		fcfg.Fixtures = tc.Fixtures
	}
	fx, err := loadFixtures(fcfg)
	if err != nil {
		return tgt.Target{}, nil, shared.Tree{}, err
	}
	return t, fx, shared.Tree{Dirs: fx.Layout, Files: fx.Files, Owner: t.Shared.Owner}, nil
}

// secret reads a password from the environment variable or the file named;
// required says one of them must be given.
func secret(env, file string, required bool) (string, error) {
	switch {
	case env != "" && file != "":
		return "", errors.New("give the variable or the file, not both")
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("the environment variable %s is not set", env)
		}
		return v, nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %v", file, errors.Unwrap(err))
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	case required:
		return "", errors.New("name the environment variable (password_env) or the file (password_file) that holds it; passwords are never given as values")
	}
	return "", nil
}

// volumeFolder is a Docker volume's folder on a local engine, which
// devstack reads and writes as the shared directory.
func volumeFolder(ctx context.Context, volume string) (string, error) {
	e, err := Connect(ctx)
	if err != nil {
		return "", err
	}
	defer e.Close()
	if !e.local() {
		return "", fault.Usage("shared.volume needs a Docker engine on this machine (it reads the volume's folder): mount the share here and give shared.path instead")
	}
	v, err := e.d.Volume(ctx, volume)
	if isNotFound(err) {
		return "", fault.Usage("shared.volume: no Docker volume %q", volume)
	}
	if err != nil {
		return "", err
	}
	return v.Mountpoint, nil
}

// targetError classifies what went wrong on a target.
func targetError(name string, err error) error {
	var de *fault.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, tgt.ErrRefused), errors.Is(err, tgt.ErrSharedDir):
		return fault.Usage("target %s: %v", name, err)
	}
	return fault.Env(err, "target %s: %v", name, err)
}

// PlanTarget plans the bootstrap of a target, reading it only.
func PlanTarget(ctx context.Context, cfg Config, name string, opts TargetOptions) (*tgt.Plan, error) {
	t, fx, tree, err := resolveTarget(ctx, cfg, name, opts)
	if err != nil {
		return nil, err
	}
	p, err := tgt.Inspect(ctx, t, fx, tree)
	return p, targetError(name, err)
}

// ApplyTarget bootstraps a target as its plan says, once review (which
// shows the plan, and may ask) lets it.
func ApplyTarget(ctx context.Context, cfg Config, name string, opts TargetOptions, review func(*tgt.Plan) error) (*tgt.Result, error) {
	t, fx, tree, err := resolveTarget(ctx, cfg, name, opts)
	if err != nil {
		return nil, err
	}
	r, err := tgt.Apply(ctx, t, fx, tree, NewSecret, review)
	return r, targetError(name, err)
}

// VerifyTarget reports how a target differs from what devstack makes.
func VerifyTarget(ctx context.Context, cfg Config, name string, opts TargetOptions) (*tgt.Report, error) {
	t, fx, tree, err := resolveTarget(ctx, cfg, name, opts)
	if err != nil {
		return nil, err
	}
	r, err := tgt.Verify(ctx, t, fx, tree)
	return r, targetError(name, err)
}
