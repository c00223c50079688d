package config

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"

	"github.com/wellcomecollection/devstack/emulator/fault"
)

// DefaultProject is the project of a command that names none.
const DefaultProject = "archivematica"

// The services: each is a container, the value of its LabelService, and its
// hostname on the stack's network.
const (
	ServiceMySQL    = "mysql"
	ServiceRedis    = "redis"
	ServiceGearmand = "gearmand"
)

var projectPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,30}$`)

// ValidateProject rejects names Docker would mangle or refuse, before any
// resource is made from them.
func ValidateProject(name string) error {
	if !projectPattern.MatchString(name) {
		return fault.Usage("invalid project name %q: use 1-31 characters from a-z, 0-9, '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// EphemeralProject returns a fresh project name for a throw-away stack:
// prefix, a dash and 8 random hex digits.
func EphemeralProject(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
