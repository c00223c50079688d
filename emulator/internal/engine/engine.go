// Package engine is devstack's connection to a Docker or Podman engine: it
// dials what the docker CLI would (DOCKER_HOST, the current context, ssh),
// forwards ports, checks copies into containers, polls readiness, and says
// an engine's errors once, with the operation and the object.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// Conn is a Docker engine devstack has reached. Every later call goes to
// the same endpoint, testcontainers included.
type Conn struct {
	Docker docker.Client
	// Tunnels reach the ports of an ssh:// engine; nil for the others.
	Tunnels *tunnels
	// source says how the endpoint was chosen (ResolveEndpoint).
	source string
}

// Endpoint is where the engine answers.
func (e *Conn) Endpoint() string { return e.Docker.Endpoint() }

// Source says how the endpoint was chosen: DOCKER_HOST, a context, or the
// default socket.
func (e *Conn) Source() string { return e.source }

// APIVersion is the API version negotiated with the engine.
func (e *Conn) APIVersion() string { return e.Docker.APIVersion() }

// Close releases the engine's connections.
func (e *Conn) Close() error {
	e.Tunnels.close()
	return e.Docker.Close()
}

const defaultEndpoint = "unix:///var/run/docker.sock"

// Dial resolves the Docker endpoint the way the docker CLI does and pings
// it. It must run before the first testcontainers call: testcontainers
// reads its configuration once per process and otherwise falls back to the
// default socket on its own.
func Dial(ctx context.Context) (*Conn, error) {
	endpoint, source := ResolveEndpoint(os.Getenv, UserHome())
	if os.Getenv("DOCKER_HOST") == "" {
		useContextTLS(currentContext(os.Getenv, UserHome()), os.Getenv, os.Setenv)
	}
	t, err := tunnelsFor(endpoint)
	if err != nil {
		return nil, err
	}
	d, err := docker.Dial(ctx, endpoint)
	if err != nil {
		return nil, fault.Env(err, "cannot reach Docker at %s (%s; %s): start Docker, or point DOCKER_HOST at a running engine", endpoint, source, ShortErr(err))
	}
	return &Conn{Docker: d, source: source, Tunnels: t}, nil
}

// ResolveEndpoint picks the engine like the docker CLI: DOCKER_HOST, then the
// current context (DOCKER_CONTEXT or ~/.docker/config.json), then the default
// socket; source says which. testcontainers does not follow contexts, so
// devstack does it.
func ResolveEndpoint(getenv func(string) string, home string) (endpoint, source string) {
	if h := getenv("DOCKER_HOST"); h != "" {
		return h, "DOCKER_HOST"
	}
	c := currentContext(getenv, home)
	if c.name == "" {
		return defaultEndpoint, "default socket"
	}
	return c.host, "context " + c.name
}

// dockerContext is a docker CLI context: its engine's address and, where it
// has them, the TLS files (ca.pem, cert.pem, key.pem) the CLI keeps for it.
type dockerContext struct {
	name, host string
	tlsDir     string
	skipVerify bool
}

