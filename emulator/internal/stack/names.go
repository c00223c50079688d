// Package stack describes a stack without touching an engine: its names
// and labels, the values pinned once per stack, and the Blueprint its
// containers are made from.
package stack

import (
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/shared"
)

// Labels that mark ownership (docs/architecture.md lists them). Docker is the
// source of truth: every lookup goes through LabelProject, so a resource
// without it is never touched.
const (
	LabelProject    = "io.devstack.project"
	LabelService    = "io.devstack.service"
	LabelConfigHash = "io.devstack.config-hash"
	LabelEphemeral  = "io.devstack.ephemeral"
	LabelOwner      = "io.devstack.owner"
	LabelCreated    = "io.devstack.created"
	// LabelKeep marks an ephemeral stack left up on purpose (`run --keep`).
	LabelKeep = "io.devstack.keep"

	// Values chosen once per stack are pinned on the MySQL data volume,
	// which goes only with a purge, together with the data they belong to.
	LabelRootPassword  = "io.devstack.mysql-root-password"
	LabelAppPassword   = "io.devstack.mysql-password"
	LabelMySQLPort     = "io.devstack.mysql-port"
	LabelRedisPort     = "io.devstack.redis-port"
	LabelGearmandPort  = "io.devstack.gearmand-port"
	LabelDashboardUUID = "io.devstack.dashboard-uuid"
	// LabelSeeded is the time the seeded rows carry: the stack's first up,
	// or the template's, which a stack made from it keeps. It is not
	// LabelCreated, which says how old the resource is (prune goes by it).
	LabelSeeded = "io.devstack.seeded"

	// LabelFailure, on the record of an up that failed, says why.
	LabelFailure = "io.devstack.up-failed"
)

// The other values of LabelService name the parts of a stack that are not
// services: its helper container, shared volume and network, and the
// one-shot container that sets up a stack made by compose/docker-compose.yml.
const (
	PartHelper  = "helper"
	PartShared  = "shared"
	PartNetwork = "network"
	PartInit    = "init"
	// PartFailure is the record of an up that failed.
	PartFailure = "failure"
)

// SharedDir is where every container that does Archivematica's work mounts the
// shared volume, as production mounts its EBS volume.
const SharedDir = shared.Dir

const (
	AppUser               = setup.AppUser
	MySQLContainerPort    = 3306
	RedisContainerPort    = 6379
	GearmandContainerPort = 4730
)

// Names are the Docker resource names of one project's stack.
type Names struct {
	Project   string
	Network   string
	MySQL     string
	Redis     string
	Gearmand  string
	MySQLData string
	// MySQLClone is where a stack's first server clones itself, to make a
	// seeded template (server.InPlace).
	MySQLClone string
	RedisData  string
	Shared     string
	// Helper is an idle container that mounts the shared volume, so that
	// seeding and resets reach it by exec instead of starting a container.
	// A new one is made as NewHelper and takes its name once the shared
	// directory is laid out.
	Helper    string
	NewHelper string
	// TemplateCopy is the short-lived container that fills a new data volume
	// from a seeded template; left behind, it says that copy was cut short.
	TemplateCopy string
	// Copy is the short-lived container that copies the stack's volumes to
	// and from a snapshot, and a snapshot's to and from a file. Probe is one
	// that asks an image's server binary its version. Like TemplateCopy,
	// they carry the stack's labels, so that one a killed devstack left
	// behind is the stack's to remove; unlike it, their being left says
	// nothing about the stack's data.
	Copy  string
	Probe string
	// Restoring is the journal of a restore: a small volume that exists
	// from before a restore changes anything until it is complete.
	Restoring string
	// Failed is the record of an up that failed: a small volume whose label
	// says why, there until an up succeeds.
	Failed string
}

func NamesFor(project string) Names {
	p := "devstack-" + project
	return Names{
		Project:      project,
		Network:      p,
		MySQL:        p + "-mysql",
		Redis:        p + "-redis",
		Gearmand:     p + "-gearmand",
		MySQLData:    p + "-mysql-data",
		MySQLClone:   p + "-mysql-clone",
		RedisData:    p + "-redis-data",
		Shared:       p + "-shared",
		Helper:       p + "-helper",
		NewHelper:    p + "-helper-new",
		TemplateCopy: p + "-copy",
		Copy:         p + "-snapshot",
		Probe:        p + "-probe",
		Restoring:    p + "-restoring",
		Failed:       p + "-failed",
	}
}
