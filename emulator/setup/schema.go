package setup

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// ErrBadSchema is a schema fixture the server refused: bad input, not a
// broken server.
var ErrBadSchema = errors.New("bad schema")

// ErrOldSchema is a database an older devstack made with its partial
// schema: real Archivematica cannot migrate it, and devstack will not drop
// data it did not make just now.
var ErrOldSchema = errors.New("made by an older devstack")

// ErrReferenced is a table that rows of tables devstack does not know
// still point at.
var ErrReferenced = errors.New("rows of other tables refer to it")

// LoadSchema loads each database's schema file into it, once. A load is
// recorded in devstack.schema when it is complete, so one that was cut short
// (its database never finished a first up) is dropped and done again. A
// database with tables and no record was made by the apps' own migrations
// (`schema: none` before), which devstack leaves alone, or by an older
// devstack (ErrOldSchema).
func LoadSchema(ctx context.Context, root *sql.DB, schemas []seed.Schema) error {
	errs := make([]error, len(schemas))
	var wg sync.WaitGroup
	for i, s := range schemas {
		wg.Go(func() { errs[i] = loadOne(ctx, root, s) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func loadOne(ctx context.Context, root *sql.DB, s seed.Schema) error {
	var loaded int
	if err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM devstack.schema_loads WHERE db = ?", s.Database).Scan(&loaded); err != nil {
		return err
	}
	if loaded > 0 {
		return nil
	}
	var tables int
	if err := root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?", s.Database).Scan(&tables); err != nil {
		return err
	}
	if tables > 0 {
		var marks, older int
		if err := root.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(version < ?), 0) FROM devstack.bootstrap", BootstrapVersion).Scan(&marks, &older); err != nil {
			return err
		}
		switch {
		case older > 0:
			return fmt.Errorf("database %s: %w", s.Database, ErrOldSchema)
		case marks > 0:
			return nil // the apps' own migrations made it
		}
		// A load of ours that was cut short: nothing else can be in it.
		if err := recreate(ctx, root, s.Database); err != nil {
			return err
		}
	}
	if err := ExecSchema(ctx, root, s); err != nil {
		return err
	}
	_, err := root.ExecContext(ctx, loadedStatement, s.Database, s.Digest)
	return err
}

// ExecSchema runs a schema file's statements in its database, which must
// be empty. A statement the server refuses is ErrBadSchema.
func ExecSchema(ctx context.Context, root *sql.DB, s seed.Schema) error {
	conn, err := root.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "USE `"+s.Database+"`"); err != nil {
		return err
	}
	// The session's settings (foreign-key checks off) must not outlive the
	// load: the connection is discarded rather than pooled.
	defer conn.Raw(func(any) error { return driver.ErrBadConn })
	for _, stmt := range s.Statements {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w: schema for %s: %q failed: %v", ErrBadSchema, s.Database, firstLine(stmt), err)
		}
	}
	return nil
}

func recreate(ctx context.Context, root *sql.DB, db string) error {
	var charset, collation string
	if err := root.QueryRowContext(ctx, "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata WHERE schema_name = ?", db).Scan(&charset, &collation); err != nil {
		return err
	}
	for _, q := range []string{"DROP DATABASE `" + db + "`", "CREATE DATABASE `" + db + "` CHARACTER SET " + charset + " COLLATE " + collation} {
		if _, err := root.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func firstLine(stmt string) string {
	line, _, _ := strings.Cut(stmt, "\n")
	if len(line) > 80 {
		line = line[:80] + "..."
	}
	return line
}

// MissingTables lists the tables seeding writes that do not exist yet, as
// database.table.
func MissingTables(ctx context.Context, root *sql.DB) []string {
	var missing []string
	for _, db := range slices.Sorted(maps.Keys(seed.WrittenTables)) {
		for _, t := range seed.WrittenTables[db] {
			var n int
			_ = root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", db, t).Scan(&n)
			if n == 0 {
				missing = append(missing, db+"."+t)
			}
		}
	}
	return missing
}

// EmptyTables deletes every row of the tables seeding writes, in the apps'
// own database (`schema: none`): with foreign-key checks on, children first,
// so that rows of tables devstack does not know are never left pointing at
// nothing.
func EmptyTables(ctx context.Context, root *sql.DB) (seed.Changes, error) {
	var c seed.Changes
	for _, db := range slices.Sorted(maps.Keys(seed.WrittenTables)) {
		// WrittenTables lists parents before children.
		for _, t := range slices.Backward(seed.WrittenTables[db]) {
			table := "`" + db + "`.`" + t + "`"
			res, err := root.ExecContext(ctx, "DELETE FROM "+table)
			if isMySQLError(err, 1146) { // no such table
				continue
			}
			if isMySQLError(err, 1451, 1217) {
				return c, fmt.Errorf("cannot empty %s: %w", table, ErrReferenced)
			}
			if err != nil {
				return c, fmt.Errorf("cannot empty %s: %w", table, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				c.Removed += int(n)
				c.Tables = append(c.Tables, fmt.Sprintf("%s.%s %d", db, t, n))
			}
		}
	}
	return c, nil
}

func isMySQLError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && slices.Contains(numbers, me.Number)
}

// SchemaDigest identifies the schema a server was loaded with: a digest of
// the schema files whose loads completed, or "none" when devstack loaded
// none (`schema: none`, the apps migrate their own tables).
func SchemaDigest(ctx context.Context, root *sql.DB) (string, error) {
	rows, err := root.QueryContext(ctx, "SELECT db, digest FROM devstack.schema_loads ORDER BY db")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	h := sha256.New()
	loads := 0
	for rows.Next() {
		var db, digest string
		if err := rows.Scan(&db, &digest); err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %s\n", db, digest)
		loads++
	}
	if err := rows.Err(); err != nil || loads == 0 {
		return "none", err
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}
