package setup

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func init() {
	// go-redis logs dial failures, which polling a booting server expects;
	// errors reach the caller anyway.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// OpenRedis returns a client; nothing is dialled until it is used.
func OpenRedis(host string, port int, password string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:        net.JoinHostPort(host, strconv.Itoa(port)),
		Password:    password,
		DialTimeout: 2 * time.Second,
		// Callers poll; the client must not add its own retries and back-off.
		MaxRetries:    -1,
		DialerRetries: 1,
	})
}

// FlushRedis empties every Redis database and returns how many keys it held.
func FlushRedis(ctx context.Context, rdb *redis.Client) (int, error) {
	info, err := rdb.Info(ctx, "keyspace").Result()
	if err != nil {
		return 0, err
	}
	keys := 0
	for _, line := range strings.Split(info, "\n") {
		// db0:keys=3,expires=0,avg_ttl=0
		if _, rest, ok := strings.Cut(line, ":keys="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			keys += n
		}
	}
	return keys, rdb.FlushAll(ctx).Err()
}
