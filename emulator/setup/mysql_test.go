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

func TestFlavourNameAndSeries(t *testing.T) {
	for _, tc := range []struct{ version, name, series string }{
		{"10.11.18-MariaDB-0+deb12u1", "mariadb", "10.11"},
		{"11.4.2-MariaDB-ubu2404", "mariadb", "11.4"},
		{"8.0.36", "mysql", "8.0"},
		{"9.1.0", "mysql", "9.1"},
		{"garbage", "mysql", ""},
	} {
		f := Flavour{Version: tc.version}
		if f.Name() != tc.name || f.Series() != tc.series {
			t.Errorf("%s: %s %s, want %s %s", tc.version, f.Name(), f.Series(), tc.name, tc.series)
		}
	}
	for out, want := range map[string]string{
		"mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)\n":  "10.11.6-MariaDB-0+deb12u1",
		"/usr/sbin/mysqld  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)\n":   "8.0.36",
		"mariadbd  Ver 11.4.2-MariaDB-ubu2404 for debian-linux-gnu on x86_64 (mariadb.org)\n": "11.4.2-MariaDB-ubu2404",
	} {
		if f, err := BinaryFlavour(out); err != nil || f.Version != want {
			t.Errorf("%q: %q, %v", out, f.Version, err)
		}
	}
	if _, err := BinaryFlavour("sh: mysqld: not found"); err == nil {
		t.Error("no version accepted")
	}
}
