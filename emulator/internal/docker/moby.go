package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// ErrPortTaken is a host port Docker could not bind.
var ErrPortTaken = errors.New("port is already allocated")

// ErrAddressUnavailable is a host address to publish on that the engine's
// machine does not have.
var ErrAddressUnavailable = errors.New("cannot assign requested address")

// ErrNameTaken is a container name already in use.
var ErrNameTaken = errors.New("name is already in use")

// ErrInUse is a volume a container still mounts.
var ErrInUse = errors.New("volume is in use")

// Dial connects to the engine at endpoint and pings it; every error of the
// client it returns says its operation and object (OpError). It also points
// testcontainers at the same endpoint: see handOver.
func Dial(ctx context.Context, endpoint string) (Client, error) {
	m := &moby{endpoint: endpoint}
	dial, timeout := endpoint, 5*time.Second
	if strings.HasPrefix(endpoint, "ssh://") {
		p, err := newSSHProxy(endpoint)
		if err != nil {
			return nil, err
		}
		// ssh's own handshake comes first.
		m.proxy, dial, timeout = p, p.endpoint(), 30*time.Second
	}
	cli, err := client.New(client.WithHost(dial), client.WithTLSClientConfigFromEnv())
	if err != nil {
		m.closeProxy()
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ping, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		cli.Close()
		m.closeProxy()
		return nil, err
	}
	handOver.Do(func() { handOverTo(dial) })
	m.cli, m.api = cli, ping.APIVersion
	return Said(m), nil
}

var handOver sync.Once

// handOverTo sets the only two process-wide variables devstack sets. Both
// are settings testcontainers reads from the environment (or its properties
// file) and nowhere else, once per process:
//   - DOCKER_HOST: testcontainers does not follow Docker contexts, and falls
//     back to the default socket on its own; it must use the engine devstack
//     resolved and pinged.
//   - TESTCONTAINERS_RYUK_DISABLED: the CLI's stacks must outlive the
//     process, and Ryuk would remove them soon after it exits. A caller that
//     wants Ryuk sets the variable itself, and devstack leaves it alone.
func handOverTo(endpoint string) {
	os.Setenv("DOCKER_HOST", endpoint)
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	tclog.SetDefault(tclog.NewNoopLogger())
}

type moby struct {
	cli      *client.Client
	endpoint string
	api      string
	// proxy serves an ssh:// engine locally; nil for the others.
	proxy *sshProxy
}

func (m *moby) Endpoint() string   { return m.endpoint }
func (m *moby) APIVersion() string { return m.api }

func (m *moby) Close() error {
	return errors.Join(m.cli.Close(), m.closeProxy())
}

func (m *moby) closeProxy() error {
	if m.proxy == nil {
		return nil
	}
	return m.proxy.Close()
}

// notFound keeps Docker's message and answers errors.Is(err, ErrNotFound).
type notFound struct{ error }

func (notFound) Is(target error) bool { return target == ErrNotFound }
func (e notFound) Unwrap() error      { return e.error }

func wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return notFound{err}
	case strings.Contains(err.Error(), "port is already allocated") || strings.Contains(err.Error(), "address already in use"):
		// Docker reports a host port it cannot bind only as text.
		return fmt.Errorf("%w: %v", ErrPortTaken, err)
	case strings.Contains(err.Error(), "cannot assign requested address"):
		return fmt.Errorf("%w: %v", ErrAddressUnavailable, err)
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "is already in use"),
		// Podman's wording, with 500 (Podman 4) or 409 (later).
		strings.Contains(err.Error(), "that name is already in use"):
		return fmt.Errorf("%w: %v", ErrNameTaken, err)
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "volume is in use"),
		strings.Contains(err.Error(), "volume is being used"):
		return fmt.Errorf("%w: %v", ErrInUse, err)
	}
	return err
}

func labelFilter(labels []string) client.Filters {
	f := make(client.Filters)
	for _, l := range labels {
		f.Add("label", l)
	}
	return f
}

