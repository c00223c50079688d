package setup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/go-sql-driver/mysql"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// ErrBadSchema is a schema fixture the server refused: bad input, not a
// broken server.
var ErrBadSchema = errors.New("bad schema")

// ErrReferenced is a table that rows of tables devstack does not know
// still point at.
var ErrReferenced = errors.New("rows of other tables refer to it")

// ApplySchema creates the built-in schema's tables that are missing.
func ApplySchema(ctx context.Context, root *sql.DB, schemas []seed.Schema) error {
	conn, err := root.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range schemas {
		if _, err := conn.ExecContext(ctx, "USE `"+s.Database+"`"); err != nil {
			return fmt.Errorf("cannot use database %s: %w", s.Database, err)
		}
		for i, stmt := range s.Statements {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("%w: schema for %s: creating table %s failed: %v", ErrBadSchema, s.Database, s.Tables[i], err)
			}
		}
	}
	return nil
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

// EmptyTables deletes every row of the built-in schema's tables that exist,
// never django_migrations or other tables devstack did not create. On its own
// schema it turns foreign-key checks off; on the apps' tables (`schema: none`)
// it keeps them on and deletes children first, so that rows of tables it does
// not know are never left pointing at nothing.
func EmptyTables(ctx context.Context, root *sql.DB, schemas []seed.Schema, builtin bool) (seed.Changes, error) {
	var c seed.Changes
	conn, err := root.Conn(ctx)
	if err != nil {
		return c, err
	}
	defer conn.Close()
	if builtin {
		if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
			return c, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SET FOREIGN_KEY_CHECKS = 1")
	}
	for _, s := range schemas {
		// The schema lists parents before children.
		for _, t := range slices.Backward(s.Tables) {
			table := "`" + s.Database + "`.`" + t + "`"
			res, err := conn.ExecContext(ctx, "DELETE FROM "+table)
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
				c.Tables = append(c.Tables, fmt.Sprintf("%s.%s %d", s.Database, t, n))
			}
		}
	}
	return c, nil
}

func isMySQLError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && slices.Contains(numbers, me.Number)
}
