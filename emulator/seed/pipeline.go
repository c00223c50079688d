package seed

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// What the storage service holds once bootstrapped (storage service 0.23):
// the default space and locations its first start makes, and the pipeline
// the dashboard's installer registers, with its currently processing
// location and links to the defaults. The storage service makes the space
// and locations with random UUIDs; devstack derives them from a namespace of
// its own, so that a reset makes the same rows again and only the pipeline
// (the dashboard's UUID) differs from stack to stack.

// locationSpace is the namespace of the space's and locations' UUIDs.
const locationSpace = "6f1c3a2e-9d4b-4e8a-b7c5-2a9e0d3f6b81"

// SharedPath is the shared directory as the installer registers it.
const SharedPath = "/var/archivematica/sharedDirectory/"

// location is one of the default locations.
type location struct {
	purpose, path, description string
	// setting is the administration setting that names it the default (the
	// list-valued one of the first start), "" for none.
	setting string
	// pipeline says whether the pipeline is linked to it.
	pipeline bool
}

// locations are the first start's, in the order it makes them, and the
// pipeline's currently processing location, made last.
var locations = []location{
	{"TS", "home", "Default transfer source", "default_transfer_source", true},
	{"AS", "var/archivematica/sharedDirectory/www/AIPsStore", "Store AIP in standard Archivematica Directory", "default_aip_storage", true},
	{"DS", "var/archivematica/sharedDirectory/www/DIPsStore", "Store DIP in standard Archivematica Directory", "default_dip_storage", true},
	{"BL", "var/archivematica/sharedDirectory/www/AIPsStore/transferBacklog", "Default transfer backlog", "default_backlog", true},
	{"SS", "var/archivematica/storage_service", "For storage service internal usage.", "", false},
	{"AR", "var/archivematica/storage_service/recover", "Default AIP recovery", "default_recovery", true},
	{"CP", strings.TrimPrefix(SharedPath, "/"), "", "", true},
}

// NewPipelineUUID is a new random (version 4) UUID for a pipeline: the
// dashboard's dashboard_uuid and the storage service's pipeline, which a
// stack or a target chooses once.
func NewPipelineUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// derivedUUID is a name-based (version 5) UUID in the namespace of base.
func derivedUUID(base, name string) string {
	ns, _ := hex.DecodeString(strings.ReplaceAll(base, "-", ""))
	sum := sha1.Sum(append(ns, name...))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// applyPipeline writes the storage service's space, locations, settings and
// the dashboard's pipeline, whose UUID is the dashboard's.
func (s *Seeder) applyPipeline(w *writer, dashboardUUID string) error {
	space := derivedUUID(locationSpace, "space")
	if err := w.upsert(row{Table: "SS.locations_space", PK: "id", Key: []field{{"uuid", space}},
		Set: []field{{"access_protocol", "FS"}, {"size", nil}, {"used", 0}, {"path", "/"}, {"verified", false}, {"last_verified", nil}, {"staging_path", "/var/archivematica/storage_service"}}}); err != nil {
		return err
	}
	if err := w.upsert(row{Table: "SS.locations_localfilesystem", PK: "id", Key: []field{{"space_id", space}}}); err != nil {
		return err
	}
	user, key := s.pipelineUser()
	remote := s.F.Settings.value("site_url")
	if err := w.upsert(row{Table: "SS.locations_pipeline", PK: "id", Key: []field{{"uuid", dashboardUUID}},
		Set: []field{{"description", "Archivematica on devstack"}, {"enabled", true}, {"api_key", key}, {"api_username", user}, {"remote_name", remote}}}); err != nil {
		return err
	}
	for _, l := range locations {
		id := derivedUUID(locationSpace, "location/"+l.purpose)
		var description any = l.description
		if l.description == "" {
			description = nil
		}
		if err := w.upsert(row{Table: "SS.locations_location", PK: "id", Key: []field{{"uuid", id}},
			Set: []field{{"purpose", l.purpose}, {"relative_path", l.path}, {"description", description}, {"quota", nil}, {"used", 0}, {"enabled", true}, {"space_id", space}}}); err != nil {
			return err
		}
	}
	// The first start's settings name the defaults as Python lists; the
	// pipeline's registration names them one by one.
	var settings [][2]string
	for _, l := range locations {
		if l.setting != "" {
			settings = append(settings, [2]string{l.setting, fmt.Sprintf("['%s']", derivedUUID(locationSpace, "location/"+l.purpose))})
		}
	}
	for _, l := range locations {
		if l.setting != "" {
			settings = append(settings, [2]string{"default_" + l.purpose + "_location", derivedUUID(locationSpace, "location/"+l.purpose)})
		}
	}
	for _, st := range settings {
		if err := w.upsert(row{Table: "SS.administration_settings", PK: "id", Key: []field{{"name", st[0]}}, Set: []field{{"value", st[1]}}}); err != nil {
			return err
		}
	}
	// The links, the currently processing location's first.
	for _, l := range append(locations[len(locations)-1:], locations[:len(locations)-1]...) {
		if !l.pipeline {
			continue
		}
		id := derivedUUID(locationSpace, "location/"+l.purpose)
		if err := w.upsert(row{Table: "SS.locations_locationpipeline", PK: "id", Key: []field{{"location_id", id}, {"pipeline_id", dashboardUUID}}}); err != nil {
			return err
		}
	}
	return nil
}

// pipelineUser is the dashboard user the storage service calls back as: the
// installer's, which is the first superuser (else the first user).
func (s *Seeder) pipelineUser() (username, apiKey any) {
	users := s.F.Users.Dashboard
	for _, u := range users {
		if u.Superuser {
			return u.Username, u.APIKey
		}
	}
	if len(users) > 0 {
		return users[0].Username, users[0].APIKey
	}
	return nil, nil
}

// Rekey moves the pipeline from one UUID to another: the dashboard's
// dashboard_uuid setting and the storage service's pipeline with its links.
// A stack made from a seeded template gets its own UUID this way.
func Rekey(ctx context.Context, db *sql.DB, from, to string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The links point at the pipeline's UUID: move both at once.
	defer conn.Raw(func(any) error { return driver.ErrBadConn })
	for _, q := range []string{
		"SET FOREIGN_KEY_CHECKS = 0",
		"UPDATE MCP.DashboardSettings SET value = ? WHERE scope = '' AND name = 'dashboard_uuid' AND value = ?",
		"UPDATE SS.locations_pipeline SET uuid = ? WHERE uuid = ?",
		"UPDATE SS.locations_locationpipeline SET pipeline_id = ? WHERE pipeline_id = ?",
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{to, from}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil && !isNoSuchTable(err) {
			return err
		}
	}
	return nil
}

// RekeyedTables are the tables Rekey changes, as db.table.
var RekeyedTables = []string{"MCP.DashboardSettings", "SS.locations_pipeline", "SS.locations_locationpipeline"}

func isNoSuchTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}
