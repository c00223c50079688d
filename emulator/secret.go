package emulator

import (
	"net"
	"strconv"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// NewSecret returns 32 characters from [A-Za-z0-9]: safe unquoted in env files
// and shells, and about 190 bits of entropy.
func NewSecret() string {
	return seed.RandomString(32)
}

// freeLocalPort asks the kernel for a port that is free on 127.0.0.1 now.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether nothing listens on host:port.
func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
