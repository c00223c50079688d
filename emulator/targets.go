package emulator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/shared"
	tgt "github.com/wellcomecollection/devstack/emulator/target"
)

// TargetOptions are a target command's flags, by key (mysql.host), over
// the file's target of the same name, which need not exist.
type TargetOptions struct {
	Flags map[string]string
}

// resolveTarget is the named target: the file's, the flags over it, with
// defaults, its secrets read, and a shared volume resolved to its folder.
func resolveTarget(ctx context.Context, cfg config.Config, name string, opts TargetOptions) (tgt.Target, *seed.Fixtures, shared.Tree, error) {
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
		tc = config.TargetConfig{SharedUID: config.UnsetID, SharedGID: config.UnsetID}
	}
	for _, s := range config.TargetSettings {
		if v, ok := opts.Flags[s.Key()]; ok {
			if err := s.Apply(&tc, v); err != nil {
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
	if tc.SharedUID == config.UnsetID {
		tc.SharedUID = cfg.Shared.UID
	}
	if tc.SharedGID == config.UnsetID {
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
	fx, err := seeding.Load(fcfg)
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
	if !e.Local() {
		return "", fault.Usage("shared.volume needs a Docker engine on this machine (it reads the volume's folder): mount the share here and give shared.path instead")
	}
	v, err := e.core.Docker.Volume(ctx, volume)
	if engine.IsNotFound(err) {
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
func PlanTarget(ctx context.Context, cfg config.Config, name string, opts TargetOptions) (*tgt.Plan, error) {
	t, fx, tree, err := resolveTarget(ctx, cfg, name, opts)
	if err != nil {
		return nil, err
	}
	p, err := tgt.Inspect(ctx, t, fx, tree)
	return p, targetError(name, err)
}

// ApplyTarget bootstraps a target as its plan says, once review (which
// shows the plan, and may ask) lets it.
func ApplyTarget(ctx context.Context, cfg config.Config, name string, opts TargetOptions, review func(*tgt.Plan) error) (*tgt.Result, error) {
	t, fx, tree, err := resolveTarget(ctx, cfg, name, opts)
	if err != nil {
		return nil, err
	}
	r, err := tgt.Apply(ctx, t, fx, tree, stack.NewSecret, review)
	return r, targetError(name, err)
}

// VerifyTarget reports how a target differs from what devstack makes.
func VerifyTarget(ctx context.Context, cfg config.Config, name string, opts TargetOptions) (*tgt.Report, error) {
	t, fx, tree, err := resolveTarget(ctx, cfg, name, opts)
	if err != nil {
		return nil, err
	}
	r, err := tgt.Verify(ctx, t, fx, tree)
	return r, targetError(name, err)
}
