package seed

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
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
	// synced holds hashes known to be in the stack's cache table.
	synced map[string]string
	// made are the hashes this seeder makes, each once, by digest: a hash
	// Prehash began is waited for rather than made twice.
	made map[string]func() string
}

func NewSeeder(f *Fixtures) *Seeder {
	return &Seeder{F: f, synced: map[string]string{}, made: map[string]func() string{}}
}

// Prehash starts hashing every fixture password, in parallel, and returns.
// A template's build calls it as its server starts: a new database needs
// every hash (~0.15 s each), and they are ready when seeding asks.
func (s *Seeder) Prehash() {
	for svc, users := range map[string][]User{Dashboard: s.F.Users.Dashboard, Storage: s.F.Users.Storage} {
		iterations := s.F.Users.Iterations.For(svc)
		for _, u := range users {
			go s.hash(iterations, u.Password)()
		}
	}
}

// hash returns the function that makes, once, the hash of password.
func (s *Seeder) hash(iterations int, password string) func() string {
	d := digest(iterations, password)
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.made[d]
	if !ok {
		h = sync.OnceValue(func() string { return HashPassword(password, iterations) })
		s.made[d] = h
	}
	return h
}

// digest names a password and work factor in devstack's hash cache. The
// passwords cached are the fixtures', which are plain text in users.yaml
// anyway.
func digest(iterations int, password string) string {
	sum := sha256.Sum256([]byte("devstack/password\x00" + strconv.Itoa(iterations) + "\x00" + password))
	return hex.EncodeToString(sum[:])
}

// cached returns the stack's hash for password, or "".
func (s *Seeder) cached(db store, d string) string {
	s.mu.Lock()
	h := s.synced[d]
	s.mu.Unlock()
	if h == "" {
		h = db.cachedHash(d)
	}
	return h
}

// remember records that h is the stack's hash for password d. A failed cache
// write costs one hash on a later seed, nothing else.
func (s *Seeder) remember(db store, d, h string) {
	db.cacheHash(d, h)
	s.mu.Lock()
	s.synced[d] = h
	s.mu.Unlock()
}

// hashFor returns the stack's Django hash of password, making one if it has
// none. Reusing it keeps reseeded rows identical to the first seed's.
func (s *Seeder) hashFor(ctx context.Context, db store, iterations int, password string) (string, error) {
	d := digest(iterations, password)
	if h := s.cached(db, d); h != "" {
		return h, nil
	}
	h, err := await(ctx, s.hash(iterations, password))
	if err != nil {
		return "", err
	}
	s.remember(db, d, h)
	return h, nil
}

// await runs f, which may take seconds of CPU (PBKDF2 at a high work
// factor), and gives up when ctx ends: a cancelled command returns at once
// and lets go of its lock, and the work ends with the process.
func await[T any](ctx context.Context, f func() T) (T, error) {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// verifies reports whether a stored hash verifies password with the configured
// work factor. The cache answers without PBKDF2's cost; a hash that verifies
// the slow way is cached, so the next seed is fast too.
func (s *Seeder) verifies(ctx context.Context, db store, iterations int, stored, password string) (bool, error) {
	d := digest(iterations, password)
	if stored == s.cached(db, d) {
		return true, nil
	}
	ok, err := await(ctx, func() bool {
		ok, used := CheckPassword(password, stored)
		return ok && used == iterations
	})
	if ok {
		s.remember(db, d, stored)
	}
	return ok, err
}

// Apply adds and updates what the fixtures describe, in one transaction, as
// root (who reaches MCP, SS and devstack's own schema). Rows the fixtures do
// not name are left alone; nothing is written where nothing changed. Seeded
// rows are stamped with at, the stack's creation time, so that a reset
// reproduces them exactly.
func (s *Seeder) Apply(ctx context.Context, db *sql.DB, dashboardUUID string, at time.Time) (Changes, error) {
	return s.applyTx(ctx, db, dashboardUUID, at, true)
}

// ApplyOutside is Apply on a server devstack does not own (a target): it
// keeps no cache of password hashes, whose table lives in a database of
// devstack's own.
func (s *Seeder) ApplyOutside(ctx context.Context, db *sql.DB, dashboardUUID string, at time.Time) (Changes, error) {
	return s.applyTx(ctx, db, dashboardUUID, at, false)
}

func (s *Seeder) applyTx(ctx context.Context, db *sql.DB, dashboardUUID string, at time.Time, cache bool) (Changes, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Changes{}, err
	}
	defer tx.Rollback()
	w := &writer{ctx: ctx, db: txStore{tx: tx, ctx: ctx, cache: cache}, at: at}
	if err := s.apply(w, dashboardUUID); err != nil {
		return Changes{}, err
	}
	return w.changes, tx.Commit()
}

