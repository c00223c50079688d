package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/docker/cli/cli/connhelper"
)

// An ssh:// engine is reached as the docker CLI reaches it: `ssh HOST docker
// system dial-stdio` per connection (docker/cli's connection helper). The
// moby client could dial through it, but testcontainers reads only
// DOCKER_HOST and speaks no ssh; so devstack serves the engine on a socket
// of its own, in a private folder, for as long as the process lives, and
// both clients use that.

// sshProxy serves an ssh engine on a local unix socket.
type sshProxy struct {
	dir string
	l   net.Listener
	wg  sync.WaitGroup
}

// newSSHProxy starts serving endpoint (ssh://…) on a new socket.
func newSSHProxy(endpoint string) (*sshProxy, error) {
	helper, err := connhelper.GetConnectionHelper(endpoint)
	if err != nil {
		return nil, err
	}
	if helper == nil {
		return nil, fmt.Errorf("%s is not an ssh:// address", endpoint)
	}
	dir, err := os.MkdirTemp("", "devstack-ssh-")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", filepath.Join(dir, "docker.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &sshProxy{dir: dir, l: l}
	go p.serve(helper.Dialer)
	return p, nil
}

// endpoint is where the proxy answers.
func (p *sshProxy) endpoint() string { return "unix://" + filepath.Join(p.dir, "docker.sock") }

func (p *sshProxy) serve(dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			remote, err := dial(context.Background(), "tcp", "")
			if err != nil {
				return
			}
			defer remote.Close()
			pipe(c, remote)
		}()
	}
}

// pipe copies both ways until either side ends.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}

// Close stops serving and removes the socket.
func (p *sshProxy) Close() error {
	err := p.l.Close()
	if rerr := os.RemoveAll(p.dir); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}
