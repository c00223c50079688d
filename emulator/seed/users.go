package seed

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wellcomecollection/devstack/fixtures"
	"go.yaml.in/yaml/v3"
)

// Services whose users devstack seeds: the dashboard's in MCP, the storage
// service's in SS.
const (
	Dashboard = "dashboard"
	Storage   = "storage"
)

// User is one fixture user, for the dashboard or the storage service.
type User struct {
	Username  string
	Email     string
	Password  string
	APIKey    string
	Superuser bool
	Active    bool
	FirstName string
	LastName  string
}

// Users are the fixture users by service, in file order.
type Users struct {
	Iterations Iterations
	Dashboard  []User
	Storage    []User
}

// Iterations are each service's PBKDF2 work factor: Django 4.2, which both
// pinned apps use, takes 600000; Django 5.2 1000000.
type Iterations struct {
	Dashboard int `yaml:"dashboard"`
	Storage   int `yaml:"storage"`
}

// For returns a service's work factor.
func (i Iterations) For(service string) int {
	if service == Storage {
		return i.Storage
	}
	return i.Dashboard
}

var (
	// Django's UnicodeUsernameValidator, restricted to ASCII.
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9@.+_-]{1,150}$`)
	apiKeyPattern   = regexp.MustCompile(`^[!-~]{1,128}$`)
)

var userFields = []string{"username", "email", "password", "api_key", "superuser", "active", "first_name", "last_name"}

func parseUsers(path string, data []byte) (Users, error) {
	u := Users{Iterations: Iterations{DefaultIterations, DefaultIterations}}
	root, err := parseYAML(path, data)
	if err != nil {
		return u, err
	}
	top, err := fields(path, "users file", root, "password_iterations", Dashboard, Storage)
	if err != nil {
		return u, err
	}
	if n, ok := top["password_iterations"]; ok {
		if u.Iterations, err = parseIterations(path, n); err != nil {
			return u, err
		}
	}
	for _, svc := range []string{Dashboard, Storage} {
		n, ok := top[svc]
		if !ok {
			continue
		}
		if n.Kind != yaml.SequenceNode {
			return u, fixtures.ErrorAt(path, n, "%s must be a list of users", svc)
		}
		seen := map[string]int{}
		for _, item := range n.Content {
			user, err := parseUser(path, svc, item)
			if err != nil {
				return u, err
			}
			if line, dup := seen[user.Username]; dup {
				return u, fixtures.ErrorAt(path, item, "duplicate %s user %q (first at line %d)", svc, user.Username, line)
			}
			seen[user.Username] = item.Line
			if svc == Dashboard {
				u.Dashboard = append(u.Dashboard, user)
			} else {
				u.Storage = append(u.Storage, user)
			}
		}
	}
	return u, nil
}

// parseIterations reads password_iterations: one number for both services,
// or a mapping of dashboard and storage.
func parseIterations(path string, n *yaml.Node) (Iterations, error) {
	one := func(n *yaml.Node) (int, error) {
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || v < 1000 || v > MaxIterations {
			return 0, fixtures.ErrorAt(path, n, "password_iterations must be a whole number from 1000 to %d (or one for each of dashboard and storage), not %q", MaxIterations, n.Value)
		}
		return v, nil
	}
	if n.Kind != yaml.MappingNode {
		v, err := one(n)
		return Iterations{v, v}, err
	}
	m, err := fields(path, "password_iterations", n, Dashboard, Storage)
	if err != nil {
		return Iterations{}, err
	}
	it := Iterations{DefaultIterations, DefaultIterations}
	for svc, dst := range map[string]*int{Dashboard: &it.Dashboard, Storage: &it.Storage} {
		if v, ok := m[svc]; ok {
			if *dst, err = one(v); err != nil {
				return it, err
			}
		}
	}
	return it, nil
}

func parseUser(path, svc string, n *yaml.Node) (User, error) {
	var u User
	m, err := fields(path, svc+" user", n, userFields...)
	if err != nil {
		return u, err
	}
	for key, dst := range map[string]*string{"username": &u.Username, "email": &u.Email, "password": &u.Password, "api_key": &u.APIKey, "first_name": &u.FirstName, "last_name": &u.LastName} {
		if *dst, err = scalar(path, key, m); err != nil {
			return u, err
		}
	}
	if u.Superuser, err = boolean(path, "superuser", m, false); err != nil {
		return u, err
	}
	if u.Active, err = boolean(path, "active", m, true); err != nil {
		return u, err
	}
	return u, ValidateUser(u, func(key, format string, args ...any) error {
		at := n
		if v, ok := m[key]; ok {
			at = v
		}
		return fixtures.ErrorAt(path, at, format, args...)
	})
}

// ValidateUser checks a user as Django's forms would; fail builds the error
// for a key, so callers can point at a file line or at a flag.
func ValidateUser(u User, fail func(key, format string, args ...any) error) error {
	for key, v := range map[string]string{"username": u.Username, "email": u.Email, "password": u.Password, "api_key": u.APIKey, "first_name": u.FirstName, "last_name": u.LastName} {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return fail(key, "%s is not valid UTF-8 text", key)
		}
	}
	switch {
	case u.Username == "":
		return fail("username", "username is required")
	case !usernamePattern.MatchString(u.Username):
		return fail("username", "username %q is invalid: use 1-150 characters from letters, digits and @.+-_", u.Username)
	case !validEmail(u.Email):
		return fail("email", "user %s: email %q is not a valid address", u.Username, u.Email)
	case u.Password == "":
		return fail("password", "user %s: password must not be empty", u.Username)
	case !apiKeyPattern.MatchString(u.APIKey):
		return fail("api_key", "user %s: api_key must be 1-128 printable characters without spaces", u.Username)
	case len(u.FirstName) > 150 || len(u.LastName) > 150:
		return fail("first_name", "user %s: first and last names take at most 150 characters", u.Username)
	}
	return nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && len(s) <= 254
}
