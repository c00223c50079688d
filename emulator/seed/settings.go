package seed

import (
	"regexp"
	"slices"
	"strings"

	"github.com/wellcomecollection/devstack/fixtures"
)

// Settings are the dashboard settings and the organisation the pipeline is
// set up for, as the dashboard's installer records them.
type Settings struct {
	OrganizationName       string
	OrganizationIdentifier string
	// Dashboard holds DashboardSettings rows by name, in file order.
	Dashboard []Setting
}

type Setting struct {
	Name  string
	Value string
}

// Settings devstack derives, so a fixture cannot contradict them: the
// pipeline's UUID is chosen once per stack, and the storage-service key is
// the storage user's own.
const (
	settingDashboardUUID = "dashboard_uuid"
	settingSSUser        = "storage_service_user"
	settingSSKey         = "storage_service_apikey"
)

var (
	settingName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,254}$`)
	checksumTypes  = []string{"md5", "sha1", "sha256", "sha512"}
	requiredFields = []string{"storage_service_url", settingSSUser, "site_url", "checksum_type"}
)

func parseSettings(path string, data []byte, users Users) (Settings, error) {
	var s Settings
	root, err := parseYAML(path, data)
	if err != nil {
		return s, err
	}
	top, err := fields(path, "settings file", root, "organization", "dashboard")
	if err != nil {
		return s, err
	}
	if n, ok := top["organization"]; ok {
		org, err := fields(path, "organization", n, "name", "identifier")
		if err != nil {
			return s, err
		}
		if s.OrganizationName, err = scalar(path, "name", org); err != nil {
			return s, err
		}
		if s.OrganizationIdentifier, err = scalar(path, "identifier", org); err != nil {
			return s, err
		}
	}
	dashNode := top["dashboard"]
	if dashNode == nil {
		return s, fixtures.ErrorAt(path, root, "dashboard settings are missing (need %s)", strings.Join(requiredFields, ", "))
	}
	dash, err := fields(path, "dashboard", dashNode)
	if err != nil {
		return s, err
	}
	for i := 0; i+1 < len(dashNode.Content); i += 2 {
		k := dashNode.Content[i]
		name := k.Value
		switch {
		case !settingName.MatchString(name):
			return s, fixtures.ErrorAt(path, k, "setting name %q is invalid: use lower-case letters, digits and _", name)
		case name == settingDashboardUUID || name == settingSSKey:
			return s, fixtures.ErrorAt(path, k, "%s is set by devstack (the stack's UUID; the storage user's API key), remove it", name)
		}
		v, err := scalar(path, name, dash)
		if err != nil {
			return s, err
		}
		s.Dashboard = append(s.Dashboard, Setting{name, v})
	}
	for _, req := range requiredFields {
		if _, ok := dash[req]; !ok {
			return s, fixtures.ErrorAt(path, dashNode, "dashboard setting %s is missing", req)
		}
	}
	if v := s.value("checksum_type"); !slices.Contains(checksumTypes, v) {
		return s, fixtures.ErrorAt(path, dash["checksum_type"], "checksum_type %q is not one of %s", v, strings.Join(checksumTypes, ", "))
	}
	if ssUser := s.value(settingSSUser); !slices.ContainsFunc(users.Storage, func(u User) bool { return u.Username == ssUser }) {
		return s, fixtures.ErrorAt(path, dash[settingSSUser], "storage_service_user %q is not a storage user in users.yaml", ssUser)
	}
	return s, nil
}

func (s Settings) value(name string) string {
	for _, x := range s.Dashboard {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// DashboardRows returns every DashboardSettings row devstack seeds, derived
// ones included.
func (s Settings) DashboardRows(users Users, dashboardUUID string) []Setting {
	rows := slices.Clone(s.Dashboard)
	ssUser := s.value(settingSSUser)
	for _, u := range users.Storage {
		if u.Username == ssUser {
			rows = append(rows, Setting{settingSSKey, u.APIKey})
		}
	}
	return append(rows, Setting{settingDashboardUUID, dashboardUUID})
}
