package seed

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WrittenTables are the tables Apply writes, by database; with `schema: none`
// they must come from the apps' migrations first.
// Each database's tables come parents first.
var WrittenTables = map[string][]string{
	"MCP": {"auth_user", "Agents", "main_userprofile", "tastypie_apikey", "DashboardSettings"},
	"SS": {"auth_user", "tastypie_apikey", "locations_space", "locations_localfilesystem", "locations_pipeline",
		"locations_location", "locations_locationpipeline", "administration_settings"},
}

// Changes counts what a seed or reset did, for the one line it reports.
type Changes struct {
	Added, Updated, Removed int
	// Tables lists the tables rows were removed from, with counts.
	Tables []string
}

func (c *Changes) Add(o Changes) {
	c.Added += o.Added
	c.Updated += o.Updated
	c.Removed += o.Removed
	c.Tables = append(c.Tables, o.Tables...)
}

// Seeder applies one set of fixtures. It remembers the password hashes it
// made or found, so that repeated seeds and resets hash each password once.
type Seeder struct {
	F  *Fixtures
	mu sync.Mutex
	// synced holds hashes known to be in the stack's cache table; fresh
	// holds hashes made before the database could be asked.
	synced, fresh map[string]string
}

func NewSeeder(f *Fixtures) *Seeder {
	return &Seeder{F: f, synced: map[string]string{}, fresh: map[string]string{}}
}

// Prehash hashes every fixture password in parallel. Up calls it while the
// containers boot, so the ~0.1 s per hash costs no wall time.
func (s *Seeder) Prehash() {
	var wg sync.WaitGroup
	for svc, users := range map[string][]User{Dashboard: s.F.Users.Dashboard, Storage: s.F.Users.Storage} {
		iterations := s.F.Users.Iterations.For(svc)
		for _, u := range users {
			wg.Go(func() {
				h := HashPassword(u.Password, iterations)
				s.mu.Lock()
				s.fresh[digest(iterations, u.Password)] = h
				s.mu.Unlock()
			})
		}
	}
	wg.Wait()
}

// digest names a password and work factor in devstack's hash cache. The
// passwords cached are the fixtures', which are plain text in users.yaml
// anyway.
func digest(iterations int, password string) string {
	sum := sha256.Sum256([]byte("devstack/password\x00" + strconv.Itoa(iterations) + "\x00" + password))
	return hex.EncodeToString(sum[:])
}

// cached returns the stack's hash for password, or "".
func (s *Seeder) cached(q querier, d string) string {
	s.mu.Lock()
	h := s.synced[d]
	s.mu.Unlock()
	if h == "" {
		_ = q.QueryRow("SELECT encoded FROM devstack.password_hashes WHERE digest = ?", d).Scan(&h)
	}
	return h
}

// remember records that h is the stack's hash for password d. A failed cache
// write costs one hash on a later seed, nothing else.
func (s *Seeder) remember(q querier, d, h string) {
	_, _ = q.Exec("INSERT IGNORE INTO devstack.password_hashes (digest, encoded) VALUES (?, ?)", d, h)
	s.mu.Lock()
	s.synced[d] = h
	s.mu.Unlock()
}

// hash returns the stack's Django hash of password, making one if it has none.
// Reusing it keeps reseeded rows identical to the first seed's.
func (s *Seeder) hash(q querier, iterations int, password string) string {
	d := digest(iterations, password)
	if h := s.cached(q, d); h != "" {
		return h
	}
	s.mu.Lock()
	h := s.fresh[d]
	s.mu.Unlock()
	if h == "" {
		h = HashPassword(password, iterations)
	}
	s.remember(q, d, h)
	return h
}

// verifies reports whether a stored hash verifies password with the configured
// work factor. The cache answers without PBKDF2's cost; a hash that verifies
// the slow way is cached, so the next seed is fast too.
func (s *Seeder) verifies(q querier, iterations int, stored, password string) bool {
	d := digest(iterations, password)
	if stored == s.cached(q, d) {
		return true
	}
	ok, used := CheckPassword(password, stored)
	if ok = ok && used == iterations; ok {
		s.remember(q, d, stored)
	}
	return ok
}

type querier interface {
	Exec(query string, args ...any) (sql.Result, error)
	QueryRow(query string, args ...any) *sql.Row
}