func (m *moby) Containers(ctx context.Context, labels ...string) ([]Container, error) {
	res, err := m.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilter(labels)})
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		c := Container{ID: s.ID, Image: s.Image, ImageID: s.ImageID, Labels: s.Labels, Networks: map[string]string{}}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		c.State.Status = string(s.State)
		c.State.Running = s.State == container.StateRunning
		c.State.Restarting = s.State == container.StateRestarting
		if s.Health != nil {
			c.State.Health = string(s.Health.Status)
		}
		for _, p := range s.Ports {
			if p.PublicPort != 0 {
				c.Ports = append(c.Ports, Port{ContainerPort: int(p.PrivatePort), HostIP: p.IP.String(), HostPort: int(p.PublicPort)})
			}
		}
		if s.NetworkSettings != nil {
			for name, ep := range s.NetworkSettings.Networks {
				c.Networks[name] = ep.NetworkID
			}
		}
		for _, m := range s.Mounts {
			if m.Type == mount.TypeVolume {
				c.Volumes = append(c.Volumes, m.Name)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (m *moby) Inspect(ctx context.Context, nameOrID string) (Container, error) {
	res, err := m.cli.ContainerInspect(ctx, nameOrID, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, wrap(err)
	}
	r := res.Container
	c := Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), ImageID: r.Image, Env: map[string]string{}, Networks: map[string]string{}, Addresses: map[string]string{}}
	if r.Config != nil {
		c.Image, c.Labels = r.Config.Image, r.Config.Labels
		for _, kv := range r.Config.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				c.Env[k] = v
			}
		}
	}
	if st := r.State; st != nil {
		c.State = State{Status: string(st.Status), Running: st.Running, Restarting: st.Restarting, RestartCount: r.RestartCount, ExitCode: st.ExitCode}
		if st.Health != nil {
			c.State.Health = string(st.Health.Status)
		}
	}
	// The configured bindings, which a stopped container keeps too.
	if r.HostConfig != nil {
		for p, bindings := range r.HostConfig.PortBindings {
			for _, b := range bindings {
				hp, _ := strconv.Atoi(b.HostPort)
				ip := ""
				if b.HostIP.IsValid() {
					ip = b.HostIP.String()
				}
				c.Ports = append(c.Ports, Port{ContainerPort: int(p.Num()), HostIP: ip, HostPort: hp})
			}
		}
	}
	if r.NetworkSettings != nil {
		for name, ep := range r.NetworkSettings.Networks {
			c.Networks[name] = ep.NetworkID
			if ep.IPAddress.IsValid() {
				c.Addresses[name] = ep.IPAddress.String()
			}
		}
	}
	for _, m := range r.Mounts {
		if m.Type == mount.TypeVolume {
			c.Volumes = append(c.Volumes, m.Name)
		}
	}
	return c, nil
}

func (s ContainerSpec) env() []string {
	var env []string
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		env = append(env, k+"="+s.Env[k])
	}
	return env
}

func (s ContainerSpec) mounts() []mount.Mount {
	var ms []mount.Mount
	for _, m := range s.Mounts {
		ms = append(ms, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Target, ReadOnly: m.ReadOnly,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true}})
	}
	return ms
}

func (s ContainerSpec) healthcheck() *container.HealthConfig {
	if s.Health == nil {
		return nil
	}
	h := s.Health
	return &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, Retries: h.Retries, StartPeriod: h.StartPeriod, StartInterval: h.StartInterval}
}

// configure applies what both kinds of container share.
func (s ContainerSpec) configure(c *container.Config, hc *container.HostConfig) {
	c.Healthcheck = s.healthcheck()
	c.StopSignal = s.StopSignal
	c.User = s.User
	hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(s.Restart)}
	hc.Mounts = s.mounts()
	hc.Tmpfs = s.Tmpfs
	hc.CapAdd = s.CapAdd
}

