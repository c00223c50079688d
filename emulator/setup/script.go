package setup

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// The set-up as SQL text, for a client that runs it without devstack: the
// init step of compose/docker-compose.yml. Its statements are the ones
// Bootstrap, LoadSchema, RecordBaseline and MarkBootstrapped run.

// Script is the set-up for a server of flavour f: the databases, the app
// user with appPassword, its grants and devstack's own tables.
func Script(f Flavour, appPassword string) []string {
	var out []string
	for _, s := range statements(f, appPassword) {
		out = append(out, literal(s.query, s.args...))
	}
	return out
}

// Flavours are the servers Script tells apart.
var Flavours = map[string]Flavour{
	"mariadb":      {Version: "MariaDB"},
	"mysql-native": {Version: "MySQL", Native: true},
	"mysql":        {Version: "MySQL"},
}

const (
	markedQuery       = "SELECT COUNT(*) FROM devstack.bootstrap WHERE version >= ?"
	loadedStatement   = "INSERT INTO devstack.schema_loads (db, digest, loaded_at) VALUES (?, ?, UTC_TIMESTAMP())"
	baselineStatement = "REPLACE INTO devstack.baseline (db, tbl, checksum) VALUES (?, ?, ?)"
	markStatement     = "REPLACE INTO devstack.bootstrap (version, completed_at) VALUES (?, UTC_TIMESTAMP())"
)

// Loaded records a complete load of s's schema file.
func Loaded(s seed.Schema) string {
	return literal(loadedStatement, s.Database, s.Digest)
}

// Mark is the set-up marker, written last.
func Mark() string { return literal(markStatement, BootstrapVersion) }

// Marked counts the markers of this version's set-up: 0 means it is to do.
func Marked() string { return literal(markedQuery, BootstrapVersion) }

// BaselineTables are the tables whose checksums a reset returns to, as
// `db`.`table`, for CHECKSUM TABLE.
func BaselineTables(schemas []seed.Schema) []string {
	all := checked(schemas)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(all)) {
		out = append(out, all[name].quoted())
	}
	return out
}

// BaselineInsert is the start of the statement that records one table's
// checksum: BaselineInsert + "('db', 'table', checksum)".
var BaselineInsert = strings.TrimSuffix(baselineStatement, "(?, ?, ?)")

// literal fills a statement's placeholders with the arguments as literals.
func literal(stmt string, args ...any) string {
	for _, a := range args {
		stmt = strings.Replace(stmt, "?", seed.Literal(a), 1)
	}
	if strings.Contains(stmt, "?") {
		panic(fmt.Sprintf("setup: too few arguments for %q", stmt))
	}
	return stmt
}