func (s *Seeder) apply(w *writer, dashboardUUID string) error {
	w.at = w.at.UTC().Truncate(time.Microsecond)
	if err := s.applyAgents(w); err != nil {
		return err
	}
	for _, u := range s.F.Users.Dashboard {
		if err := s.applyUser(w, Dashboard, u); err != nil {
			return fmt.Errorf("dashboard user %s: %w", u.Username, err)
		}
	}
	for _, u := range s.F.Users.Storage {
		if err := s.applyUser(w, Storage, u); err != nil {
			return fmt.Errorf("storage user %s: %w", u.Username, err)
		}
	}
	for _, st := range s.F.Settings.DashboardRows(s.F.Users, dashboardUUID) {
		if err := w.upsert(row{Table: "MCP.DashboardSettings", PK: "pk", Key: []field{{"scope", ""}, {"name", st.Name}},
			Set: []field{{"value", st.Value}}, InsertOnly: []field{{"lastModified", w.at}}, UpdateAlso: []field{{"lastModified", w.at}}}); err != nil {
			return err
		}
	}
	if err := s.applyPipeline(w, dashboardUUID); err != nil {
		return fmt.Errorf("storage service pipeline: %w", err)
	}
	return nil
}

// applyAgents names the organisation in the agent Archivematica's migrations
// make for it (pk 2), as the installer does. (The software's own agent, pk
// 1, is gone since 1.17: Archivematica builds it in code.)
func (s *Seeder) applyAgents(w *writer) error {
	org := s.F.Settings
	if org.OrganizationName == "" {
		return nil
	}
	return w.upsert(row{Table: "MCP.Agents", PK: "pk", Key: []field{{"pk", 2}},
		Set: []field{{"agentIdentifierType", "repository code"}, {"agentIdentifierValue", org.OrganizationIdentifier}, {"agentName", org.OrganizationName}, {"agentType", "organization"}}})
}

// applyUser writes auth_user and tastypie_apikey, and for the dashboard the
// user's Agents and main_userprofile rows, as Archivematica's user form does.
func (s *Seeder) applyUser(w *writer, service string, u User) error {
	db, dashboard, iterations := userDatabase[service], service == Dashboard, s.F.Users.Iterations.For(service)
	byName := []field{{"username", u.Username}}
	stored, found, err := w.db.get(db+".auth_user", byName, "password")
	if err != nil {
		return err
	}
	set := []field{{"email", u.Email}, {"is_superuser", u.Superuser}, {"is_staff", u.Superuser}, {"is_active", u.Active}, {"first_name", u.FirstName}, {"last_name", u.LastName}}
	ok := false
	if found {
		if ok, err = s.verifies(w.context(), w.db, iterations, stored, u.Password); err != nil {
			return err
		}
	}
	if !ok {
		h, err := s.hashFor(w.context(), w.db, iterations, u.Password)
		if err != nil {
			return err
		}
		set = append(set, field{"password", h})
	}
	if err := w.upsert(row{Table: db + ".auth_user", PK: "id", Key: byName, Set: set, InsertOnly: []field{{"date_joined", w.at}}}); err != nil {
		return err
	}
	id, _, err := w.db.get(db+".auth_user", byName, "id")
	if err != nil {
		return err
	}
	if err := w.upsert(row{Table: db + ".tastypie_apikey", PK: "id", Key: []field{{"user_id", id}}, Set: []field{{"key", u.APIKey}},
		InsertOnly: []field{{"created", w.at}}}); err != nil {
		return err
	}
	if !dashboard {
		return nil
	}
	name := fmt.Sprintf("username=%q, first_name=%q, last_name=%q", u.Username, u.FirstName, u.LastName)
	agentKey := []field{{"agentIdentifierType", "Archivematica user pk"}, {"agentIdentifierValue", id}}
	if err := w.upsert(row{Table: "MCP.Agents", PK: "pk", Key: agentKey, Set: []field{{"agentName", name}, {"agentType", "Archivematica user"}}}); err != nil {
		return err
	}
	agent, _, err := w.db.get("MCP.Agents", agentKey, "pk")
	if err != nil {
		return err
	}
	return w.upsert(row{Table: "MCP.main_userprofile", PK: "id", Key: []field{{"user_id", id}}, Set: []field{{"agent_id", agent}},
		InsertOnly: []field{{"system_emails", true}}})
}