func (s ContainerSpec) portMap() (network.PortMap, []string, error) {
	pm := network.PortMap{}
	var exposed []string
	for _, p := range s.Ports {
		port, err := network.ParsePort(fmt.Sprintf("%d/tcp", p.ContainerPort))
		if err != nil {
			return nil, nil, err
		}
		ip, err := netip.ParseAddr(p.HostIP)
		if err != nil {
			return nil, nil, fmt.Errorf("host IP %q: %w", p.HostIP, err)
		}
		pm[port] = append(pm[port], network.PortBinding{HostIP: ip, HostPort: strconv.Itoa(p.HostPort)})
		exposed = append(exposed, port.String())
	}
	return pm, exposed, nil
}

// RunService uses testcontainers, which makes devstack's service containers
// as its own modules make theirs. The spec's ports are given explicitly:
// testcontainers would otherwise publish every port the image exposes.
func (m *moby) RunService(ctx context.Context, s ContainerSpec) (err error) {
	// testcontainers panics on some engine failures (an engine that stops
	// while it asks for its socket): an error, not a crash, for the user.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the engine failed while %s was started (testcontainers: %v)", s.Name, r)
		}
	}()
	pm, exposed, err := s.portMap()
	if err != nil {
		return err
	}
	mounts := testcontainers.ContainerMounts{}
	for _, mt := range s.Mounts {
		mounts = append(mounts, testcontainers.ContainerMount{
			// Labels must be a map: testcontainers adds its own to it.
			Source:   testcontainers.DockerVolumeMountSource{Name: mt.Volume, VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{}}},
			Target:   testcontainers.ContainerMountTarget(mt.Target),
			ReadOnly: mt.ReadOnly,
		})
	}
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithName(s.Name),
		testcontainers.WithEnv(s.Env),
		testcontainers.WithLabels(s.Labels),
		testcontainers.WithExposedPorts(exposed...),
		testcontainers.WithMounts(mounts...),
		tcnetwork.WithNetworkName(s.Aliases, s.Network),
		testcontainers.WithConfigModifier(func(c *container.Config) {
			c.Healthcheck, c.StopSignal, c.User = s.healthcheck(), s.StopSignal, s.User
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyMode(s.Restart)}
			hc.Tmpfs = s.Tmpfs
			hc.CapAdd = s.CapAdd
			hc.PortBindings = pm
		}),
	}
	if s.Entrypoint != nil {
		opts = append(opts, testcontainers.WithEntrypoint(s.Entrypoint...))
	}
	if s.Cmd != nil {
		opts = append(opts, testcontainers.WithCmd(s.Cmd...))
	}
	ctr, err := testcontainers.Run(ctx, s.Image, opts...)
	if err != nil {
		// A container that was made but would not start is removed, so that
		// nobody takes it for a stopped service later.
		_ = testcontainers.TerminateContainer(ctr)
		return wrap(err)
	}
	return nil
}

func (m *moby) RunHelper(ctx context.Context, s ContainerSpec) error {
	id, err := m.create(ctx, s)
	if err != nil {
		return err
	}
	if err := m.Start(ctx, id); err != nil {
		_ = m.Remove(context.WithoutCancel(ctx), id)
		return err
	}
	return nil
}

func (m *moby) Create(ctx context.Context, s ContainerSpec) error {
	_, err := m.create(ctx, s)
	return err
}

func (m *moby) create(ctx context.Context, s ContainerSpec) (string, error) {
	c := &container.Config{Image: s.Image, Entrypoint: s.Entrypoint, Cmd: s.Cmd, Env: s.env(), Labels: s.Labels}
	hc := &container.HostConfig{}
	s.configure(c, hc)
	nc := &network.NetworkingConfig{}
	if s.Network == NoNetwork {
		hc.NetworkMode = container.NetworkMode(NoNetwork)
	} else if s.Network != "" {
		hc.NetworkMode = container.NetworkMode(s.Network)
		nc.EndpointsConfig = map[string]*network.EndpointSettings{s.Network: {Aliases: s.Aliases}}
	}
	res, err := m.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: s.Name, Config: c, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		return "", wrap(err)
	}
	return res.ID, nil
}

func (m *moby) Start(ctx context.Context, id string) error {
	_, err := m.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return wrap(err)
}

func seconds(d time.Duration) *int {
	s := int(d.Round(time.Second) / time.Second)
	return &s
}

