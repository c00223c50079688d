// Package target bootstraps, and checks, an Archivematica environment that
// devstack did not make (a staging or production stack: RDS or any MySQL,
// ElastiCache or any Redis, an EFS or NFS mount) from the same fixtures,
// schema and seeding a devstack stack gets. It talks to the servers and the
// file system directly, with no Docker in its path: Inspect reads and plans,
// Apply does the plan, Verify reports what drifted.
//
// It touches no database but MCP and SS (its reads of the server's metadata
// go through information_schema and SHOW GRANTS), never drops a database, a
// table, a row or a file, and never changes a schema that exists:
// migrations are Archivematica's job.
package target

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/wellcomecollection/devstack/emulator/shared"
)

// Target is an environment to bootstrap or check.
type Target struct {
	Name  string
	MySQL MySQL
	// Redis is optional: nil when the target has none to check.
	Redis *Redis
	// Shared is the shared directory, a local path (the mount of an EFS or
	// NFS share, or a Docker volume's folder on a local engine).
	Shared Shared
	// AppPassword is the app user's password for a user to be made; empty
	// when devstack is to generate one.
	AppPassword string
}

// MySQL is the target's server and the admin account that bootstraps it.
type MySQL struct {
	Host     string
	Port     int
	User     string
	Password string
	// TLS connects over TLS, checking the server's certificate against CA
	// (a PEM file; the system's roots when empty). RDS requires it.
	TLS bool
	CA  string
}

// Redis is the target's Redis, which needs no bootstrapping: it is checked
// to answer.
type Redis struct {
	Host     string
	Port     int
	Password string
	TLS      bool
}

// Shared is the shared directory and who owns what devstack writes there.
type Shared struct {
	Path  string
	Owner shared.Owner
}

// ErrLogin is a server that refuses the admin account: nothing was done.
var ErrLogin = errors.New("cannot log in")

// open connects to the target's server as its admin, without a database.
// Times come as text, as MySQL prints them, which planning compares.
func (m MySQL) open() (*sql.DB, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net = m.User, m.Password, "tcp"
	c.Addr = m.Addr()
	c.Timeout = 5 * time.Second
	c.InterpolateParams = true
	if m.TLS {
		cfg := &tls.Config{ServerName: m.Host, MinVersion: tls.VersionTLS12}
		if m.CA != "" {
			pem, err := os.ReadFile(m.CA)
			if err != nil {
				return nil, fmt.Errorf("cannot read the CA file: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("the CA file %s holds no PEM certificate", m.CA)
			}
		}
		c.TLS = cfg
	}
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// Addr is where the server answers.
func (m MySQL) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// connect opens the server and proves the login.
func (t Target) connect(ctx context.Context) (*sql.DB, error) {
	db, err := t.MySQL.open()
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1045 || me.Number == 1130) {
			hint := ""
			if !t.MySQL.TLS {
				// MariaDB refuses a plain connection to a server that
				// takes TLS only as it refuses a wrong password.
				hint = "; check the password, or set mysql.tls if the server takes TLS connections only"
			}
			return nil, fmt.Errorf("%w to MySQL at %s as %s: %v%s", ErrLogin, t.MySQL.Addr(), t.MySQL.User, err, hint)
		}
		return nil, fmt.Errorf("cannot reach MySQL at %s: %v", t.MySQL.Addr(), err)
	}
	return db, nil
}

// ping checks that the target's Redis answers.
func (r Redis) ping(ctx context.Context) error {
	o := &redis.Options{Addr: net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), Password: r.Password, DialTimeout: 5 * time.Second}
	if r.TLS {
		o.TLSConfig = &tls.Config{ServerName: r.Host, MinVersion: tls.VersionTLS12}
	}
	c := redis.NewClient(o)
	defer c.Close()
	return c.Ping(ctx).Err()
}
