package emulator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Databases are the schemas Archivematica uses: the dashboard and MCP share
// MCP, the storage service has SS.
var Databases = []string{"MCP", "SS"}

// bootstrapVersion is written to the marker last; a volume without it (an
// interrupted first start, or an older devstack) gets the set-up again.
const bootstrapVersion = 2

func init() {
	// The driver logs every refused connection while a server boots, which
	// polling expects; errors reach the caller anyway.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// OpenMySQL opens a connection pool to a stack's MySQL.
func OpenMySQL(host string, port int, user, password, database string) *sql.DB {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net = user, password, "tcp"
	c.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	c.DBName = database
	// Client-side interpolation lets DDL such as CREATE USER take arguments.
	c.InterpolateParams = true
	c.Timeout = 2 * time.Second
	c.ParseTime = true
	db, _ := sql.Open("mysql", c.FormatDSN()) // only fails for an unknown driver
	return db
}

// flavour is read from the server, never guessed from the image name.
type flavour struct {
	version string
	// native reports whether mysql_native_password can be used: MySQL 8.4
	// and 9 no longer load it by default.
	native bool
}

func (f flavour) mariaDB() bool { return strings.Contains(strings.ToLower(f.version), "mariadb") }

// collation is utf8mb4's default on MySQL 8; MariaDB has no 0900 collations.
func (f flavour) collation() string {
	if f.mariaDB() {
		return "utf8mb4_unicode_ci"
	}
	return "utf8mb4_0900_ai_ci"
}

// identified names the password plugin explicitly on MySQL 8, as Aurora MySQL
// 3 does by default, so that clients connect without TLS set-up. MariaDB uses
// mysql_native_password for IDENTIFIED BY already.
func (f flavour) identified() string {
	if f.mariaDB() || !f.native {
		return "IDENTIFIED BY ?"
	}
	return "IDENTIFIED WITH mysql_native_password BY ?"
}

func readFlavour(ctx context.Context, db *sql.DB) (flavour, error) {
	var f flavour
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&f.version); err != nil {
		return f, err
	}
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'mysql_native_password' AND PLUGIN_STATUS = 'ACTIVE'").Scan(&n)
	f.native = n > 0
	return f, err
}

// waitMySQL polls until root can run a query over the published port.
func (e *Engine) waitMySQL(ctx context.Context, s serviceSpec, host string, v values) (*sql.DB, error) {
	root := OpenMySQL(host, s.HostPort, "root", v.RootPassword, "")
	var denied time.Time
	err := poll(ctx, 180*time.Second, "MySQL ("+s.Name+")", func(ctx context.Context) error {
		err := root.PingContext(ctx)
		if err == nil {
			return nil
		}
		if isAccessDenied(err) {
			// The server is up but refuses the password: the volume was made
			// with another one. Allow a moment for a first start to finish.
			if denied.IsZero() {
				denied = time.Now()
			} else if time.Since(denied) > 5*time.Second {
				return permanent{usageError("MySQL refuses the root password devstack has for %s: the data volume was initialised with another one. Set mysql.root_password back, or remove the data with `devstack down --volumes --yes`.", s.Name)}
			}
		}
		if aerr := e.alive(ctx, s.Name); aerr != nil {
			return aerr
		}
		return err
	})
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

func isAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1045
}

// bootstrapped reports whether the set-up marker is present.
func bootstrapped(ctx context.Context, root *sql.DB) bool {
	var n int
	err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM devstack.bootstrap WHERE version >= ?", bootstrapVersion).Scan(&n)
	return err == nil && n > 0
}

// bootstrapMySQL creates the databases, the app user and its grants. Every
// statement is idempotent; the marker is written by markBootstrapped, last.
func bootstrapMySQL(ctx context.Context, root *sql.DB, f flavour, appPassword string) error {
	user := "'" + AppUser + "'@'%'"
	type stmt struct {
		q    string
		args []any
	}
	var stmts []stmt
	add := func(q string, args ...any) { stmts = append(stmts, stmt{q, args}) }
	for _, db := range Databases {
		add(fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE %s", db, f.collation()))
	}
	add("CREATE USER IF NOT EXISTS "+user+" "+f.identified(), appPassword)
	// ALTER as well: the password may have been changed in the config.
	add("ALTER USER "+user+" "+f.identified(), appPassword)
	for _, db := range Databases {
		add(fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO %s", db, user))
	}
	add("CREATE DATABASE IF NOT EXISTS devstack CHARACTER SET utf8mb4")
	add("CREATE TABLE IF NOT EXISTS devstack.bootstrap (version INT NOT NULL PRIMARY KEY, completed_at DATETIME NOT NULL)")
	// Seeding's cache of fixture password hashes: PBKDF2 costs 0.1 s a hash.
	add("CREATE TABLE IF NOT EXISTS devstack.password_hashes (digest CHAR(64) NOT NULL PRIMARY KEY, encoded VARCHAR(128) NOT NULL)")
	for _, s := range stmts {
		if _, err := root.ExecContext(ctx, s.q, s.args...); err != nil {
			return envError(err, "MySQL set-up failed at %q: %v", strings.SplitN(s.q, " ", 4)[:3], err)
		}
	}
	return nil
}

func markBootstrapped(ctx context.Context, root *sql.DB) error {
	_, err := root.ExecContext(ctx, "REPLACE INTO devstack.bootstrap (version, completed_at) VALUES (?, UTC_TIMESTAMP())", bootstrapVersion)
	if err != nil {
		return envError(err, "cannot record MySQL set-up: %v", err)
	}
	return nil
}

// checkAppUser is devstack's readiness test: a real round trip as the app
// user, on each database it must reach.
func checkAppUser(ctx context.Context, host string, port int, password string) error {
	for _, name := range Databases {
		db := OpenMySQL(host, port, AppUser, password, name)
		var one int
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		db.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
