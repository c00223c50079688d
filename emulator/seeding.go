package emulator

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/fixtures"
)

// loadFixtures reads and validates the fixtures before anything is written;
// a bad fixture is bad input.
func loadFixtures(cfg Config) (*seed.Fixtures, error) {
	fx, err := seed.Load(cfg.Fixtures)
	var fe *fixtures.Error
	if errors.As(err, &fe) {
		return nil, usageError("%v", fe)
	}
	if err != nil {
		return nil, envError(err, "cannot read fixtures: %v", err)
	}
	return fx, nil
}

// errNoAppTables means `schema: none` and the apps have not migrated yet.
var errNoAppTables = errors.New("no app tables")

// seedMySQL creates the built-in schema (unless `schema: none`) and applies
// the fixtures' rows.
func seedMySQL(ctx context.Context, cfg Config, root *sql.DB, sd *seed.Seeder, v values) (seed.Changes, error) {
	if cfg.Schema == "builtin" {
		if err := applySchema(ctx, root, sd.F.Schema); err != nil {
			return seed.Changes{}, err
		}
	} else if missing := missingTables(ctx, root); len(missing) > 0 {
		return seed.Changes{}, fmt.Errorf("%w: %s", errNoAppTables, strings.Join(missing, ", "))
	}
	c, err := sd.Apply(ctx, root, v.DashboardUUID, v.Created)
	if err != nil {
		return c, envError(err, "seeding MySQL failed: %v", err)
	}
	return c, nil
}

func applySchema(ctx context.Context, root *sql.DB, schemas []seed.Schema) error {
	conn, err := root.Conn(ctx)
	if err != nil {
		return envError(err, "cannot connect to MySQL: %v", err)
	}
	defer conn.Close()
	for _, s := range schemas {
		if _, err := conn.ExecContext(ctx, "USE `"+s.Database+"`"); err != nil {
			return envError(err, "cannot use database %s: %v", s.Database, err)
		}
		for i, stmt := range s.Statements {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return usageError("schema for %s: creating table %s failed: %v", s.Database, s.Tables[i], err)
			}
		}
	}
	return nil
}

func missingTables(ctx context.Context, root *sql.DB) []string {
	var missing []string
	for db, tables := range seed.WrittenTables {
		for _, t := range tables {
			var n int
			_ = root.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", db, t).Scan(&n)
			if n == 0 {
				missing = append(missing, db+"."+t)
			}
		}
	}
	return missing
}

// noAppTablesHint is what to do when the apps' tables are not there yet.
func noAppTablesHint(err error) string {
	return fmt.Sprintf("schema is none and the apps' tables are missing (%s): run the apps' migrations, then `devstack seed`",
		strings.TrimPrefix(err.Error(), errNoAppTables.Error()+": "))
}

// SeedOptions tune Seed; Reset empties app data first.
type SeedOptions struct {
	Reset    bool
	Progress io.Writer
}

// SeedReport says what a seed or reset did.
type SeedReport struct {
	Rows          seed.Changes
	RedisKeys     int
	SharedRemoved int
	FilesWritten  []string
	Took          time.Duration
}

// MarshalJSON is `seed -o json` and `reset -o json`: stable, snake_case keys.
func (r SeedReport) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RowsAdded     int      `json:"rows_added"`
		RowsUpdated   int      `json:"rows_updated"`
		RowsRemoved   int      `json:"rows_removed"`
		Tables        []string `json:"tables_emptied"`
		RedisKeys     int      `json:"redis_keys_removed"`
		SharedRemoved int      `json:"shared_entries_removed"`
		FilesWritten  []string `json:"files_written"`
		TookMS        int64    `json:"took_ms"`
	}{r.Rows.Added, r.Rows.Updated, r.Rows.Removed, nonNil(r.Rows.Tables), r.RedisKeys, r.SharedRemoved, nonNil(r.FilesWritten), r.Took.Milliseconds()})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r SeedReport) String() string {
	var b strings.Builder
	if r.Rows.Removed > 0 || r.RedisKeys > 0 || r.SharedRemoved > 0 {
		fmt.Fprintf(&b, "removed %d rows", r.Rows.Removed)
		if len(r.Rows.Tables) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(r.Rows.Tables, ", "))
		}
		fmt.Fprintf(&b, ", %d Redis keys, %d shared-directory entries; ", r.RedisKeys, r.SharedRemoved)
	}
	fmt.Fprintf(&b, "seeded: %d rows added, %d updated, %d files written (%dms)", r.Rows.Added, r.Rows.Updated, len(r.FilesWritten), r.Took.Milliseconds())
	return b.String()
}

