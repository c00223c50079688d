// Package setup brings a MySQL server and a Redis to what devstack promises:
// Archivematica's databases, the app user and its grants, the schema, and a
// marker that says the set-up finished. It works on connections, not on
// containers: a reader sees what happens to the servers here, and where they
// run is the caller's business.
package setup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Databases are the schemas Archivematica uses: the dashboard, MCPServer and
// MCPClient share MCP; the storage service has SS.
var Databases = []string{"MCP", "SS"}

// AppUser is the account Archivematica's components connect as.
const AppUser = "archivematica"

// BootstrapVersion is written to the marker last; a server without it (an
// interrupted first start, or an older devstack) gets the set-up again.
// Version 3 brought Archivematica's complete migrated schema.
const BootstrapVersion = 3

func init() {
	// The driver logs every refused connection while a server boots, which
	// polling expects; errors reach the caller anyway.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// OpenMySQL opens a connection pool; nothing is dialled until it is used.
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

// Flavour is read from the server, never guessed from the image name.
type Flavour struct {
	Version string
	// Native reports whether mysql_native_password can be used: MySQL 8.4
	// and 9 no longer load it by default.
	Native bool
}

func (f Flavour) MariaDB() bool { return strings.Contains(strings.ToLower(f.Version), "mariadb") }

// Name is mariadb or mysql: a data directory moves only between servers of
// one flavour.
func (f Flavour) Name() string {
	if f.MariaDB() {
		return "mariadb"
	}
	return "mysql"
}

// Series is the version's major.minor ("10.11", "8.0"), the other half of
// what a data directory needs of the server that opens it; "" when the
// version does not start with one.
func (f Flavour) Series() string {
	m := series.FindStringSubmatch(f.Version)
	if m == nil {
		return ""
	}
	return m[1]
}

var series = regexp.MustCompile(`^(\d+\.\d+)\b`)

// BinaryFlavour reads what the server binary says of itself (`mysqld
// --version`: "mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu
// ..."), for an image whose server is not running: its version is what
// SELECT VERSION() would return.
func BinaryFlavour(out string) (Flavour, error) {
	_, rest, ok := strings.Cut(out, " Ver ")
	fields := strings.Fields(rest)
	if !ok || len(fields) == 0 {
		return Flavour{}, fmt.Errorf("no version in %q", strings.TrimSpace(out))
	}
	return Flavour{Version: fields[0]}, nil
}

// Collation is utf8mb4's default on MySQL 8; MariaDB has no 0900 collations.
func (f Flavour) Collation() string {
	if f.MariaDB() {
		return "utf8mb4_unicode_ci"
	}
	return "utf8mb4_0900_ai_ci"
}

// identified names the password plugin explicitly on MySQL 8, as Aurora MySQL
// 3 does by default, so that clients connect without TLS set-up. MariaDB uses
// mysql_native_password for IDENTIFIED BY already.
func (f Flavour) identified() string {
	if f.MariaDB() || !f.Native {
		return "IDENTIFIED BY ?"
	}
	return "IDENTIFIED WITH mysql_native_password BY ?"
}

// ReadFlavour asks the server what it is.
func ReadFlavour(ctx context.Context, db *sql.DB) (Flavour, error) {
	var f Flavour
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&f.Version); err != nil {
		return f, err
	}
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'mysql_native_password' AND PLUGIN_STATUS = 'ACTIVE'").Scan(&n)
	f.Native = n > 0
	return f, err
}

// IsAccessDenied recognises refused credentials: a wrong password (1045),
// or no account for the client's host (1130), which a data directory made
// by another image gives.
func IsAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1045 || me.Number == 1130)
}

// Bootstrapped reports whether the set-up marker is present.
func Bootstrapped(ctx context.Context, root *sql.DB) bool {
	var n int
	err := root.QueryRowContext(ctx, markedQuery, BootstrapVersion).Scan(&n)
	return err == nil && n > 0
}

// AppAccount is the app user's account, quoted as SQL takes it.
const AppAccount = "'" + AppUser + "'@'%'"

