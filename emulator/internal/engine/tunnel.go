package engine

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/connhelper/ssh"
	"github.com/wellcomecollection/devstack/emulator/fault"
)

// An ssh:// engine publishes a stack's ports on its machine's loopback, as
// a local engine does: nothing else on its network can reach them. devstack
// reaches them through ssh, as it reaches the engine: one `ssh -N -L` per
// port, forwarding the same port number on this machine's loopback, for as
// long as the devstack process lives (an up, a harness, `devstack run`).
// Programs started otherwise forward the ports themselves: up prints the
// ssh command, and devstack then uses those forwards.

// tunnels forwards ports of an ssh engine's loopback.
type tunnels struct {
	// args are ssh's arguments for the engine's host (user, port).
	args []string
	mu   sync.Mutex
	open map[int]*exec.Cmd
}

// tunnelsFor returns the forwarder for an ssh:// endpoint, nil for others.
func tunnelsFor(endpoint string) (*tunnels, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "ssh" {
		return nil, nil
	}
	sp, err := ssh.NewSpec(u)
	if err != nil {
		return nil, fault.Usage("DOCKER_HOST %s: %v", endpoint, err)
	}
	return &tunnels{args: sp.Args(), open: map[int]*exec.Cmd{}}, nil
}

// Forward makes 127.0.0.1:port here reach 127.0.0.1:port on the engine's
// machine, once per port.
func (t *tunnels) Forward(ctx context.Context, port int) error {
	if t == nil || port == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.open[port]; ok {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// A port here that is taken is taken as the user's own forward, which
	// up told them how to make: a program that is not one fails the dial.
	if !PortFree("127.0.0.1", port) {
		return nil
	}
	spec := fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", port, port)
	args := append([]string{"-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-L", spec}, t.args...)
	cmd := exec.Command("ssh", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fault.Env(err, "cannot run ssh to reach port %d of the engine's machine: %v", port, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.open[port] = cmd
			return nil
		}
		select {
		case <-exited:
			return fault.Env(nil, "cannot forward port %d from the engine's machine through ssh: %s", port, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fault.Env(nil, "ssh did not forward port %d within 15s: %s", port, strings.TrimSpace(stderr.String()))
		}
	}
}

// Command is the ssh command that forwards ports for other programs.
func (t *tunnels) Command(ports ...int) string {
	parts := []string{"ssh", "-N"}
	for _, p := range ports {
		if p != 0 {
			parts = append(parts, "-L", fmt.Sprintf("%d:127.0.0.1:%d", p, p))
		}
	}
	return strings.Join(append(parts, t.args...), " ")
}

// close ends every forward.
func (t *tunnels) close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for port, cmd := range t.open {
		_ = cmd.Process.Kill()
		delete(t.open, port)
	}
}

// FreeLocalPort asks the kernel for a port that is free on 127.0.0.1 now.
func FreeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PortFree reports whether nothing listens on host:port.
func PortFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
