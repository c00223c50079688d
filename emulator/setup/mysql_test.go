package setup

import (
	"strings"
	"testing"
)

// The SQL for each flavour. The MySQL 8.0 branch (mysql_native_password, as
// Aurora MySQL 3 defaults to) cannot run here: the real-MySQL stand-in is
// 9.x, which no longer has that plugin. So its SQL is checked here.
func TestSetUpStatementsPerFlavour(t *testing.T) {
	for _, tc := range []struct {
		f         Flavour
		collation string
		identify  string
	}{
		{Flavour{Version: "10.11.18-MariaDB-0+deb12u1"}, "utf8mb4_unicode_ci", "IDENTIFIED BY ?"},
		{Flavour{Version: "8.0.36", Native: true}, "utf8mb4_0900_ai_ci", "IDENTIFIED WITH mysql_native_password BY ?"},
		{Flavour{Version: "8.4.3", Native: false}, "utf8mb4_0900_ai_ci", "IDENTIFIED BY ?"},
		{Flavour{Version: "9.7.4", Native: false}, "utf8mb4_0900_ai_ci", "IDENTIFIED BY ?"},
	} {
		var all []string
		for _, s := range statements(tc.f, "pw") {
			all = append(all, s.query)
			if strings.Contains(s.query, "USER") && (len(s.args) != 1 || s.args[0] != "pw") {
				t.Errorf("%s: the password is not an argument: %q %v", tc.f.Version, s.query, s.args)
			}
		}
		sql := strings.Join(all, ";\n")
		for _, want := range []string{
			"CREATE DATABASE IF NOT EXISTS `MCP` CHARACTER SET utf8mb4 COLLATE " + tc.collation,
			"CREATE DATABASE IF NOT EXISTS `SS` CHARACTER SET utf8mb4 COLLATE " + tc.collation,
			"CREATE USER IF NOT EXISTS 'archivematica'@'%' " + tc.identify,
			"ALTER USER 'archivematica'@'%' " + tc.identify,
			"GRANT ALL PRIVILEGES ON `MCP`.* TO 'archivematica'@'%'",
			"GRANT ALL PRIVILEGES ON `SS`.* TO 'archivematica'@'%'",
		} {
			if !strings.Contains(sql, want) {
				t.Errorf("%s: missing %q in\n%s", tc.f.Version, want, sql)
			}
		}
	}
}
