// Package docker is the one place devstack talks to a Docker engine. Client
// is a small interface in devstack's own types, so that the lifecycle code
// above it reads without Docker's API types and its decisions can be tested
// against a fake (package docker/fake).
package docker

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is what every method returns, wrapped, for a container, image,
// volume or network that does not exist.
var ErrNotFound = errors.New("not found")

// Client is a reachable Docker engine.
type Client interface {
	// Endpoint is where the engine answers, e.g. unix:///var/run/docker.sock.
	Endpoint() string
	// APIVersion is the API version negotiated with the engine, e.g. "1.41".
	APIVersion() string
	Close() error

	// Containers lists containers in any state whose labels match every
	// filter ("key" or "key=value"). List entries fill ID, Name, Image,
	// Labels, State.Status, Ports and Networks; Inspect fills the rest.
	Containers(ctx context.Context, labels ...string) ([]Container, error)
	Inspect(ctx context.Context, nameOrID string) (Container, error)
	// RunService creates and starts a service container (through
	// testcontainers) and publishes exactly spec.Ports.
	RunService(ctx context.Context, spec ContainerSpec) error
	// RunHelper creates and starts a container that publishes nothing.
	RunHelper(ctx context.Context, spec ContainerSpec) error
	// Create creates a container that publishes nothing, and does not
	// start it.
	Create(ctx context.Context, spec ContainerSpec) error
	Start(ctx context.Context, id string) error
	// Stop asks the container to stop and kills it after timeout.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	Restart(ctx context.Context, id string, timeout time.Duration) error
	// Remove force-removes a container and its anonymous volumes; named
	// volumes stay.
	Remove(ctx context.Context, id string) error
	// Rename gives a container another name.
	Rename(ctx context.Context, nameOrID, name string) error
	// Wait blocks until the container is no longer running and returns its
	// exit code.
	Wait(ctx context.Context, id string) (int, error)
	// Exec runs a command in a running container and returns its exit code.
	Exec(ctx context.Context, id string, x Exec) (int, error)
	// CopyTo extracts a tar stream into dir inside the container, keeping
	// the owners the stream gives.
	CopyTo(ctx context.Context, id, dir string, tar io.Reader) error
	// CopyFrom returns path inside the container as a tar stream.
	CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error)
	// Changes lists what differs in the container's own filesystem from its
	// image's (volumes and tmpfs mounts aside).
	Changes(ctx context.Context, id string) ([]Change, error)
	// Logs writes the container's output, demultiplexed, until it ends (or,
	// with Follow, until ctx is done).
	Logs(ctx context.Context, id string, opts LogOptions, stdout, stderr io.Writer) error

	// Info describes the engine.
	Info(ctx context.Context) (Info, error)

	// Image returns a local image; ErrNotFound when it is not here.
	Image(ctx context.Context, ref string) (Image, error)
	Pull(ctx context.Context, ref string) error
	// Pullable asks the image's registry for it, without pulling it.
	Pullable(ctx context.Context, ref string) error

	Volumes(ctx context.Context, labels ...string) ([]Volume, error)
	Volume(ctx context.Context, name string) (Volume, error)
	CreateVolume(ctx context.Context, v Volume) error
	RemoveVolume(ctx context.Context, name string) error
	// VolumeSizes returns the disk usage of volumes by name; engines that
	// cannot tell return an empty map.
	VolumeSizes(ctx context.Context) (map[string]int64, error)

	Networks(ctx context.Context, labels ...string) ([]Network, error)
	// Network inspects a network by name or ID, with its attached containers.
	Network(ctx context.Context, nameOrID string) (Network, error)
	CreateNetwork(ctx context.Context, name string, labels map[string]string) (string, error)
	RemoveNetwork(ctx context.Context, id string) error
}

