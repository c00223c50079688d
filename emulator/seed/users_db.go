package seed

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"
)

// Databases of each service's users.
var userDatabase = map[string]string{Dashboard: "MCP", Storage: "SS"}

// UserRow is a user as the database has it.
type UserRow struct {
	Service   string `json:"service"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	Superuser bool   `json:"superuser"`
	Active    bool   `json:"active"`
	APIKey    string `json:"api_key"`
}

// ListUsers returns the users of both services.
func ListUsers(ctx context.Context, db *sql.DB) ([]UserRow, error) {
	var out []UserRow
	for _, svc := range []string{Dashboard, Storage} {
		d := userDatabase[svc]
		rows, err := db.QueryContext(ctx, "SELECT u.username, u.email, u.is_superuser, u.is_active, COALESCE(k.`key`, '') FROM "+d+".auth_user u LEFT JOIN "+d+".tastypie_apikey k ON k.user_id = u.id ORDER BY u.id")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r := UserRow{Service: svc}
			if err := rows.Scan(&r.Username, &r.Email, &r.Superuser, &r.Active, &r.APIKey); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ErrUserExists and ErrNoUser are what AddUser and RemoveUser refuse.
var (
	ErrUserExists = errors.New("user exists")
	ErrNoUser     = errors.New("no such user")
)

// AddUser creates a user with every row Archivematica's user form makes.
func (s *Seeder) AddUser(ctx context.Context, db *sql.DB, service string, u User) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+userDatabase[service]+".auth_user WHERE username = ?", u.Username).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return ErrUserExists
	}
	w := &writer{ctx: ctx, db: txStore{tx: tx, ctx: ctx, cache: true}, at: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.applyUser(w, service, u); err != nil {
		return err
	}
	return tx.Commit()
}

// RemoveUser deletes a user and every row that belongs to it: API key, and
// for the dashboard its profile and agent.
func RemoveUser(ctx context.Context, db *sql.DB, service, username string) error {
	d := userDatabase[service]
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, "SELECT id FROM "+d+".auth_user WHERE username = ?", username).Scan(&id); errors.Is(err, sql.ErrNoRows) {
		return ErrNoUser
	} else if err != nil {
		return err
	}
	type del struct {
		q   string
		arg any
	}
	dels := []del{{"DELETE FROM " + d + ".tastypie_apikey WHERE user_id = ?", id}}
	if service == Dashboard {
		dels = append(dels,
			del{"DELETE FROM MCP.main_userprofile WHERE user_id = ?", id},
			del{"DELETE FROM MCP.Agents WHERE agentIdentifierType = 'Archivematica user pk' AND agentIdentifierValue = ?", strconv.FormatInt(id, 10)})
	}
	dels = append(dels, del{"DELETE FROM " + d + ".auth_user WHERE id = ?", id})
	for _, x := range dels {
		if _, err := tx.ExecContext(ctx, x.q, x.arg); err != nil {
			return err
		}
	}
	return tx.Commit()
}
