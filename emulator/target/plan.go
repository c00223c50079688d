package target

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// Plan is what Apply would do to a target, step by step, as Inspect found
// it without writing anything.
type Plan struct {
	Target string `json:"target"`
	// Server is the MySQL server's version.
	Server string `json:"server"`
	Steps  []Step `json:"steps"`
	// Changes counts the changes of every step: 0 is nothing to do.
	Changes int `json:"changes"`
	// Refused says why Apply refuses the target: a schema that exists but
	// is not devstack's. Empty when Apply would go ahead.
	Refused string `json:"refused,omitempty"`

	flavour    setup.Flavour
	createUser bool
	provision  bool
	load       []seed.Schema
	// dashboardUUID is the target's, or a new one for a target without.
	dashboardUUID string
	shared        []fileChange
}

// Step is one part of a bootstrap, in the order Apply does them.
type Step struct {
	// Name is databases, user, schema, rows, shared, processing or redis.
	Name string `json:"name"`
	// State is the part of the target as it is.
	State   string   `json:"state"`
	Changes []Change `json:"changes"`
}

// Change is one thing Apply would do.
type Change struct {
	Action string `json:"action"`
	Item   string `json:"item"`
	Detail string `json:"detail,omitempty"`
}

// The steps, in the order a bootstrap needs them.
const (
	StepDatabases  = "databases"
	StepUser       = "user"
	StepSchema     = "schema"
	StepRows       = "rows"
	StepShared     = "shared"
	StepProcessing = "processing"
	StepRedis      = "redis"
)

// Inspect reads the target and plans its bootstrap from the fixtures and
// the shared directory's tree. It writes nothing: its session with the
// server is read-only.
func Inspect(ctx context.Context, t Target, fx *seed.Fixtures, tree shared.Tree) (*Plan, error) {
	db, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return inspect(ctx, db, t, fx, tree)
}

func inspect(ctx context.Context, db *sql.DB, t Target, fx *seed.Fixtures, tree shared.Tree) (*Plan, error) {
	// One connection, read-only: planning must not be able to write.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY"); err != nil {
		return nil, err
	}
	p := &Plan{Target: t.Name}
	var err error
	if p.flavour, err = setup.ReadFlavour(ctx, db); err != nil {
		return nil, err
	}
	p.Server = p.flavour.Version
	existing, err := p.databases(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := p.user(ctx, db); err != nil {
		return nil, err
	}
	same, err := p.schema(ctx, db, fx, existing)
	if err != nil {
		return nil, err
	}
	if err := p.rows(ctx, db, fx, same); err != nil {
		return nil, err
	}
	if err := p.sharedDir(t.Shared, tree); err != nil {
		return nil, err
	}
	if t.Redis != nil {
		if err := t.Redis.ping(ctx); err != nil {
			return nil, fmt.Errorf("Redis at %s:%d does not answer PING: %v", t.Redis.Host, t.Redis.Port, err)
		}
		p.add(Step{Name: StepRedis, State: "answers PING"})
	}
	return p, nil
}

func (p *Plan) add(s Step) {
	if s.Changes == nil {
		s.Changes = []Change{}
	}
	p.Steps = append(p.Steps, s)
	p.Changes += len(s.Changes)
}

// databases plans MCP and SS, and returns those that exist.
func (p *Plan) databases(ctx context.Context, db *sql.DB) ([]string, error) {
	existing, err := strings1(ctx, db, "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('MCP', 'SS')")
	if err != nil {
		return nil, err
	}
	s := Step{Name: StepDatabases, State: "present: " + listOr(existing, "none")}
	for _, d := range setup.Databases {
		if !slices.Contains(existing, d) {
			s.Changes = append(s.Changes, Change{"create", "database " + d, "utf8mb4, " + p.flavour.Collation()})
			p.provision = true
		}
	}
	p.add(s)
	return existing, nil
}

// user plans the app user and its grants, which SHOW GRANTS tells.
func (p *Plan) user(ctx context.Context, db *sql.DB) error {
	account := setup.AppUser + "@%"
	grants, err := strings1(ctx, db, "SHOW GRANTS FOR "+setup.AppAccount)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1141 { // no such grant: no such user
		err, p.createUser = nil, true
	}
	if err != nil {
		return err
	}
	s := Step{Name: StepUser, State: account + " exists"}
	if p.createUser {
		s.State = account + " is missing"
		s.Changes = append(s.Changes, Change{"create", "user " + account, "with the password given, or one generated"})
	}
	for _, d := range setup.Databases {
		if !slices.ContainsFunc(grants, func(g string) bool {
			return strings.Contains(g, "ALL PRIVILEGES ON `"+d+"`.*") || strings.Contains(g, "ALL PRIVILEGES ON *.*")
		}) {
			s.Changes = append(s.Changes, Change{"grant", "ALL on " + d + " to " + account, ""})
		}
	}
	p.provision = p.provision || len(s.Changes) > 0
	p.add(s)
	return nil
}