// Container is a container as the engine reports it.
type Container struct {
	ID      string
	Name    string
	Image   string // as configured, e.g. mysql:8.0
	ImageID string
	Labels  map[string]string
	Env     map[string]string
	State   State
	// Ports are the published ports.
	Ports []Port
	// Networks maps each network the container is attached to to its ID,
	// Addresses to the container's IP address there (Inspect only).
	Networks  map[string]string
	Addresses map[string]string
	// Volumes are the names of the named volumes it mounts.
	Volumes []string
}

// State is a container's run state.
type State struct {
	// Status is created, running, paused, restarting, removing, exited or dead.
	Status       string
	Running      bool
	Restarting   bool
	RestartCount int
	ExitCode     int
	// Health is "" without a health check, else starting, healthy or unhealthy.
	Health string
}

// Port is one published port.
type Port struct {
	ContainerPort int
	HostIP        string
	HostPort      int
}

// Mount is a named volume mounted into a container. Every mount has the
// volume no-copy option: an image's files never populate a volume.
type Mount struct {
	Volume   string
	Target   string
	ReadOnly bool
}

// Healthcheck is the engine's own health check of a container.
type Healthcheck struct {
	Test     []string
	Interval time.Duration
	Timeout  time.Duration
	Retries  int
	// StartPeriod and StartInterval: probes at StartInterval during
	// StartPeriod. StartInterval needs API 1.44; leave it zero below.
	StartPeriod   time.Duration
	StartInterval time.Duration
}

// NoNetwork is the network of a container that nothing reaches over one:
// it gets none, which spares the engine an endpoint on every start.
const NoNetwork = "none"

// ContainerSpec is what a container is made from.
type ContainerSpec struct {
	Name       string
	Image      string
	Entrypoint []string
	Cmd        []string
	Env        map[string]string
	Labels     map[string]string
	// Network is joined with Aliases as extra hostnames; NoNetwork leaves
	// the container without one.
	Network string
	Aliases []string
	Mounts  []Mount
	// Tmpfs mounts by path, with mount options.
	Tmpfs  map[string]string
	Ports  []Port
	Health *Healthcheck
	// StopSignal overrides the image's.
	StopSignal string
	// Restart is the restart policy: "", "no" or "unless-stopped".
	Restart string
	User    string
	// CapAdd are capabilities beyond the engine's default set.
	CapAdd []string `json:",omitempty"`
}

// Exec is a command run in a container. Without a TTY, Stdout and Stderr
// receive the streams apart; with one, Stdout receives both.
type Exec struct {
	Cmd  []string
	Env  []string
	User string
	TTY  bool
	// Size is the TTY's rows and columns; zero leaves the engine's default.
	Size   [2]uint
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// LogOptions select a container's output.
type LogOptions struct {
	Follow bool
	// Since is a duration ("10m") or a time (RFC 3339); empty means all.
	Since string
	// Tail is the number of lines from the end, or "all".
	Tail       string
	Timestamps bool
}

// Info is what the engine says about itself.
type Info struct {
	// Product is "Docker" or "Podman": the engines answer the same API with
	// differences devstack works around.
	Product       string
	ServerVersion string
	// Rootless: the engine runs as an ordinary user.
	Rootless bool
	// RootDir is where the engine keeps images and volumes, on its own host.
	RootDir string
}

// Image is a local image, with what it runs by default.
type Image struct {
	ID         string
	Entrypoint []string
	Cmd        []string
	// User is the image's USER, "" for root.
	User string
}

// Change is a path of a container's filesystem that differs from its
// image's.
type Change struct {
	Path string
	Kind ChangeKind
}

// ChangeKind is how a path differs.
type ChangeKind int

const (
	Modified ChangeKind = iota
	Added
	Deleted
)

// Volume is a named volume.
type Volume struct {
	Name   string
	Labels map[string]string
	// Driver and DriverOpts are used when creating; empty means local.
	Driver     string
	DriverOpts map[string]string
	CreatedAt  time.Time
	// Mountpoint is the volume's folder on the engine's machine.
	Mountpoint string
}

// Network is a user-defined network.
type Network struct {
	ID     string
	Name   string
	Labels map[string]string
	// Containers are the names of the attached containers (Network only).
	Containers []string
}
