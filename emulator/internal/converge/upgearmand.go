package converge

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/setup"
)

// upGearmand: once Redis answers (gearmand keeps its queue there), the
// container, and a gearmand that answers its admin protocol and is
// connected to Redis. Turned off, a gearmand made earlier goes.
func (u *upRun) upGearmand(ctx context.Context) error {
	a, planned := u.plan.actions[config.ServiceGearmand]
	if !planned {
		return nil
	}
	if a == remove {
		return u.converge(ctx, config.ServiceGearmand)
	}
	t0 := time.Now()
	if err := <-u.redisUp; err != nil {
		return nil // Redis's own error is the one to report
	}
	if err := u.converge(ctx, config.ServiceGearmand); err != nil {
		return err
	}
	if err := u.waitGearmand(ctx); err != nil {
		return err
	}
	u.ready(config.ServiceGearmand, t0)
	return nil
}

// waitGearmand polls until gearmand answers `status` on its published port
// and Redis lists its connection.
func (u *upRun) waitGearmand(ctx context.Context) error {
	name, v := u.plan.names.Gearmand, u.plan.pinned
	addr := net.JoinHostPort(u.cfg.Host, strconv.Itoa(v.GearmandPort))
	return engine.Poll(ctx, 60*time.Second, "gearmand ("+name+")", func(ctx context.Context) error {
		if _, err := GearmanStatus(ctx, addr); err != nil {
			return u.probeError(ctx, config.ServiceGearmand, err)
		}
		c, err := u.e.Docker.Inspect(ctx, name)
		if err != nil {
			return err
		}
		return u.redisClient(ctx, c.Addresses[u.plan.names.Network])
	})
}

// redisClient checks that Redis has a client connected from ip.
func (u *upRun) redisClient(ctx context.Context, ip string) error {
	v := u.plan.pinned
	rdb := setup.OpenRedis(u.cfg.Host, v.RedisPort, v.RedisPassword)
	defer rdb.Close()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return err
	}
	if ip != "" && strings.Contains(list, "addr="+ip+":") {
		return nil
	}
	return fmt.Errorf("gearmand is not connected to Redis yet")
}

// GearmanQueue is one function's line of gearmand's admin `status`.
type GearmanQueue struct {
	Function        string
	Queued, Running int
	Workers         int
}

// GearmanStatus asks gearmand's admin protocol for its queues: a real
// round trip, as readiness wants.
func GearmanStatus(ctx context.Context, addr string) ([]GearmanQueue, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("status\n")); err != nil {
		return nil, err
	}
	var queues []GearmanQueue
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		if line == "." {
			return queues, nil
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			return nil, fmt.Errorf("gearmand's status: unexpected line %q", line)
		}
		q := GearmanQueue{Function: f[0]}
		q.Queued, _ = strconv.Atoi(f[1])
		q.Running, _ = strconv.Atoi(f[2])
		q.Workers, _ = strconv.Atoi(f[3])
		queues = append(queues, q)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("gearmand closed the connection before its status ended")
}
