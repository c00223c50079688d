package emulator

import (
	"net"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
)

func TestPortsCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	held := l.Addr().(*net.TCPAddr).Port
	cfg := stacktest.Config("p")
	v := stack.Pinned{MySQLPort: held, RedisPort: 0}
	c := portsCheck(cfg, v, nil, true)
	if c.OK || !strings.Contains(c.Detail, "is taken") || !strings.Contains(c.Fix, "DEVSTACK_MYSQL_PORT") || !strings.Contains(c.Detail, "redis: a free port is picked") {
		t.Errorf("a taken port: %+v", c)
	}
	if c := portsCheck(cfg, v, []int{held}, true); !c.OK {
		t.Errorf("the stack's own port: %+v", c)
	}
	if c := portsCheck(cfg, v, nil, false); !c.OK || !strings.Contains(c.Detail, "not checked") {
		t.Errorf("a remote engine: %+v", c)
	}
}
