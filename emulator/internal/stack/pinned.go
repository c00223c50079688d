package stack

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

// Pinned are the values chosen once per stack: passwords and ports that the
// config leaves open, the pipeline's UUID and the creation time. They are
// pinned as labels on the MySQL data volume, so that every later command,
// from any directory, sees the same ones.
type Pinned struct {
	RootPassword string `json:"mysql_root_password"`
	AppPassword  string `json:"mysql_password"`
	// RedisPassword comes from the config alone: it is never pinned.
	RedisPassword string `json:"-"`
	MySQLPort     int    `json:"mysql_port"`
	RedisPort     int    `json:"redis_port"`
	// GearmandPort is 0 while gearmand was never enabled.
	GearmandPort  int    `json:"gearmand_port,omitempty"`
	DashboardUUID string `json:"dashboard_uuid"`
	// Created is the time seeded rows carry (LabelSeeded).
	Created time.Time `json:"created"`
}

// PinnedFrom reads the values as they are pinned in labels, whatever the
// config says: a snapshot keeps them so.
func PinnedFrom(labels map[string]string) Pinned {
	v := Pinned{RootPassword: labels[LabelRootPassword], AppPassword: labels[LabelAppPassword], DashboardUUID: labels[LabelDashboardUUID]}
	v.MySQLPort, _ = strconv.Atoi(labels[LabelMySQLPort])
	v.RedisPort, _ = strconv.Atoi(labels[LabelRedisPort])
	v.GearmandPort, _ = strconv.Atoi(labels[LabelGearmandPort])
	v.Created, _ = time.Parse(time.RFC3339, labels[LabelSeeded])
	return v
}

// KnownPinned takes each value from the config when it fixes one, else from
// the volume labels. It chooses nothing: unknown values stay empty, unknown
// ports 0.
func KnownPinned(cfg config.Config, labels map[string]string) Pinned {
	v := PinnedFrom(labels)
	v.RootPassword = FirstNonEmpty(cfg.MySQL.RootPassword, v.RootPassword)
	v.AppPassword = FirstNonEmpty(cfg.MySQL.Password, v.AppPassword)
	v.RedisPassword = cfg.Redis.Password
	if cfg.MySQL.Port != 0 {
		v.MySQLPort = cfg.MySQL.Port
	}
	if cfg.Redis.Port != 0 {
		v.RedisPort = cfg.Redis.Port
	}
	switch {
	case !cfg.Gearmand.Enabled:
		v.GearmandPort = 0
	case cfg.Gearmand.Port != 0:
		v.GearmandPort = cfg.Gearmand.Port
	}
	return v
}

// ChoosePinned is KnownPinned with what is still open chosen now, for up.
// freePort finds a free host port; gearmand's port is the one its container
// publishes (current) when the volume does not pin it (gearmand was enabled
// after the stack was made). The Redis password is never chosen: production
// runs without AUTH.
func ChoosePinned(cfg config.Config, labels map[string]string, current int, freePort func() (int, error)) (Pinned, error) {
	v := KnownPinned(cfg, labels)
	if cfg.Gearmand.Enabled && v.GearmandPort == 0 {
		v.GearmandPort = current
	}
	if v.Created.IsZero() {
		v.Created = time.Now().UTC().Truncate(time.Second)
	}
	if v.RootPassword == "" {
		v.RootPassword = NewSecret()
	}
	if v.AppPassword == "" {
		v.AppPassword = NewSecret()
	}
	if v.DashboardUUID == "" {
		v.DashboardUUID = seed.NewPipelineUUID()
	}
	var err error
	if v.MySQLPort, err = stablePort(v.MySQLPort, freePort); err != nil {
		return v, err
	}
	if v.RedisPort, err = stablePort(v.RedisPort, freePort, v.MySQLPort); err != nil {
		return v, err
	}
	if cfg.Gearmand.Enabled {
		v.GearmandPort, err = stablePort(v.GearmandPort, freePort, v.MySQLPort, v.RedisPort)
	}
	return v, err
}

// stablePort returns a known port, or a free one now (never one to avoid).
func stablePort(known int, freePort func() (int, error), avoid ...int) (int, error) {
	if known != 0 {
		return known, nil
	}
	for {
		p, err := freePort()
		if err != nil {
			return 0, fault.Env(err, "cannot find a free port on 127.0.0.1: %v", err)
		}
		if !slices.Contains(avoid, p) {
			return p, nil
		}
	}
}

// Labels is how the values are pinned on the MySQL data volume.
func (v Pinned) Labels() map[string]string {
	l := map[string]string{
		LabelRootPassword:  v.RootPassword,
		LabelAppPassword:   v.AppPassword,
		LabelMySQLPort:     strconv.Itoa(v.MySQLPort),
		LabelRedisPort:     strconv.Itoa(v.RedisPort),
		LabelDashboardUUID: v.DashboardUUID,
		// The label and the first seed must agree.
		LabelSeeded: v.Created.Format(time.RFC3339),
	}
	if v.GearmandPort != 0 {
		l[LabelGearmandPort] = strconv.Itoa(v.GearmandPort)
	}
	return l
}

func FirstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// NewSecret returns 32 characters from [A-Za-z0-9]: safe unquoted in env files
// and shells, and about 190 bits of entropy.
func NewSecret() string {
	return seed.RandomString(32)
}

// uuidPattern is a UUID as Archivematica writes one.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Invalid says which of the values a manifest carries no stack can have:
// they become labels, a container's environment and rows.
func (v Pinned) Invalid() string {
	switch {
	case !uuidPattern.MatchString(v.DashboardUUID):
		return "dashboard_uuid is not a UUID"
	case v.MySQLPort < 1 || v.MySQLPort > 65535 || v.RedisPort < 1 || v.RedisPort > 65535 || v.GearmandPort < 0 || v.GearmandPort > 65535:
		return "ports are out of range"
	case !cleanSecret(v.RootPassword) || !cleanSecret(v.AppPassword):
		return "passwords are empty, longer than 256 characters or hold control characters"
	}
	return ""
}

// cleanSecret reports whether a password can be a stack's.
func cleanSecret(s string) bool {
	return s != "" && len(s) <= 256 && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