func (m *moby) Stop(ctx context.Context, id string, timeout time.Duration) error {
	_, err := m.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: seconds(timeout)})
	return wrap(err)
}

func (m *moby) Restart(ctx context.Context, id string, timeout time.Duration) error {
	_, err := m.cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: seconds(timeout)})
	return wrap(err)
}

// Remove returns once the container is gone, also when another client was
// already removing it (for up to half a minute, as a stop would take).
func (m *moby) Remove(ctx context.Context, id string) error {
	_, err := m.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "already in progress") {
		return wrap(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res := m.cli.ContainerWait(wctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	select {
	case <-res.Result:
		return nil
	case werr := <-res.Error:
		switch {
		case cerrdefs.IsNotFound(werr):
			return nil // gone before the wait began
		case ctx.Err() != nil:
			return ctx.Err()
		}
		return wrap(err)
	}
}

func (m *moby) Wait(ctx context.Context, id string) (int, error) {
	res := m.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-res.Result:
		return int(r.StatusCode), nil
	case err := <-res.Error:
		return 0, wrap(err)
	}
}

func (m *moby) Exec(ctx context.Context, id string, x Exec) (int, error) {
	ex, err := m.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: x.Cmd, Env: x.Env, User: x.User, TTY: x.TTY,
		AttachStdin: x.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, wrap(err)
	}
	att, err := m.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: x.TTY})
	if err != nil {
		return 0, wrap(err)
	}
	defer att.Close()
	if x.TTY && x.Size[0] > 0 {
		// After the start, as the docker CLI does: engines before API 1.42
		// take no size with the create.
		_, _ = m.cli.ExecResize(ctx, ex.ID, client.ExecResizeOptions{Height: x.Size[0], Width: x.Size[1]})
	}
	if x.Stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, x.Stdin)
			if cw, ok := att.Conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}()
	}
	stdout, stderr := orDiscard(x.Stdout), orDiscard(x.Stderr)
	done := make(chan error, 1)
	go func() {
		if x.TTY {
			_, err = io.Copy(stdout, att.Reader)
		} else {
			_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
		}
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	res, err := m.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return 0, wrap(err)
	}
	return res.ExitCode, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// CopyTo keeps the stream's owners: CopyUIDGID would give every file the
// container's user instead (Docker, for a container with a USER, and
// Podman always).
func (m *moby) CopyTo(ctx context.Context, id, dir string, tar io.Reader) error {
	_, err := m.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dir, Content: tar})
	return wrap(err)
}

func (m *moby) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	res, err := m.cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, wrap(err)
	}
	return res.Content, nil
}

func (m *moby) Changes(ctx context.Context, id string) ([]Change, error) {
	res, err := m.cli.ContainerDiff(ctx, id, client.ContainerDiffOptions{})
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Change, 0, len(res.Changes))
	for _, c := range res.Changes {
		k := Modified
		switch c.Kind {
		case container.ChangeAdd:
			k = Added
		case container.ChangeDelete:
			k = Deleted
		}
		out = append(out, Change{Path: c.Path, Kind: k})
	}
	return out, nil
}

func (m *moby) Logs(ctx context.Context, id string, o LogOptions, stdout, stderr io.Writer) error {
	rc, err := m.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: o.Follow, Since: o.Since, Tail: o.Tail, Timestamps: o.Timestamps,
	})
	if err != nil {
		return wrap(err)
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(orDiscard(stdout), orDiscard(stderr), rc)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (m *moby) Info(ctx context.Context) (Info, error) {
	res, err := m.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return Info{}, wrap(err)
	}
	info := Info{Product: "Docker", ServerVersion: res.Info.ServerVersion, RootDir: res.Info.DockerRootDir,
		Rootless: slices.Contains(res.Info.SecurityOptions, "name=rootless")}
	// Podman names itself only in /version.
	if v, err := m.cli.ServerVersion(ctx, client.ServerVersionOptions{}); err == nil {
		for _, c := range v.Components {
			if strings.Contains(c.Name, "Podman") {
				info.Product = "Podman"
			}
		}
	}
	return info, nil
}