// provisioning are the databases, the app user (created when user; its
// password set again when alter) and its grants of ALL on them. Every
// statement is idempotent.
func provisioning(f Flavour, appPassword string, user, alter bool) []statement {
	var s []statement
	add := func(q string, args ...any) { s = append(s, statement{q, args}) }
	for _, db := range Databases {
		add(fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE %s", db, f.Collation()))
	}
	if user {
		add("CREATE USER IF NOT EXISTS "+AppAccount+" "+f.identified(), appPassword)
	}
	if alter {
		add("ALTER USER "+AppAccount+" "+f.identified(), appPassword)
	}
	for _, db := range Databases {
		add(fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO %s", db, AppAccount))
	}
	return s
}

// statements are the set-up: the databases, the app user with ALL on them,
// and devstack's own schema. Every statement is idempotent.
func statements(f Flavour, appPassword string) []statement {
	// ALTER as well: the password may have been changed in the config.
	s := provisioning(f, appPassword, true, true)
	add := func(q string, args ...any) { s = append(s, statement{q, args}) }
	add("CREATE DATABASE IF NOT EXISTS devstack CHARACTER SET utf8mb4")
	add("CREATE TABLE IF NOT EXISTS devstack.bootstrap (version INT NOT NULL PRIMARY KEY, completed_at DATETIME NOT NULL)")
	// Seeding's cache of fixture password hashes: PBKDF2 costs 0.1 s a hash.
	add("CREATE TABLE IF NOT EXISTS devstack.password_hashes (digest CHAR(64) NOT NULL PRIMARY KEY, encoded VARCHAR(128) NOT NULL)")
	// Complete schema loads, and the tables' checksums a reset returns to.
	add("CREATE TABLE IF NOT EXISTS devstack.schema_loads (db VARCHAR(64) NOT NULL PRIMARY KEY, digest VARCHAR(64) NOT NULL, loaded_at DATETIME NOT NULL)")
	add("CREATE TABLE IF NOT EXISTS devstack.baseline (db VARCHAR(64) NOT NULL, tbl VARCHAR(64) NOT NULL, checksum BIGINT NOT NULL, PRIMARY KEY (db, tbl))")
	return s
}

type statement struct {
	query string
	args  []any
}

// Bootstrap creates the databases, the app user and its grants. The marker
// is written by MarkBootstrapped, once the caller has checked the result.
func Bootstrap(ctx context.Context, root *sql.DB, f Flavour, appPassword string) error {
	return run(ctx, root, statements(f, appPassword))
}

// Provision gives a server devstack does not own what Archivematica needs
// of it: the databases that are missing, the app user when it is missing
// (createUser), with appPassword, and its grants. It never changes an
// existing user's password, and makes nothing of devstack's own.
func Provision(ctx context.Context, root *sql.DB, f Flavour, createUser bool, appPassword string) error {
	return run(ctx, root, provisioning(f, appPassword, createUser, false))
}

func run(ctx context.Context, root *sql.DB, statements []statement) error {
	for _, s := range statements {
		if _, err := root.ExecContext(ctx, s.query, s.args...); err != nil {
			return fmt.Errorf("MySQL set-up failed at %q: %w", strings.Join(strings.Fields(s.query)[:3], " "), err)
		}
	}
	return nil
}

// RotateRoot gives root a new password, for every host root may come from:
// a server made from a template starts with the template's. An account the
// server ignores (one for a hostname, under skip-name-resolve) cannot be
// altered, nor logged into: it is left as it is.
func RotateRoot(ctx context.Context, root *sql.DB, f Flavour, password string) error {
	accounts, err := accountsWhere(ctx, root, "User = 'root'")
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if _, err := root.ExecContext(ctx, "ALTER USER "+a.quoted()+" "+f.identified(), password); err != nil && !isMySQLError(err, errUnknownAccount) {
			return err
		}
	}
	return nil
}

// errUnknownAccount is "Operation ALTER USER failed": no such account, as
// far as the server's privilege cache knows.
const errUnknownAccount = 1396

// PruneAccounts drops root's accounts but the two devstack uses (the one it
// is logged in as, over TCP, and root@localhost, for clients inside the
// container) and anonymous accounts. A template keeps no account its stacks
// cannot give a password of their own: mariadb-install-db leaves root
// accounts for 127.0.0.1, ::1 and the builder's hostname, the last of which a
// server under skip-name-resolve ignores and so cannot alter.
func PruneAccounts(ctx context.Context, root *sql.DB) error {
	var current string
	if err := root.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&current); err != nil {
		return err
	}
	_, self, _ := strings.Cut(current, "@")
	accounts, err := accountsWhere(ctx, root, "User = '' OR (User = 'root' AND Host NOT IN (?, 'localhost'))", self)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if _, err := root.ExecContext(ctx, "DROP USER "+a.quoted()); err != nil {
			return fmt.Errorf("cannot drop %s: %w", a.quoted(), err)
		}
	}
	return nil
}

// account is a user@host row of mysql.user.
type account struct{ user, host string }

func (a account) quoted() string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return q(a.user) + "@" + q(a.host)
}

func accountsWhere(ctx context.Context, root *sql.DB, where string, args ...any) ([]account, error) {
	rows, err := root.QueryContext(ctx, "SELECT User, Host FROM mysql.user WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []account
	for rows.Next() {
		var a account
		if err := rows.Scan(&a.user, &a.host); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// MarkBootstrapped writes the marker, last.
func MarkBootstrapped(ctx context.Context, root *sql.DB) error {
	_, err := root.ExecContext(ctx, markStatement, BootstrapVersion)
	return err
}

// CheckAppUser is devstack's readiness test: a real round trip as the app
// user, on each database it must reach. open connects as the app user.
func CheckAppUser(ctx context.Context, open func(database string) *sql.DB) error {
	for _, name := range Databases {
		db := open(name)
		var one int
		err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		db.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
