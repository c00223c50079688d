package seed

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Render returns the statements that seed a database fresh from the
// built-in schema: what Apply writes there, as INSERTs and UPDATEs with the
// keys Apply gives, and the rows of devstack's password cache. It needs no
// database: Apply's own logic runs on the schema's rows in memory.
func (s *Seeder) Render(dashboardUUID string, at time.Time) ([]string, error) {
	m, err := newMemStore(s.F.Schema)
	if err != nil {
		return nil, err
	}
	if err := NewSeeder(s.F).apply(&writer{db: m, at: at}, dashboardUUID); err != nil {
		return nil, err
	}
	return m.statements, nil
}

// memStore holds the rows of the tables seeding writes, as text (nil is
// NULL), and records the statements that change them.
type memStore struct {
	tables     map[string][]map[string]*string // "MCP.auth_user" → rows
	cache      map[string]string
	statements []string
}

func newMemStore(schemas []Schema) (*memStore, error) {
	m := &memStore{tables: map[string][]map[string]*string{}, cache: map[string]string{}}
	for _, s := range schemas {
		for _, t := range WrittenTables[s.Database] {
			name := s.Database + "." + t
			m.tables[name] = []map[string]*string{}
			for _, insert := range s.Rows[t] {
				rows, err := parseInsert(insert)
				if err != nil {
					return nil, fmt.Errorf("schema for %s: %s: %w", s.Database, t, err)
				}
				m.tables[name] = append(m.tables[name], rows...)
			}
		}
	}
	return m, nil
}

// text is a value as MySQL shows it: nil for NULL, booleans as 1 and 0,
// times as DATETIME(6).
func text(v any) *string {
	var s string
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		s = v
	case bool:
		s = "0"
		if v {
			s = "1"
		}
	case time.Time:
		s = v.UTC().Format("2006-01-02 15:04:05.000000")
	default:
		s = fmt.Sprint(v)
	}
	return &s
}

func (m *memStore) rows(table string) ([]map[string]*string, error) {
	rows, ok := m.tables[table]
	if !ok {
		return nil, fmt.Errorf("%s is not a table seeding writes", table)
	}
	return rows, nil
}

func matches(r map[string]*string, fields []field) bool {
	for _, f := range fields {
		want, got := text(f.Val), r[f.Col]
		if (want == nil) != (got == nil) || (want != nil && *want != *got) {
			return false
		}
	}
	return true
}

func (m *memStore) find(table string, key []field) (map[string]*string, error) {
	rows, err := m.rows(table)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if matches(r, key) {
			return r, nil
		}
	}
	return nil, nil
}

func (m *memStore) get(table string, key []field, col string) (string, bool, error) {
	r, err := m.find(table, key)
	if r == nil || err != nil {
		return "", false, err
	}
	if v := r[col]; v != nil {
		return *v, true, nil
	}
	return "", true, nil
}

func (m *memStore) match(table string, key []field, set []field) (bool, bool, error) {
	r, err := m.find(table, key)
	return r != nil, r != nil && matches(r, set), err
}

func (m *memStore) nextKey(table, pk string) (int64, error) {
	rows, err := m.rows(table)
	var top int64
	for _, r := range rows {
		if v := r[pk]; v != nil {
			n, _ := strconv.ParseInt(*v, 10, 64)
			top = max(top, n)
		}
	}
	return top + 1, err
}

func (m *memStore) insert(table string, set []field) error {
	if _, err := m.rows(table); err != nil {
		return err
	}
	r := map[string]*string{}
	var cols, vals []string
	for _, f := range set {
		r[f.Col] = text(f.Val)
		cols, vals = append(cols, column(f.Col)), append(vals, Literal(f.Val))
	}
	m.tables[table] = append(m.tables[table], r)
	m.statements = append(m.statements, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteTable(table), strings.Join(cols, ", "), strings.Join(vals, ", ")))
	return nil
}

func (m *memStore) update(table string, key, set []field) error {
	r, err := m.find(table, key)
	if r == nil || err != nil {
		return err
	}
	var sets, conds []string
	for _, f := range set {
		r[f.Col] = text(f.Val)
		sets = append(sets, column(f.Col)+" = "+Literal(f.Val))
	}
	for _, f := range key {
		conds = append(conds, column(f.Col)+" = "+Literal(f.Val))
	}
	m.statements = append(m.statements, fmt.Sprintf("UPDATE %s SET %s WHERE %s", quoteTable(table), strings.Join(sets, ", "), strings.Join(conds, " AND ")))
	return nil
}