// field is a column and its value.
type field struct {
	Col string
	Val any
}

// row is one upsert: the row with Key must carry Set.
type row struct {
	Table string
	// PK is the primary key column, given explicitly on insert.
	PK  string
	Key []field
	Set []field
	// InsertOnly is written with a new row; UpdateAlso with a changed one.
	InsertOnly, UpdateAlso []field
}

// store is where seeding reads and writes rows: a live database in a
// transaction (txStore), or the rows a freshly loaded schema holds, kept in
// memory while their statements are recorded (Render).
type store interface {
	// get returns col of the row with key, as text; found is false when
	// there is none.
	get(table string, key []field, col string) (value string, found bool, err error)
	// match looks for the row with key (found) and reports whether it has
	// the values set, compared byte for byte (equal): one round trip.
	match(table string, key []field, set []field) (found, equal bool, err error)
	// nextKey is the table's largest pk plus one.
	nextKey(table, pk string) (int64, error)
	insert(table string, set []field) error
	update(table string, key, set []field) error
	cachedHash(digest string) string
	cacheHash(digest, encoded string)
}

// writer runs upserts that write only what differs, and counts them.
type writer struct {
	// ctx ends the work of a cancelled command; nil for work in memory.
	ctx     context.Context
	db      store
	at      time.Time
	changes Changes
	// log, when set (plans), holds each row added or changed, with an
	// update's changed columns.
	log *[]RowChange
}

func (w *writer) context() context.Context {
	if w.ctx == nil {
		return context.Background()
	}
	return w.ctx
}

// RowChange is a row seeding added or changed, or would.
type RowChange struct {
	// Action is insert or update.
	Action string `json:"action"`
	Table  string `json:"table"`
	// Key names the row: its key columns as col=value.
	Key string `json:"key"`
	// Columns are an update's columns whose values differ.
	Columns []string `json:"columns,omitempty"`
}

func describe(key []field) string {
	var parts []string
	for _, f := range key {
		if v := text(f.Val); v != nil && *v != "" {
			parts = append(parts, f.Col+"="+*v)
		}
	}
	return strings.Join(parts, ", ")
}