// schema compares each database's applied migrations with the schema
// file's. It returns the databases that hold devstack's schema already.
func (p *Plan) schema(ctx context.Context, db *sql.DB, fx *seed.Fixtures, existing []string) ([]string, error) {
	s := Step{Name: StepSchema}
	var states, refused, same []string
	for _, sc := range fx.Schema {
		want, err := sc.Migrations()
		if err != nil {
			return nil, err
		}
		state, why, err := schemaState(ctx, db, sc.Database, slices.Contains(existing, sc.Database), want)
		if err != nil {
			return nil, err
		}
		label := sc.Database + ": " + state
		switch state {
		case stateAbsent:
			p.load = append(p.load, sc)
			s.Changes = append(s.Changes, Change{"load", "schema of " + sc.Database, fmt.Sprintf("%d tables, %d migrations", len(sc.Tables), len(want))})
		case stateSame:
			label += fmt.Sprintf(" (%d migrations)", len(want))
			same = append(same, sc.Database)
		default:
			refused = append(refused, sc.Database+" "+why)
		}
		states = append(states, label)
	}
	s.State = strings.Join(states, "; ")
	if len(refused) > 0 {
		p.Refused = "the schema exists but is not devstack's: " + strings.Join(refused, "; ") + ". Migrations are Archivematica's job: migrate the target with Archivematica's own manage.py migrate (or bootstrap an empty server)"
	}
	p.add(s)
	return same, nil
}

// The states of a database's schema.
const (
	stateAbsent  = "absent"
	stateSame    = "the same as devstack's"
	stateOlder   = "older"
	stateUnknown = "unknown"
)

// schemaState tells how a database's schema stands to devstack's, whose
// migrations are want (app.name), and why when it differs.
func schemaState(ctx context.Context, db *sql.DB, name string, exists bool, want []string) (state, why string, err error) {
	if !exists {
		return stateAbsent, "", nil
	}
	tables, err := strings1(ctx, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", name)
	if err != nil {
		return "", "", err
	}
	if len(tables) == 0 {
		return stateAbsent, "", nil
	}
	if !slices.ContainsFunc(tables, func(t string) bool { return strings.EqualFold(t, "django_migrations") }) {
		return stateUnknown, fmt.Sprintf("has %d tables and no django_migrations", len(tables)), nil
	}
	have, err := strings1(ctx, db, "SELECT CONCAT(app, '.', name) FROM `"+name+"`.django_migrations")
	if err != nil {
		return "", "", err
	}
	missing := slices.DeleteFunc(slices.Clone(want), func(m string) bool { return slices.Contains(have, m) })
	extra := slices.DeleteFunc(slices.Clone(have), func(m string) bool { return slices.Contains(want, m) })
	switch {
	case len(missing) == 0 && len(extra) == 0:
		return stateSame, "", nil
	case len(extra) == 0:
		return stateOlder, fmt.Sprintf("is older: %d of devstack's %d migrations are missing (%s)", len(missing), len(want), firstFew(missing)), nil
	default:
		return stateUnknown, fmt.Sprintf("has %d migrations devstack's schema does not (%s): a newer or another Archivematica", len(extra), firstFew(extra)), nil
	}
}

// rows plans the users, API keys, settings and the storage service's
// pipeline, by running seeding on the rows the target holds (or the
// schema's own, for a database whose schema is still to be loaded).
func (p *Plan) rows(ctx context.Context, db *sql.DB, fx *seed.Fixtures, same []string) error {
	s := Step{Name: StepRows}
	if p.Refused != "" {
		s.State = "not planned: the schema is not devstack's"
		p.add(s)
		return nil
	}
	rows, err := seed.SchemaRows(p.load)
	if err != nil {
		return err
	}
	live, err := seed.ReadRows(ctx, db, same...)
	if err != nil {
		return err
	}
	for t, r := range live {
		rows[t] = r
	}
	p.dashboardUUID, err = dashboardUUID(ctx, db, slices.Contains(same, "MCP"))
	if err != nil {
		return err
	}
	changes, err := seed.Plan(fx, rows, p.dashboardUUID, time.Now())
	if err != nil {
		return err
	}
	s.State = fmt.Sprintf("%d users for the dashboard, %d for the storage service; pipeline %s", len(fx.Users.Dashboard), len(fx.Users.Storage), p.dashboardUUID)
	for _, c := range changes {
		s.Changes = append(s.Changes, Change{c.Action, c.Table + " " + c.Key, strings.Join(c.Columns, ", ")})
	}
	p.add(s)
	return nil
}

// dashboardUUID is the pipeline's UUID the target's dashboard settings hold;
// a new one when there are none yet.
func dashboardUUID(ctx context.Context, db *sql.DB, schema bool) (string, error) {
	if schema {
		v, err := strings1(ctx, db, "SELECT value FROM MCP.DashboardSettings WHERE scope = '' AND name = 'dashboard_uuid'")
		if err != nil {
			return "", err
		}
		if len(v) > 0 && v[0] != "" {
			return v[0], nil
		}
	}
	return seed.NewPipelineUUID(), nil
}

// strings1 returns the first column of a query's rows.
func strings1(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v.String)
	}
	return out, rows.Err()
}

func listOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}

func firstFew(items []string) string {
	slices.Sort(items)
	if len(items) > 3 {
		return strings.Join(items[:3], ", ") + fmt.Sprintf(" and %d more", len(items)-3)
	}
	return strings.Join(items, ", ")
}