// Apply adds and updates what the fixtures describe, in one transaction, as
// root (who reaches MCP, SS and devstack's own schema). Rows the fixtures do
// not name are left alone; nothing is written where nothing changed. Seeded
// rows are stamped with at, the stack's creation time, so that a reset
// reproduces them exactly.
func (s *Seeder) Apply(ctx context.Context, db *sql.DB, dashboardUUID string, at time.Time) (Changes, error) {
	var c Changes
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return c, err
	}
	defer tx.Rollback()
	w := &writer{tx: tx, ctx: ctx, at: at.UTC().Truncate(time.Microsecond)}
	if err := s.applyAgents(w); err != nil {
		return c, err
	}
	for _, u := range s.F.Users.Dashboard {
		if err := s.applyUser(w, Dashboard, u); err != nil {
			return c, fmt.Errorf("dashboard user %s: %w", u.Username, err)
		}
	}
	for _, u := range s.F.Users.Storage {
		if err := s.applyUser(w, Storage, u); err != nil {
			return c, fmt.Errorf("storage user %s: %w", u.Username, err)
		}
	}
	for _, st := range s.F.Settings.DashboardRows(s.F.Users, dashboardUUID) {
		if err := w.upsert(row{Table: "MCP.DashboardSettings", PK: "pk", Where: "scope = '' AND name = ?", Args: []any{st.Name},
			Cols: []string{"value"}, Vals: []any{st.Value},
			InsertOnly: map[string]any{"scope": "", "name": st.Name, "lastModified": w.at}, UpdateAlso: map[string]any{"lastModified": w.at}}); err != nil {
			return c, err
		}
	}
	if err := s.applyPipeline(w, dashboardUUID); err != nil {
		return c, fmt.Errorf("storage service pipeline: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return c, err
	}
	return w.changes, nil
}

// applyAgents names the organisation in the agent Archivematica's migrations
// make for it (pk 2), as the installer does. (The software's own agent, pk
// 1, is gone since 1.17: Archivematica builds it in code.)
func (s *Seeder) applyAgents(w *writer) error {
	org := s.F.Settings
	if org.OrganizationName == "" {
		return nil
	}
	return w.upsert(row{Table: "MCP.Agents", PK: "pk", Where: "pk = 2", Cols: []string{"agentIdentifierType", "agentIdentifierValue", "agentName", "agentType"},
		Vals: []any{"repository code", org.OrganizationIdentifier, org.OrganizationName, "organization"}, InsertOnly: map[string]any{"pk": 2}})
}

