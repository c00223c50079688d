package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ServerOption is one option the MySQL server is started with: --name=value
// on its command line, or --name alone when Value is empty.
type ServerOption struct {
	Name  string
	Value string
}

// arg is the option as mysqld takes it on its command line, which both the
// official images and devstack's stand-ins pass to the server.
func (o ServerOption) arg() string {
	a := "--" + strings.ReplaceAll(o.Name, "_", "-")
	if o.Value != "" {
		a += "=" + o.Value
	}
	return a
}

// optionKey is what makes two spellings one option: mysqld reads '-' and '_'
// alike, and loose_ only says that a server without the option ignores it.
func optionKey(name string) string {
	k := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "--")), "-", "_")
	return strings.TrimPrefix(k, "loose_")
}

// DevServerOptions are the settings devstack brings to any MySQL or MariaDB
// image: those a disposable development database on a laptop wants and the
// official images do not carry. Each says what it trades away. Options only
// one flavour knows are loose_: the other ignores them. None changes the
// format of a data directory, so templates and snapshots open under any of
// them. mysql.server_options changes or drops them.
var DevServerOptions = []ServerOption{
	// Commits reach the redo log at once and the disk once a second: a power
	// cut or a crash of the machine may lose the last second of commits; a
	// crash of the server loses nothing.
	{"innodb_flush_log_at_trx_commit", "2"},
	// No second copy of each page written: a page torn by a power cut cannot
	// be repaired.
	{"innodb_doublewrite", "OFF"},
	// No binary log (MySQL 8 and later write one and keep it 30 days): no
	// replication or point-in-time recovery.
	{"skip_log_bin", ""},
	// No performance schema (on by default in MySQL): its instruments hold
	// some 400 MB, and the sys schema's reports built on it come back empty.
	{"performance_schema", "OFF"},
	// A 64 MB buffer pool (the servers' default is 128 MB): the seeded
	// databases take some 30 MB; more data than fits is read from disk.
	{"innodb_buffer_pool_size", "64M"},
	// A 32 MB redo log (MySQL 8.0.30 and later size it with
	// innodb_redo_log_capacity, default 100 MB; MariaDB with
	// innodb_log_file_size, default 96 MB): less to initialise, copy and
	// open; big bulk loads checkpoint more often.
	{"loose_innodb_redo_log_capacity", "32M"},
	{"loose_innodb_log_file_size", "32M"},
	// No list of cached pages written at shutdown and read back at start:
	// a restarted server starts with a cold cache, which a development
	// database fills in moments.
	{"innodb_buffer_pool_dump_at_shutdown", "OFF"},
	{"innodb_buffer_pool_load_at_startup", "OFF"},
	// No X protocol (MySQL 8 and later, port 33060): Archivematica speaks
	// the classic protocol only.
	{"loose_mysqlx", "OFF"},
	// Clients' addresses are not looked up in DNS, as the official images
	// set too: an image that does not would look up every connection.
	{"skip_name_resolve", ""},
}

// refusedOptions are what devstack cannot run a server with: it reaches
// MySQL over TCP on port 3306 as root with a password, and copies templates
// and snapshots between servers.
var refusedOptions = map[string]string{
	"port":                   "devstack publishes port 3306",
	"bind_address":           "devstack reaches the server through Docker's port on all interfaces",
	"skip_networking":        "devstack reaches the server over TCP",
	"skip_grant_tables":      "devstack logs in as root with a password",
	"datadir":                "templates and snapshots copy /var/lib/mysql",
	"innodb_page_size":       "a data directory opens only with the page size it was made with, and templates and snapshots are copied between servers",
	"lower_case_table_names": "MySQL opens a data directory only with the setting it was made with, and templates and snapshots are copied between servers",
}

// refusedOption returns the refused option that name would set, and why:
// the servers take any unambiguous prefix of an option's name
// (skip-grant is skip-grant-tables), and loose- before any.
func refusedOption(name string) (string, string) {
	key := strings.TrimPrefix(optionKey(name), "loose_")
	for _, r := range slices.Sorted(maps.Keys(refusedOptions)) {
		if strings.HasPrefix(r, key) {
			return r, refusedOptions[r]
		}
	}
	return "", ""
}

var optionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// NoServerOptions is the value of mysql.server_options that leaves out
// devstack's settings: the image's own configuration alone.
const NoServerOptions = "none"

// applyServerOptions changes opts by a mysql.server_options value: none, or
// a mapping of option names to values, where a null drops the option
// (devstack's, or one set before) and an empty string is an option without
// a value. Options opts has are changed in place; new ones follow, sorted.
func applyServerOptions(opts []ServerOption, n *yaml.Node) ([]ServerOption, error) {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		if n.Value != NoServerOptions {
			return nil, fmt.Errorf("must be %s or a mapping of option names to values, not %q", NoServerOptions, n.Value)
		}
		return []ServerOption{}, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("must be none or a mapping of option names to values ({innodb_buffer_pool_size: 256M, performance_schema: null})")
	}
	out := slices.Clone(opts)
	var added []ServerOption
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.TrimPrefix(k.Value, "--")
		if !optionName.MatchString(name) {
			return nil, fmt.Errorf("%q is not an option name", k.Value)
		}
		if refused, why := refusedOption(name); refused != "" {
			return nil, fmt.Errorf("devstack cannot run MySQL with %s (%s): %s", name, refused, why)
		}
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s must be a single value", name)
		}
		if strings.ContainsAny(v.Value, "\n\r\x00") {
			return nil, fmt.Errorf("%s must be one line", name)
		}
		key := optionKey(name)
		if seen[key] {
			return nil, fmt.Errorf("%s is given twice", key)
		}
		seen[key] = true
		drop := v.Tag == "!!null"
		i := slices.IndexFunc(out, func(o ServerOption) bool { return optionKey(o.Name) == key })
		switch {
		case i >= 0 && drop:
			out = slices.Delete(out, i, i+1)
		case i >= 0:
			out[i] = ServerOption{name, v.Value}
		case !drop:
			added = append(added, ServerOption{name, v.Value})
		}
	}
	slices.SortFunc(added, func(a, b ServerOption) int { return strings.Compare(optionKey(a.Name), optionKey(b.Name)) })
	return append(out, added...), nil
}

// ServerArgs are the options as the MySQL container's command: arguments
// alone, which the images' entrypoints hand to the server; nil (the image's
// own command) for none.
func ServerArgs(opts []ServerOption) []string {
	var args []string
	for _, o := range opts {
		args = append(args, o.arg())
	}
	return args
}
