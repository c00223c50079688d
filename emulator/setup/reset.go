package setup

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/emulator/seed"
)

// A reset brings the built-in schema's tables back to their state right
// after up. It works from a baseline: each table's checksum, recorded in
// devstack.baseline when that state was reached. Tables that still match it
// are not touched, so a reset costs what a test changed, not what the
// schema holds (thousands of format policy rows). django_migrations is never
// touched, nor are tables the schema does not create.

// checked are the tables a reset looks after, as `db`.`table`, by name.
func checked(schemas []seed.Schema) map[string]table {
	out := map[string]table{}
	for _, s := range schemas {
		for _, t := range s.Tables {
			if t == "django_migrations" {
				continue
			}
			out[s.Database+"."+t] = table{db: s.Database, name: t, rows: s.Rows[t], autoIncrement: s.AutoIncrement[t]}
		}
	}
	return out
}

type table struct {
	db, name      string
	rows          []string
	autoIncrement bool
}

func (t table) quoted() string { return "`" + t.db + "`.`" + t.name + "`" }

// checksums returns CHECKSUM TABLE for the tables, by `db.table`; a table
// that does not exist is left out.
func checksums(ctx context.Context, q querier, tables []table) (map[string]int64, error) {
	out := map[string]int64{}
	if len(tables) == 0 {
		return out, nil
	}
	var names []string
	for _, t := range tables {
		names = append(names, t.quoted())
	}
	rows, err := q.QueryContext(ctx, "CHECKSUM TABLE "+strings.Join(names, ", "))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var sum sql.NullInt64
		if err := rows.Scan(&name, &sum); err != nil {
			return nil, err
		}
		if sum.Valid {
			out[name] = sum.Int64
		}
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// RecordBaseline records the current checksums of the schema's tables (of
// only those named, as db.table, when any are) as the state to reset to.
func RecordBaseline(ctx context.Context, root *sql.DB, schemas []seed.Schema, only ...string) error {
	all := checked(schemas)
	var tables []table
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if len(only) == 0 || slices.Contains(only, name) {
			tables = append(tables, all[name])
		}
	}
	sums, err := checksums(ctx, root, tables)
	if err != nil {
		return err
	}
	for name, sum := range sums {
		db, tbl, _ := strings.Cut(name, ".")
		if _, err := root.ExecContext(ctx, baselineStatement, db, tbl, sum); err != nil {
			return err
		}
	}
	return nil
}

// Restore empties the tables that gained rows since the baseline and puts
// back the migrations' rows of those whose rows changed. It returns what it
// did, and the tables it touched (db.table), whose baseline the caller
// records again once it has seeded.
func Restore(ctx context.Context, root *sql.DB, schemas []seed.Schema) (seed.Changes, []string, error) {
	var c seed.Changes
	all := checked(schemas)
	base := map[string]int64{}
	rows, err := root.QueryContext(ctx, "SELECT CONCAT(db, '.', tbl), checksum FROM devstack.baseline")
	if err != nil {
		return c, nil, err
	}
	for rows.Next() {
		var name string
		var sum int64
		if err := rows.Scan(&name, &sum); err != nil {
			rows.Close()
			return c, nil, err
		}
		base[name] = sum
	}
	rows.Close()
	// Tables empty in the baseline: one query finds those that are not now.
	// The others (and any without a baseline) are compared by checksum.
	var empty []table
	var compare []table
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if sum, ok := base[name]; ok && sum == 0 {
			empty = append(empty, all[name])
		} else {
			compare = append(compare, all[name])
		}
	}
	changed, err := nonEmpty(ctx, root, empty)
	if err != nil {
		return c, nil, err
	}
	sums, err := checksums(ctx, root, compare)
	if err != nil {
		return c, nil, err
	}
	for _, t := range compare {
		name := t.db + "." + t.name
		if sum, ok := sums[name]; ok && sum != base[name] {
			changed = append(changed, t)
		}
	}
	if len(changed) == 0 {
		return c, nil, nil
	}
	conn, err := root.Conn(ctx)
	if err != nil {
		return c, nil, err
	}
	defer conn.Close()
	// Foreign-key checks are off for this session only, which is then
	// discarded rather than pooled.
	defer conn.Raw(func(any) error { return driver.ErrBadConn })
	if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
		return c, nil, err
	}
	var touched []string
	for _, t := range changed {
		n, err := restoreTable(ctx, conn, t)
		if err != nil {
			return c, nil, fmt.Errorf("cannot reset %s: %w", t.quoted(), err)
		}
		c.Removed += n
		c.Tables = append(c.Tables, fmt.Sprintf("%s.%s %d", t.db, t.name, n))
		touched = append(touched, t.db+"."+t.name)
	}
	return c, touched, nil
}

// nonEmpty returns the tables that hold rows, in one query.
func nonEmpty(ctx context.Context, q querier, tables []table) ([]table, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	var parts []string
	for i, t := range tables {
		parts = append(parts, fmt.Sprintf("SELECT %d FROM DUAL WHERE EXISTS (SELECT 1 FROM %s)", i, t.quoted()))
	}
	rows, err := q.QueryContext(ctx, strings.Join(parts, " UNION ALL "))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []table
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, tables[i])
	}
	return out, rows.Err()
}

// restoreTable deletes a table's rows, puts back the migrations' rows, and
// lets its next key follow them, as in a fresh database.
func restoreTable(ctx context.Context, conn *sql.Conn, t table) (int, error) {
	res, err := conn.ExecContext(ctx, "DELETE FROM "+t.quoted())
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	for _, insert := range t.rows {
		if _, err := conn.ExecContext(ctx, "INSERT INTO "+t.quoted()+strings.TrimPrefix(insert, insertPrefix(insert)), nil...); err != nil {
			return 0, err
		}
	}
	if t.autoIncrement {
		if _, err := conn.ExecContext(ctx, "ALTER TABLE "+t.quoted()+" AUTO_INCREMENT = 1"); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// insertPrefix is "INSERT INTO `table`" of a schema file's INSERT, which
// names the table without its database.
func insertPrefix(insert string) string {
	i := strings.Index(insert, "`")
	j := strings.Index(insert[i+1:], "`")
	return insert[:i+1+j+1]
}