// applyUser writes auth_user and tastypie_apikey, and for the dashboard the
// user's Agents and main_userprofile rows, as Archivematica's user form does.
func (s *Seeder) applyUser(w *writer, service string, u User) error {
	db, dashboard, iterations := userDatabase[service], service == Dashboard, s.F.Users.Iterations.For(service)
	var id int64
	var stored string
	err := w.tx.QueryRowContext(w.ctx, "SELECT id, password FROM "+db+".auth_user WHERE username = ?", u.Username).Scan(&id, &stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	cols := []string{"email", "is_superuser", "is_staff", "is_active", "first_name", "last_name"}
	vals := []any{u.Email, u.Superuser, u.Superuser, u.Active, u.FirstName, u.LastName}
	if id == 0 || !s.verifies(w.tx, iterations, stored, u.Password) {
		cols, vals = append(cols, "password"), append(vals, s.hash(w.tx, iterations, u.Password))
	}
	if err := w.upsert(row{Table: db + ".auth_user", PK: "id", Where: "username = ?", Args: []any{u.Username}, Cols: cols, Vals: vals,
		InsertOnly: map[string]any{"username": u.Username, "date_joined": w.at}}); err != nil {
		return err
	}
	if err := w.tx.QueryRowContext(w.ctx, "SELECT id FROM "+db+".auth_user WHERE username = ?", u.Username).Scan(&id); err != nil {
		return err
	}
	if err := w.upsert(row{Table: db + ".tastypie_apikey", PK: "id", Where: "user_id = ?", Args: []any{id}, Cols: []string{"`key`"}, Vals: []any{u.APIKey},
		InsertOnly: map[string]any{"user_id": id, "created": w.at}}); err != nil {
		return err
	}
	if !dashboard {
		return nil
	}
	name := fmt.Sprintf("username=%q, first_name=%q, last_name=%q", u.Username, u.FirstName, u.LastName)
	userPK := strconv.FormatInt(id, 10)
	if err := w.upsert(row{Table: "MCP.Agents", PK: "pk", Where: "agentIdentifierType = 'Archivematica user pk' AND agentIdentifierValue = ?", Args: []any{userPK},
		Cols: []string{"agentName", "agentType"}, Vals: []any{name, "Archivematica user"},
		InsertOnly: map[string]any{"agentIdentifierType": "Archivematica user pk", "agentIdentifierValue": userPK}}); err != nil {
		return err
	}
	var agent int64
	if err := w.tx.QueryRowContext(w.ctx, "SELECT pk FROM MCP.Agents WHERE agentIdentifierType = 'Archivematica user pk' AND agentIdentifierValue = ?", userPK).Scan(&agent); err != nil {
		return err
	}
	return w.upsert(row{Table: "MCP.main_userprofile", PK: "id", Where: "user_id = ?", Args: []any{id}, Cols: []string{"agent_id"}, Vals: []any{agent},
		InsertOnly: map[string]any{"user_id": id, "system_emails": true}})
}

// writer runs upserts that write only what differs, and counts them.
type writer struct {
	tx      *sql.Tx
	ctx     context.Context
	at      time.Time
	changes Changes
}

// row is one upsert: the row matched by Where/Args must carry Cols = Vals.
type row struct {
	Table string
	// PK is the primary key column, given explicitly on insert.
	PK    string
	Where string
	Args  []any
	Cols  []string
	Vals  []any
	// InsertOnly is written with a new row; UpdateAlso with a changed one.
	InsertOnly, UpdateAlso map[string]any
}

// upsert inserts a missing row, updates a differing one, and does not write
// an equal one at all. A new row's key is MAX+1 rather than AUTO_INCREMENT's
// next value, so that a reset's reseed (after DELETE, which keeps the counter)
// gives rows the same keys as the first seed, without an ALTER TABLE per
// table (~20 ms each).
func (w *writer) upsert(r row) error {
	var found int
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s", r.Table, r.Where)
	if err := w.tx.QueryRowContext(w.ctx, q, r.Args...).Scan(&found); err != nil {
		return fmt.Errorf("%s: %w", r.Table, err)
	}
	if found == 0 {
		names, all := append([]string{}, r.Cols...), append([]any{}, r.Vals...)
		for _, k := range slices.Sorted(maps.Keys(r.InsertOnly)) {
			names, all = append(names, k), append(all, r.InsertOnly[k])
		}
		if !slices.Contains(names, r.PK) {
			var next int64
			if err := w.tx.QueryRowContext(w.ctx, fmt.Sprintf("SELECT COALESCE(MAX(%s), 0) + 1 FROM %s", r.PK, r.Table)).Scan(&next); err != nil {
				return fmt.Errorf("%s: %w", r.Table, err)
			}
			names, all = append(names, r.PK), append(all, next)
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", r.Table, strings.Join(names, ", "), marks)
		if _, err := w.tx.ExecContext(w.ctx, q, all...); err != nil {
			return fmt.Errorf("%s: %w", r.Table, err)
		}
		w.changes.Added++
		return nil
	}
	if len(r.Cols) == 0 {
		return nil // the row is all key: found is right
	}
	// Compare in SQL, NULL-safe, so types convert as MySQL does; BINARY, as
	// the columns' collations ignore case and accents and so would an edit.
	var same []string
	for _, c := range r.Cols {
		same = append(same, "BINARY "+c+" <=> BINARY ?")
	}
	var equal int
	q = fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s AND %s", r.Table, r.Where, strings.Join(same, " AND "))
	if err := w.tx.QueryRowContext(w.ctx, q, append(append([]any{}, r.Args...), r.Vals...)...).Scan(&equal); err != nil {
		return fmt.Errorf("%s: %w", r.Table, err)
	}
	if equal > 0 {
		return nil
	}
	sets, all := []string{}, []any{}
	for i, c := range r.Cols {
		sets, all = append(sets, c+" = ?"), append(all, r.Vals[i])
	}
	for _, k := range slices.Sorted(maps.Keys(r.UpdateAlso)) {
		sets, all = append(sets, k+" = ?"), append(all, r.UpdateAlso[k])
	}
	q = fmt.Sprintf("UPDATE %s SET %s WHERE %s", r.Table, strings.Join(sets, ", "), r.Where)
	if _, err := w.tx.ExecContext(w.ctx, q, append(all, r.Args...)...); err != nil {
		return fmt.Errorf("%s: %w", r.Table, err)
	}
	w.changes.Updated++
	return nil
}