func (m *moby) Pullable(ctx context.Context, ref string) error {
	_, err := m.cli.DistributionInspect(ctx, ref, client.DistributionInspectOptions{})
	return wrap(err)
}

func (m *moby) Image(ctx context.Context, ref string) (Image, error) {
	res, err := m.cli.ImageInspect(ctx, ref)
	if err != nil {
		return Image{}, wrap(err)
	}
	img := Image{ID: res.ID}
	if c := res.Config; c != nil {
		img.Entrypoint, img.Cmd, img.User = c.Entrypoint, c.Cmd, c.User
	}
	return img, nil
}

func (m *moby) Pull(ctx context.Context, ref string) error {
	resp, err := m.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return wrap(err)
	}
	defer resp.Close()
	return wrap(resp.Wait(ctx))
}

func (m *moby) Volumes(ctx context.Context, labels ...string) ([]Volume, error) {
	res, err := m.cli.VolumeList(ctx, client.VolumeListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Volume, 0, len(res.Items))
	for _, v := range res.Items {
		out = append(out, volumeOf(v.Name, v.Labels, v.Driver, v.CreatedAt, v.Mountpoint))
	}
	return out, nil
}

func volumeOf(name string, labels map[string]string, driver, created, mountpoint string) Volume {
	t, _ := time.Parse(time.RFC3339Nano, created)
	return Volume{Name: name, Labels: labels, Driver: driver, CreatedAt: t, Mountpoint: mountpoint}
}

func (m *moby) Volume(ctx context.Context, name string) (Volume, error) {
	res, err := m.cli.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return Volume{}, wrap(err)
	}
	v := res.Volume
	return volumeOf(v.Name, v.Labels, v.Driver, v.CreatedAt, v.Mountpoint), nil
}

func (m *moby) CreateVolume(ctx context.Context, v Volume) error {
	_, err := m.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: v.Name, Labels: v.Labels, Driver: v.Driver, DriverOpts: v.DriverOpts})
	return wrap(err)
}

func (m *moby) Rename(ctx context.Context, nameOrID, name string) error {
	_, err := m.cli.ContainerRename(ctx, nameOrID, client.ContainerRenameOptions{NewName: name})
	return wrap(err)
}

func (m *moby) RemoveVolume(ctx context.Context, name string) error {
	_, err := m.cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	return wrap(err)
}

func (m *moby) VolumeSizes(ctx context.Context) (map[string]int64, error) {
	res, err := m.cli.DiskUsage(ctx, client.DiskUsageOptions{Volumes: true, Verbose: true})
	if err != nil {
		return nil, wrap(err)
	}
	sizes := map[string]int64{}
	for _, v := range res.Volumes.Items {
		if v.UsageData != nil && v.UsageData.Size >= 0 {
			sizes[v.Name] = v.UsageData.Size
		}
	}
	return sizes, nil
}

func (m *moby) Networks(ctx context.Context, labels ...string) ([]Network, error) {
	res, err := m.cli.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilter(labels)})
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]Network, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, Network{ID: n.ID, Name: n.Name, Labels: n.Labels})
	}
	return out, nil
}

func (m *moby) Network(ctx context.Context, nameOrID string) (Network, error) {
	res, err := m.cli.NetworkInspect(ctx, nameOrID, client.NetworkInspectOptions{})
	if err != nil {
		return Network{}, wrap(err)
	}
	n := Network{ID: res.Network.ID, Name: res.Network.Name, Labels: res.Network.Labels}
	for _, c := range res.Network.Containers {
		n.Containers = append(n.Containers, c.Name)
	}
	slices.Sort(n.Containers)
	return n, nil
}

func (m *moby) CreateNetwork(ctx context.Context, name string, labels map[string]string) (string, error) {
	res, err := m.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels})
	if err != nil {
		return "", wrap(err)
	}
	return res.ID, nil
}

func (m *moby) RemoveNetwork(ctx context.Context, id string) error {
	_, err := m.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
	return wrap(err)
}
