package emulator

import "regexp"

// Labels that mark ownership. Docker is the source of truth: every lookup goes
// through LabelProject, so a resource without it is never touched.
const (
	LabelProject    = "io.devstack.project"
	LabelService    = "io.devstack.service"
	LabelConfigHash = "io.devstack.config-hash"
	LabelEphemeral  = "io.devstack.ephemeral"
	LabelOwner      = "io.devstack.owner"
	LabelCreated    = "io.devstack.created"
	// LabelKeep marks an ephemeral stack left up on purpose (`run --keep`).
	LabelKeep = "io.devstack.keep"

	// Values chosen once per stack live on the MySQL data volume, which goes
	// only with a purge, together with the data they belong to.
	labelRootPassword  = "io.devstack.mysql-root-password"
	labelAppPassword   = "io.devstack.mysql-password"
	labelMySQLPort     = "io.devstack.mysql-port"
	labelRedisPort     = "io.devstack.redis-port"
	labelDashboardUUID = "io.devstack.dashboard-uuid"
)

// Service names, also used as the io.devstack.service label and as the
// hostnames on the stack's network.
const (
	ServiceMySQL   = "mysql"
	ServiceRedis   = "redis"
	ServiceShared  = "shared"
	ServiceNetwork = "network"
	ServiceHelper  = "helper"
)

// SharedDir is where every container that does Archivematica's work mounts the
// shared volume, as production mounts its EBS volume.
const SharedDir = "/var/archivematica/sharedDirectory"

const (
	DefaultProject = "archivematica"
	AppUser        = "archivematica"
	mysqlPort      = 3306
	redisPort      = 6379
)

var projectPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,30}$`)

// ValidateProject rejects names Docker would mangle or refuse, before any
// resource is made from them.
func ValidateProject(name string) error {
	if !projectPattern.MatchString(name) {
		return usageError("invalid project name %q: use 1-31 characters from a-z, 0-9, '_' and '-', starting with a letter or digit", name)
	}
	return nil
}

// Names are the Docker resource names of one project's stack.
type Names struct {
	Project   string
	Network   string
	MySQL     string
	Redis     string
	MySQLData string
	RedisData string
	Shared    string
	// Helper is an idle container that mounts the shared volume, so that
	// seeding and resets reach it by exec instead of starting a container.
	Helper string
}

func NamesFor(project string) Names {
	p := "devstack-" + project
	return Names{
		Project:   project,
		Network:   p,
		MySQL:     p + "-mysql",
		Redis:     p + "-redis",
		MySQLData: p + "-mysql-data",
		RedisData: p + "-redis-data",
		Shared:    p + "-shared",
		Helper:    p + "-helper",
	}
}
