package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/docker"
)

// Where a stack's ports are published, and where devstack reaches them, is
// decided by where the engine runs. A local engine (a socket on this
// machine) publishes on 127.0.0.1, which nothing else can reach. A remote
// one over tcp:// (a CI job's docker:dind, another machine) publishes on
// the address the client reaches the engine at, and only there: the host
// of DOCKER_HOST, or DEVSTACK_HOST where it is set. Readiness, a template's
// build, status and env all dial the same address.

// Reach settles where cfg's ports are published and reached on this engine:
// see above. It fails (exit 2) when the address cannot be used as one of the
// engine's machine.
func (e *Conn) Reach(cfg config.Config) (config.Config, error) {
	host, remote := remoteHost(e.Endpoint())
	if !remote {
		return cfg, nil
	}
	setting := "DOCKER_HOST"
	if from, set := cfg.Sources["host"]; set {
		host, setting = cfg.Host, from
	}
	ip, err := resolveIP(host)
	if err != nil {
		return cfg, fault.Usage("the engine is remote (%s), and its ports are published on the address this machine reaches it at, but %s (from %s) %v; set DEVSTACK_HOST to the engine machine's IP address", e.Endpoint(), host, setting, err)
	}
	cfg.Host = ip.String()
	if !ip.IsLoopback() {
		cfg.Bind = ip.String()
	}
	return cfg, nil
}

// remoteHost is the host of a tcp:// or http(s):// endpoint, and whether
// the endpoint is one; a socket or pipe is this machine.
func remoteHost(endpoint string) (string, bool) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false
	}
	switch u.Scheme {
	case "tcp", "http", "https":
		return u.Hostname(), u.Hostname() != ""
	}
	return "", false
}

// resolveIP is host's address, IPv4 first.
func resolveIP(host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("does not resolve here")
	}
	for _, a := range addrs {
		if a.Is4() || a.Is4In6() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

// PublishFailed classifies an engine's refusal to publish a port: taken, or
// an address its machine does not have (a DEVSTACK_HOST for a remote
// engine that is not one of its addresses). nil for any other error.
func PublishFailed(service string, p docker.Port, err error) error {
	switch {
	case errors.Is(err, docker.ErrPortTaken):
		return fault.PortTaken(service, p.HostIP, p.HostPort)
	case errors.Is(err, docker.ErrAddressUnavailable):
		return fault.Usage("the engine cannot publish %s's port on %s: its machine has no such address; set DEVSTACK_HOST to an address of the engine's machine, or unset it to publish on DOCKER_HOST's host", service, p.HostIP)
	}
	return nil
}