// upsert inserts a missing row, updates a differing one, and does not write
// an equal one at all. A new row's key is MAX+1 rather than AUTO_INCREMENT's
// next value, so that a reset's reseed (after DELETE, which keeps the counter)
// gives rows the same keys as the first seed, without an ALTER TABLE per
// table (~20 ms each).
func (w *writer) upsert(r row) error {
	found, equal, err := w.db.match(r.Table, r.Key, r.Set)
	if err != nil {
		return fmt.Errorf("%s: %w", r.Table, err)
	}
	if !found {
		all := slices.Concat(r.Key, r.Set, r.InsertOnly)
		if !slices.ContainsFunc(all, func(f field) bool { return f.Col == r.PK }) {
			next, err := w.db.nextKey(r.Table, r.PK)
			if err != nil {
				return fmt.Errorf("%s: %w", r.Table, err)
			}
			all = append(all, field{r.PK, next})
		}
		if err := w.db.insert(r.Table, all); err != nil {
			return fmt.Errorf("%s: %w", r.Table, err)
		}
		w.changes.Added++
		w.record(RowChange{Action: "insert", Table: r.Table, Key: describe(r.Key)})
		return nil
	}
	if equal {
		return nil
	}
	if w.log != nil {
		c := RowChange{Action: "update", Table: r.Table, Key: describe(r.Key)}
		for _, f := range r.Set {
			if _, same, err := w.db.match(r.Table, r.Key, []field{f}); err == nil && !same {
				c.Columns = append(c.Columns, f.Col)
			}
		}
		w.record(c)
	}
	if err := w.db.update(r.Table, r.Key, slices.Concat(r.Set, r.UpdateAlso)); err != nil {
		return fmt.Errorf("%s: %w", r.Table, err)
	}
	w.changes.Updated++
	return nil
}

func (w *writer) record(c RowChange) {
	if w.log != nil {
		*w.log = append(*w.log, c)
	}
}

// txStore is a live database, in a transaction; cache says whether it
// has devstack's cache of password hashes.
type txStore struct {
	tx    *sql.Tx
	ctx   context.Context
	cache bool
}

func column(c string) string { return "`" + c + "`" }

// where renders key as a condition with its arguments.
func where(key []field) (string, []any) {
	var conds []string
	var args []any
	for _, f := range key {
		conds, args = append(conds, column(f.Col)+" = ?"), append(args, f.Val)
	}
	return strings.Join(conds, " AND "), args
}

func (t txStore) get(table string, key []field, col string) (string, bool, error) {
	cond, args := where(key)
	var v sql.NullString
	err := t.tx.QueryRowContext(t.ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s", column(col), table, cond), args...).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v.String, err == nil, err
}

// match compares in SQL, NULL-safe, so types convert as MySQL does; BINARY,
// as the columns' collations ignore case and accents and so would an edit.
func (t txStore) match(table string, key []field, set []field) (bool, bool, error) {
	same := []string{"TRUE"}
	var args []any
	for _, f := range set {
		same, args = append(same, "BINARY "+column(f.Col)+" <=> BINARY ?"), append(args, f.Val)
	}
	cond, keyArgs := where(key)
	var equal bool
	err := t.tx.QueryRowContext(t.ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s LIMIT 1", strings.Join(same, " AND "), table, cond), append(args, keyArgs...)...).Scan(&equal)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	return err == nil, equal, err
}

func (t txStore) nextKey(table, pk string) (int64, error) {
	var next int64
	err := t.tx.QueryRowContext(t.ctx, fmt.Sprintf("SELECT COALESCE(MAX(%s), 0) + 1 FROM %s", column(pk), table)).Scan(&next)
	return next, err
}

func (t txStore) insert(table string, set []field) error {
	var cols []string
	var args []any
	for _, f := range set {
		cols, args = append(cols, column(f.Col)), append(args, f.Val)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	_, err := t.tx.ExecContext(t.ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "), marks), args...)
	return err
}

func (t txStore) update(table string, key, set []field) error {
	var sets []string
	var args []any
	for _, f := range set {
		sets, args = append(sets, column(f.Col)+" = ?"), append(args, f.Val)
	}
	cond, keyArgs := where(key)
	_, err := t.tx.ExecContext(t.ctx, fmt.Sprintf("UPDATE %s SET %s WHERE %s", table, strings.Join(sets, ", "), cond), append(args, keyArgs...)...)
	return err
}

func (t txStore) cachedHash(d string) string {
	if !t.cache {
		return ""
	}
	var h string
	_ = t.tx.QueryRowContext(t.ctx, "SELECT encoded FROM devstack.password_hashes WHERE digest = ?", d).Scan(&h)
	return h
}

func (t txStore) cacheHash(d, h string) {
	if !t.cache {
		return
	}
	_, _ = t.tx.ExecContext(t.ctx, "INSERT IGNORE INTO devstack.password_hashes (digest, encoded) VALUES (?, ?)", d, h)
}
