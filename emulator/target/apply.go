package target

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// ErrRefused is a target Apply will not change: its schema exists but is
// not devstack's. The plan says why.
var ErrRefused = errors.New("refused")

// ErrBusy is a target another apply is at work on.
var ErrBusy = errors.New("another devstack target apply is at work on it")

// Result is what Apply did.
type Result struct {
	// Plan is the plan Apply made under its lock, and did.
	Plan *Plan `json:"plan"`
	// Applied is false when the plan had nothing to do.
	Applied bool `json:"applied"`
	// AppPassword is the password Apply gave a user it made, when it
	// generated one; empty otherwise. It is shown once, or written to a
	// file, never logged.
	AppPassword string `json:"-"`
}

// lockName is the server-wide lock an apply holds: MySQL's named locks
// need no table, and go with the session, so a killed apply holds none.
const lockName = "devstack.target-apply"

// Apply bootstraps the target as Inspect plans it, in the order a real
// bootstrap needs: databases and the app user with its grants, the schema
// (into empty databases only), users, API keys, settings and the pipeline,
// then the shared directory's folders and the processing configurations.
// It plans under a lock that one apply at a time holds and shows the plan
// to review, which may stop it (a question not confirmed); then it refuses
// a schema that exists but differs (ErrRefused), before it changes
// anything. What review saw is what Apply does. generate makes a password
// for a user it has to create when the target gives none.
func Apply(ctx context.Context, t Target, fx *seed.Fixtures, tree shared.Tree, generate func() string, review func(*Plan) error) (*Result, error) {
	db, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	lock, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	var got sql.NullInt64
	if err := lock.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", lockName).Scan(&got); err != nil {
		return nil, err
	}
	if got.Int64 != 1 {
		return nil, ErrBusy
	}
	defer lock.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", lockName)

	// Planning runs on a read-only session of its own; the writes below
	// go through db.
	planning, err := t.MySQL.open()
	if err != nil {
		return nil, err
	}
	defer planning.Close()
	p, err := inspect(ctx, planning, t, fx, tree)
	if err != nil {
		return nil, err
	}
	r := &Result{Plan: p}
	if err := review(p); err != nil {
		return r, err
	}
	if p.Refused != "" {
		return r, fmt.Errorf("%w: %s", ErrRefused, p.Refused)
	}
	if p.Changes == 0 {
		return r, nil
	}
	r.Applied = true
	if p.provision {
		password := t.AppPassword
		if p.createUser && password == "" {
			password = generate()
			r.AppPassword = password
		}
		if err := setup.Provision(ctx, db, p.flavour, p.createUser, password); err != nil {
			return r, err
		}
	}
	for _, s := range p.load {
		if err := setup.ExecSchema(ctx, db, s); err != nil {
			return r, err
		}
	}
	if _, err := seed.NewSeeder(fx).ApplyOutside(ctx, db, p.dashboardUUID, time.Now().UTC()); err != nil {
		return r, fmt.Errorf("seeding: %w", err)
	}
	if err := applyShared(t.Shared.Path, p.shared, t.Shared.Owner); err != nil {
		return r, err
	}
	return r, nil
}

// Drift is one way the target differs from what devstack would make it.
type Drift struct {
	// Kind is the step it belongs to: schema, rows, shared, processing...
	Kind   string `json:"kind"`
	Item   string `json:"item"`
	Detail string `json:"detail,omitempty"`
}

// Report is Verify's answer.
type Report struct {
	Target string  `json:"target"`
	Server string  `json:"server"`
	Clean  bool    `json:"clean"`
	Drift  []Drift `json:"drift"`
}

// Verify answers whether the target still matches what developers run: its
// schema's migrations, users, API keys and settings, processing
// configurations and shared directory, item by item. It writes nothing.
func Verify(ctx context.Context, t Target, fx *seed.Fixtures, tree shared.Tree) (*Report, error) {
	p, err := Inspect(ctx, t, fx, tree)
	if err != nil {
		return nil, err
	}
	r := &Report{Target: t.Name, Server: p.Server, Drift: []Drift{}}
	if p.Refused != "" {
		r.Drift = append(r.Drift, Drift{StepSchema, "MCP, SS", p.Refused})
	}
	for _, s := range p.Steps {
		for _, c := range s.Changes {
			r.Drift = append(r.Drift, Drift{s.Name, c.Action + " " + c.Item, c.Detail})
		}
	}
	r.Clean = len(r.Drift) == 0
	return r, nil
}