// currentContext is the current context; its name is "" for the default
// context, whose endpoint is the default socket.
func currentContext(getenv func(string) string, home string) dockerContext {
	configDir := getenv("DOCKER_CONFIG")
	if configDir == "" {
		configDir = filepath.Join(home, ".docker")
	}
	name := getenv("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct{ CurrentContext string }
		if data, err := os.ReadFile(filepath.Join(configDir, "config.json")); err == nil {
			_ = json.Unmarshal(data, &cfg)
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return dockerContext{}
	}
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	data, err := os.ReadFile(filepath.Join(configDir, "contexts", "meta", id, "meta.json"))
	if err != nil {
		return dockerContext{}
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if json.Unmarshal(data, &meta) != nil || meta.Endpoints["docker"].Host == "" {
		return dockerContext{}
	}
	c := dockerContext{name: name, host: meta.Endpoints["docker"].Host, skipVerify: meta.Endpoints["docker"].SkipTLSVerify}
	if dir := filepath.Join(configDir, "contexts", "tls", id, "docker"); fileExists(filepath.Join(dir, "ca.pem")) || fileExists(filepath.Join(dir, "cert.pem")) {
		c.tlsDir = dir
	}
	return c
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// useContextTLS hands a context's TLS files to the Docker clients (devstack's
// and testcontainers'), which read them from DOCKER_CERT_PATH and
// DOCKER_TLS_VERIFY only. Variables the user set win.
func useContextTLS(c dockerContext, getenv func(string) string, setenv func(string, string) error) {
	if c.tlsDir == "" || getenv("DOCKER_CERT_PATH") != "" {
		return
	}
	_ = setenv("DOCKER_CERT_PATH", c.tlsDir)
	if !c.skipVerify && getenv("DOCKER_TLS_VERIFY") == "" {
		_ = setenv("DOCKER_TLS_VERIFY", "1")
	}
}

func UserHome() string {
	h, _ := os.UserHomeDir()
	return h
}

// Local reports whether published ports are on this machine, where a port
// can be checked before Docker is asked to bind it.
func (e *Conn) Local() bool {
	ep := e.Endpoint()
	return strings.HasPrefix(ep, "unix://") || strings.HasPrefix(ep, "npipe://")
}

// EnsureImage makes an image available locally, pulling it when missing. A
// failure names the image and the setting that chose it.
func (e *Conn) EnsureImage(ctx context.Context, ref, setting string) error {
	_, err := e.Docker.Image(ctx, ref)
	if err == nil {
		return nil
	}
	if !IsNotFound(err) {
		return err
	}
	if err := e.Docker.Pull(ctx, ref); err != nil {
		return fault.Env(err, "image %s is not available: %v\nCheck registry access, or build local stand-ins with `make local-images` and set %s to one of them.", ref, err, setting)
	}
	return nil
}

// ShortErr keeps the first line of an error that is not the engine's (the
// seam says those itself): a driver's or a dial's words can run to pages.
func ShortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func IsNotFound(err error) bool { return errors.Is(err, docker.ErrNotFound) }

// InContainer runs commands in, and copies into and out of, one running
// container: the way the shared directory is reached (shared.Container).
type InContainer struct {
	Docker docker.Client
	Name   string
}

func (c InContainer) Exec(ctx context.Context, argv ...string) (string, error) {
	return c.execIn(ctx, nil, "", argv...)
}

// ExecAs is Exec as user.
func (c InContainer) ExecAs(ctx context.Context, user string, argv ...string) (string, error) {
	return c.execIn(ctx, nil, user, argv...)
}

// execIn is Exec with stdin, as user ("": the container's).
func (c InContainer) execIn(ctx context.Context, stdin io.Reader, user string, argv ...string) (string, error) {
	var stdout, stderr strings.Builder
	code, err := c.Docker.Exec(ctx, c.Name, docker.Exec{Cmd: argv, Stdin: stdin, User: user, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", err
	}
	if code != 0 {
		exit := &shared.ExitError{Command: argv[0], Code: code, Stderr: strings.TrimSpace(stderr.String())}
		return stdout.String(), fault.Env(exit, "%s in %s exited with code %d: %s", argv[0], c.Name, code, exit.Stderr)
	}
	return stdout.String(), nil
}

// CopyTo copies, then checks that what the archive holds is there with its
// owners (verifyCopy).
func (c InContainer) CopyTo(ctx context.Context, dir string, tar io.Reader) error {
	_, err := c.CopyIndexed(ctx, dir, tar)
	return err
}

// CopyIndexed is CopyTo that also returns the archive's entries.
func (c InContainer) CopyIndexed(ctx context.Context, dir string, tar io.Reader) (map[string]Entry, error) {
	r, ix := indexTar(tar)
	err := c.Docker.CopyTo(ctx, c.Name, dir, r)
	want := ix.finish()
	if err != nil {
		return want, err
	}
	return want, c.verifyCopy(ctx, dir, want)
}

func (c InContainer) CopyFrom(ctx context.Context, path string) (io.ReadCloser, error) {
	rc, err := c.Docker.CopyFrom(ctx, c.Name, path)
	if IsNotFound(err) {
		return nil, &fs.PathError{Op: "copy", Path: path, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// NewConn is a connection over d, for tests on a fake engine.
func NewConn(d docker.Client) *Conn { return &Conn{Docker: d} }

// RemoveContainer stops a container gracefully, then removes it. A container
// that is already gone is not an error: cleanup must be repeatable.
func (e *Conn) RemoveContainer(ctx context.Context, id string) error {
	if err := e.Docker.Stop(ctx, id, 30*time.Second); err != nil && !IsNotFound(err) {
		return err
	}
	if err := e.Docker.Remove(ctx, id); err != nil && !IsNotFound(err) {
		return err
	}
	return nil
}
