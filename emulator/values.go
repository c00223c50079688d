package emulator

import (
	"strconv"
	"time"
)

// values are the settings chosen once per stack: passwords and ports that the
// config leaves open. They are read back from the MySQL data volume's labels
// so that every later command, from any directory, sees the same ones.
type values struct {
	RootPassword  string
	AppPassword   string
	MySQLPort     int
	RedisPort     int
	DashboardUUID string
	// Created is when the stack was first brought up; seeded rows carry it.
	Created time.Time
}

// resolveValues takes each value from the config when it fixes one, else from
// the volume labels, else chooses it now.
func resolveValues(cfg Config, labels map[string]string) (values, error) {
	v := values{
		RootPassword:  firstNonEmpty(cfg.MySQL.RootPassword, labels[labelRootPassword]),
		AppPassword:   firstNonEmpty(cfg.MySQL.Password, labels[labelAppPassword]),
		MySQLPort:     cfg.MySQL.Port,
		RedisPort:     cfg.Redis.Port,
		DashboardUUID: labels[labelDashboardUUID],
		Created:       time.Now().UTC().Truncate(time.Second),
	}
	if t, err := time.Parse(time.RFC3339, labels[LabelCreated]); err == nil {
		v.Created = t
	}
	if v.RootPassword == "" {
		v.RootPassword = NewSecret()
	}
	if v.AppPassword == "" {
		v.AppPassword = NewSecret()
	}
	if v.DashboardUUID == "" {
		v.DashboardUUID = newUUID()
	}
	var err error
	if v.MySQLPort, err = stablePort(cfg.MySQL.Port, labels[labelMySQLPort], 0); err != nil {
		return v, err
	}
	v.RedisPort, err = stablePort(cfg.Redis.Port, labels[labelRedisPort], v.MySQLPort)
	return v, err
}

// stablePort returns the configured port, or for 0 the one picked at the
// stack's first up, or a free one now (never the same as avoid).
func stablePort(configured int, label string, avoid int) (int, error) {
	if configured != 0 {
		return configured, nil
	}
	if p, err := strconv.Atoi(label); err == nil && p > 0 {
		return p, nil
	}
	for {
		p, err := freePort("127.0.0.1")
		if err != nil {
			return 0, envError(err, "cannot find a free port on 127.0.0.1: %v", err)
		}
		if p != avoid {
			return p, nil
		}
	}
}

// labels is how values are kept on the MySQL data volume.
func (v values) labels() map[string]string {
	return map[string]string{
		labelRootPassword:  v.RootPassword,
		labelAppPassword:   v.AppPassword,
		labelMySQLPort:     strconv.Itoa(v.MySQLPort),
		labelRedisPort:     strconv.Itoa(v.RedisPort),
		labelDashboardUUID: v.DashboardUUID,
		// The seeded rows' timestamp: the label and the first seed must agree.
		LabelCreated: v.Created.Format(time.RFC3339),
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