// Seed applies the current fixtures to a running stack: it adds and updates
// rows and files, and changes nothing where nothing changed. With
// opts.Reset it first empties the built-in schema's tables, Redis and the
// shared directory, so the stack ends as the fixtures seed it.
func Seed(ctx context.Context, e *Engine, cfg Config, opts SeedOptions) (*SeedReport, error) {
	h, err := Attach(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Seed(ctx, opts)
}

// Handle is a running stack held open: its clients and the password hashes
// of its fixtures stay between calls, which is what makes repeated resets
// (the test harness's) fast.
type Handle struct {
	e   *Engine
	cfg Config
	a   *attached
	sd  *seed.Seeder
}

// Attach reads the fixtures and connects to a project's running stack.
func Attach(ctx context.Context, e *Engine, cfg Config) (*Handle, error) {
	fx, err := loadFixtures(cfg)
	if err != nil {
		return nil, err
	}
	a, err := e.attach(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Handle{e: e, cfg: cfg, a: a, sd: seed.NewSeeder(fx)}, nil
}

func (h *Handle) Close() { h.a.Close() }

// Seed is the package's Seed on a held stack.
func (h *Handle) Seed(ctx context.Context, opts SeedOptions) (*SeedReport, error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	unlock, err := lockProject(ctx, h.cfg.Project, progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return h.e.seedAttached(ctx, h.cfg, h.a, h.sd, opts.Reset)
}

// seedAttached runs the database, Redis and shared-directory work in
// parallel: they share nothing.
func (e *Engine) seedAttached(ctx context.Context, cfg Config, a *attached, sd *seed.Seeder, reset bool) (*SeedReport, error) {
	t0 := time.Now()
	r := &SeedReport{}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		if reset {
			removed, err := emptyTables(ctx, a.root, sd.F.Schema, cfg.Schema == "builtin")
			if err != nil {
				errs[0] = err
				return
			}
			r.Rows.Add(removed)
		}
		c, err := seedMySQL(ctx, cfg, a.root, sd, a.values)
		if errors.Is(err, errNoAppTables) {
			err = envError(err, "%s", noAppTablesHint(err))
		}
		r.Rows.Add(c)
		errs[0] = err
	})
	if reset {
		wg.Go(func() { r.RedisKeys, errs[1] = flushRedis(ctx, a.redis) })
	}
	wg.Go(func() {
		res, err := e.syncShared(ctx, cfg, a.names, sd.F, reset)
		r.SharedRemoved, r.FilesWritten, errs[2] = res.Removed, res.Written, err
	})
	wg.Wait()
	if err := firstClassified(errs); err != nil {
		return nil, err
	}
	r.Took = time.Since(t0)
	return r, nil
}

// emptyTables deletes every row of the built-in schema's tables that exist,
// never django_migrations or other tables devstack did not create. On its own
// schema it turns foreign-key checks off; on the apps' tables (`schema: none`)
// it keeps them on and deletes children first, so that rows of tables it does
// not know are never left pointing at nothing.
func emptyTables(ctx context.Context, root *sql.DB, schemas []seed.Schema, builtin bool) (seed.Changes, error) {
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
			if isNoSuchTable(err) {
				continue
			}
			if isReferenced(err) {
				return c, envError(err, "cannot empty %s: rows of the apps' other tables refer to it; reset only empties devstack's tables, so clear those first (or reset the apps' database)", table)
			}
			if err != nil {
				return c, envError(err, "cannot empty %s: %v", table, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				c.Removed += int(n)
				c.Tables = append(c.Tables, fmt.Sprintf("%s.%s %d", s.Database, t, n))
			}
		}
	}
	return c, nil
}

func isReferenced(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1451 || me.Number == 1217)
}

func isNoSuchTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

// flushRedis empties every Redis database and returns how many keys it held.
func flushRedis(ctx context.Context, rdb *redis.Client) (int, error) {
	info, err := rdb.Info(ctx, "keyspace").Result()
	if err != nil {
		return 0, envError(err, "cannot read Redis keyspace: %v", err)
	}
	keys := 0
	for _, line := range strings.Split(info, "\n") {
		// db0:keys=3,expires=0,avg_ttl=0
		if _, rest, ok := strings.Cut(line, ":keys="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			keys += n
		}
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return 0, envError(err, "cannot flush Redis: %v", err)
	}
	return keys, nil
}