func (m *memStore) cachedHash(d string) string { return m.cache[d] }

func (m *memStore) cacheHash(d, h string) {
	if _, ok := m.cache[d]; ok {
		return
	}
	m.cache[d] = h
	m.statements = append(m.statements, fmt.Sprintf("INSERT IGNORE INTO `devstack`.`password_hashes` (`digest`, `encoded`) VALUES (%s, %s)", Literal(d), Literal(h)))
}

func quoteTable(table string) string {
	db, t, _ := strings.Cut(table, ".")
	return column(db) + "." + column(t)
}

// Literal renders a value as a MySQL literal, escaped as the MySQL driver
// escapes the arguments it interpolates.
func Literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		var b strings.Builder
		b.WriteByte('\'')
		for _, c := range []byte(v) {
			switch c {
			case 0:
				b.WriteString(`\0`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case 0x1a:
				b.WriteString(`\Z`)
			case '\'', '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('\'')
		return b.String()
	case time.Time:
		return "'" + *text(v) + "'"
	}
	return *text(v)
}

// parseInsert reads the rows of one INSERT statement of a schema file:
// INSERT INTO `t` (`a`, `b`) VALUES (1,'x'),(2,NULL).
func parseInsert(stmt string) ([]map[string]*string, error) {
	open := strings.IndexByte(stmt, '(')
	head, rest, ok := strings.Cut(stmt[max(open, 0):], ") VALUES")
	if open < 0 || !ok {
		return nil, fmt.Errorf("not an INSERT with columns: %.60s", stmt)
	}
	var cols []string
	for _, c := range strings.Split(strings.TrimPrefix(head, "("), ",") {
		cols = append(cols, strings.Trim(strings.TrimSpace(c), "`"))
	}
	var rows []map[string]*string
	p := &valueParser{s: rest}
	for {
		p.skip(" \n\t,")
		if p.done() {
			return rows, nil
		}
		vals, err := p.tuple()
		if err != nil {
			return nil, err
		}
		if len(vals) != len(cols) {
			return nil, fmt.Errorf("a row of %d values for %d columns", len(vals), len(cols))
		}
		r := map[string]*string{}
		for i, c := range cols {
			r[c] = vals[i]
		}
		rows = append(rows, r)
	}
}

type valueParser struct {
	s string
	i int
}

func (p *valueParser) done() bool { return p.i >= len(p.s) }

func (p *valueParser) skip(set string) {
	for !p.done() && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

// tuple reads (v, v, ...): quoted strings with backslash escapes, NULL, or
// bare numbers.
func (p *valueParser) tuple() ([]*string, error) {
	if p.done() || p.s[p.i] != '(' {
		return nil, fmt.Errorf("expected ( at %d", p.i)
	}
	p.i++
	var vals []*string
	for {
		p.skip(" ")
		if p.done() {
			return nil, fmt.Errorf("unterminated row")
		}
		switch {
		case p.s[p.i] == '\'':
			v, err := p.quoted()
			if err != nil {
				return nil, err
			}
			vals = append(vals, &v)
		default:
			end := strings.IndexAny(p.s[p.i:], ",)")
			if end < 0 {
				return nil, fmt.Errorf("unterminated row")
			}
			v := strings.TrimSpace(p.s[p.i : p.i+end])
			p.i += end
			if strings.EqualFold(v, "NULL") {
				vals = append(vals, nil)
			} else {
				vals = append(vals, &v)
			}
		}
		p.skip(" ")
		if p.done() {
			return nil, fmt.Errorf("unterminated row")
		}
		c := p.s[p.i]
		p.i++
		if c == ')' {
			return vals, nil
		}
		if c != ',' {
			return nil, fmt.Errorf("unexpected %q in a row", c)
		}
	}
}

var unescape = map[byte]byte{'0': 0, 'n': '\n', 'r': '\r', 't': '\t', 'Z': 0x1a, 'b': '\b'}

func (p *valueParser) quoted() (string, error) {
	var b []byte
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			if u, ok := unescape[p.s[p.i]]; ok {
				b = append(b, u)
			} else {
				b = append(b, p.s[p.i])
			}
		case c == '\'' && p.i+1 < len(p.s) && p.s[p.i+1] == '\'':
			b = append(b, '\'')
			p.i++
		case c == '\'':
			p.i++
			return string(b), nil
		default:
			b = append(b, c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}
