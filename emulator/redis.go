package emulator

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpenRedis returns a client for a stack's Redis.
func OpenRedis(host string, port int, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:        net.JoinHostPort(host, strconv.Itoa(port)),
		Password:    password,
		DialTimeout: 2 * time.Second,
		MaxRetries:  -1, // polling retries; the client must not add its own back-off
	})
}

// waitRedis polls until Redis answers PING.
func (e *Engine) waitRedis(ctx context.Context, s serviceSpec, host, password string) error {
	rdb := OpenRedis(host, s.HostPort, password)
	defer rdb.Close()
	return poll(ctx, 60*time.Second, "Redis ("+s.Name+")", func(ctx context.Context) error {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if aerr := e.alive(ctx, s.Name); aerr != nil {
			return aerr
		}
		return err
	})
}
