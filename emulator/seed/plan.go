package seed

import (
	"context"
	"database/sql"
	"maps"
	"time"
)

// Rows are the rows of the tables seeding writes, by "DB.table", as text
// (nil is NULL).
type Rows map[string][]map[string]*string

// SchemaRows are the rows the built-in schema's files hold: a database the
// schema was just loaded into.
func SchemaRows(schemas []Schema) (Rows, error) {
	m, err := newMemStore(schemas)
	if err != nil {
		return nil, err
	}
	return m.tables, nil
}

// ReadRows reads the tables seeding writes in databases from a server, as
// text. db must return times as text (the driver's parseTime off), as
// MySQL prints them.
func ReadRows(ctx context.Context, db *sql.DB, databases ...string) (Rows, error) {
	out := Rows{}
	for _, d := range databases {
		for _, t := range WrittenTables[d] {
			rows, err := readTable(ctx, db, d+"."+t)
			if err != nil {
				return nil, err
			}
			out[d+"."+t] = rows
		}
	}
	return out, nil
}

func readTable(ctx context.Context, db *sql.DB, table string) ([]map[string]*string, error) {
	rs, err := db.QueryContext(ctx, "SELECT * FROM "+quoteTable(table))
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]*string{}
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := map[string]*string{}
		for i, c := range cols {
			if vals[i].Valid {
				r[c] = &vals[i].String
			}
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// Plan returns the rows seeding f would add and change in a database
// holding rows, without a database: Apply's own logic runs on a copy of
// them in memory.
func Plan(f *Fixtures, rows Rows, dashboardUUID string, at time.Time) ([]RowChange, error) {
	m := &memStore{tables: map[string][]map[string]*string{}, cache: map[string]string{}}
	for t, rs := range rows {
		m.tables[t] = make([]map[string]*string, 0, len(rs))
		for _, r := range rs {
			m.tables[t] = append(m.tables[t], maps.Clone(r))
		}
	}
	log := []RowChange{}
	if err := NewSeeder(f).apply(&writer{db: m, at: at, log: &log}, dashboardUUID); err != nil {
		return nil, err
	}
	return log, nil
}

// Migrations are the Django migrations the schema file records as applied
// (its django_migrations rows), as app.name: the manifest a database is
// compared with.
func (s Schema) Migrations() ([]string, error) {
	var out []string
	for _, insert := range s.Rows["django_migrations"] {
		rows, err := parseInsert(insert)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r["app"] != nil && r["name"] != nil {
				out = append(out, *r["app"]+"."+*r["name"])
			}
		}
	}
	return out, nil
}
