package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// Engine is a Docker engine devstack has reached: every later call goes to the
// same endpoint, testcontainers included.
type Engine struct {
	Client     *client.Client
	Endpoint   string
	APIVersion string
}

const defaultEndpoint = "unix:///var/run/docker.sock"

// Connect resolves the Docker endpoint the way the docker CLI does, pings it,
// and hands the same endpoint to testcontainers. It must run before the first
// testcontainers call: testcontainers reads its configuration once per process
// and otherwise falls back to the default socket on its own.
func Connect(ctx context.Context) (*Engine, error) {
	endpoint := ResolveEndpoint(os.Getenv, userHome())
	cli, err := client.New(client.WithHost(endpoint), client.WithAPIVersionNegotiation(), client.WithTLSClientConfigFromEnv())
	if err != nil {
		return nil, envError(err, "cannot use Docker endpoint %s: %v", endpoint, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ping, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		cli.Close()
		return nil, envError(err, "cannot reach Docker at %s (%v): start Docker, or point DOCKER_HOST at a running engine", endpoint, shortErr(err))
	}
	handOver.Do(func() {
		os.Setenv("DOCKER_HOST", endpoint)
		// Stacks made here must outlive this process; Ryuk would remove them
		// shortly after it exits. A caller that wants Ryuk sets the variable.
		if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
		tclog.SetDefault(tclog.NewNoopLogger())
	})
	return &Engine{Client: cli, Endpoint: endpoint, APIVersion: ping.APIVersion}, nil
}

// handOver sets up testcontainers once per process: it reads its
// configuration once anyway, and parallel Connects must not race on it.
var handOver sync.Once

// Close releases the engine's connections.
func (e *Engine) Close() error { return e.Client.Close() }

// ResolveEndpoint picks the engine like the docker CLI: DOCKER_HOST, then the
// current context (DOCKER_CONTEXT or ~/.docker/config.json), then the default
// socket. testcontainers does not follow contexts, so devstack does it.
func ResolveEndpoint(getenv func(string) string, home string) string {
	if h := getenv("DOCKER_HOST"); h != "" {
		return h
	}
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
		return defaultEndpoint
	}
	sum := sha256.Sum256([]byte(name))
	data, err := os.ReadFile(filepath.Join(configDir, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json"))
	if err != nil {
		return defaultEndpoint
	}
	var meta struct {
		Endpoints map[string]struct{ Host string }
	}
	if json.Unmarshal(data, &meta) != nil || meta.Endpoints["docker"].Host == "" {
		return defaultEndpoint
	}
	return meta.Endpoints["docker"].Host
}

func userHome() string {
	h, _ := os.UserHomeDir()
	return h
}

// EnsureImage makes an image available locally, pulling it when missing. A
// failure names the image and what to do, before anything is created.
func (e *Engine) EnsureImage(ctx context.Context, ref, setting string) error {
	if _, err := e.Client.ImageInspect(ctx, ref); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return envError(err, "cannot inspect image %s: %v", ref, shortErr(err))
	}
	resp, err := e.Client.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
	}
	if err != nil {
		return envError(err, "image %s is not available and could not be pulled: %v\nCheck registry access, or build local stand-ins with `make local-images` and set %s to one of them.", ref, shortErr(err), setting)
	}
	return nil
}

// shortErr keeps the first line of an error: Docker's messages can carry
// whole response bodies.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
