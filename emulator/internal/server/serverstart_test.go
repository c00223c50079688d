package server

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestEnvChangesAndCopiedSecrets(t *testing.T) {
	given := []string{"PATH=/bin", "HOSTNAME=x", "MYSQL_ROOT_PASSWORD=s3cret", "MYSQL_PASSWORD=app", "GONE=1", "PWD=/"}
	server := []string{"PATH=/bin", "HOSTNAME=x", "MYSQL_ROOT_PASSWORD=s3cret", "MYSQL_PASSWORD=app", "HOME=/var/lib/mysql",
		"MARIADB_ROOT_PASSWORD=s3cret", "MARIADB_PASSWORD=app", "MARIADB_ROOT_HOST=%", "SHLVL=1"}
	set, unset := envChanges(given, server)
	if want := []string{"HOME=/var/lib/mysql", "MARIADB_PASSWORD=app", "MARIADB_ROOT_HOST=%", "MARIADB_ROOT_PASSWORD=s3cret"}; !slices.Equal(set, want) {
		t.Errorf("set %v, want %v", set, want)
	}
	if !slices.Equal(unset, []string{"GONE"}) {
		t.Errorf("unset %v", unset)
	}
	kept, copies := copiedSecrets(set, given, []string{"s3cret", "app"})
	if !slices.Equal(kept, []string{"HOME=/var/lib/mysql", "MARIADB_ROOT_HOST=%"}) || !slices.Equal(copies, []string{"MARIADB_PASSWORD=MYSQL_PASSWORD", "MARIADB_ROOT_PASSWORD=MYSQL_ROOT_PASSWORD"}) {
		t.Errorf("kept %v, copies %v", kept, copies)
	}
}

func TestDirectStartArgs(t *testing.T) {
	d := DirectStart{Argv: []string{"mysqld", "--x=1"}, Umask: "0026", Env: []string{"HOME=/h"}, Unset: []string{"A"}, Copy: []string{"B=C"}, Chown: "27:27",
		Paths: []startPath{{Path: "/run/mysqld", Type: "dir", Owner: "27:27", Mode: "755"}, {Path: "/l", Type: "link", Target: "/t"}, {Path: "/f", Type: "file", Owner: "0:0", Mode: "644", Content: "c"}}}
	want := []string{"-m", "0026", "-e", "HOME=/h", "-u", "A", "-r", "B", "C", "-c", "27:27", "-d", "/run/mysqld", "27:27", "755", "-l", "/t", "/l", "-f", "/f", "0:0", "644", "c", "--", "mysqld", "--x=1"}
	if got := d.args(); !slices.Equal(got, want) {
		t.Errorf("args %q\nwant %q", got, want)
	}
}

func TestUserSwitch(t *testing.T) {
	root, mysql := procStatus{uid: "0", gid: "0"}, procStatus{uid: "999", gid: "999"}
	d := DirectStart{Argv: []string{"mysqld", "--a"}}
	if why := d.user(mysql, root); why != "" || d.Chown != "999:999" || !slices.Equal(d.Argv, []string{"mysqld", "--a", "--user=999"}) {
		t.Errorf("a server switched by the entrypoint: %q %+v", why, d)
	}
	d = DirectStart{Argv: []string{"mariadbd", "--user=mysql"}}
	if why := d.user(mysql, root); why != "" || !slices.Equal(d.Argv, []string{"mariadbd", "--user=mysql"}) {
		t.Errorf("a server that switches itself: %q %+v", why, d)
	}
	d = DirectStart{Argv: []string{"mysqld"}}
	if why := d.user(mysql, mysql); why != "" || d.Chown != "" {
		t.Errorf("a non-root container: %q %+v", why, d)
	}
	if why := d.user(mysql, procStatus{uid: "1000", gid: "1000"}); why == "" {
		t.Error("a non-root container whose server runs as another user is started directly")
	}
}

func TestProcIDsAndRuntimeFiles(t *testing.T) {
	p := procIDs("Name:\tmysqld\nUmask:\t0026\nUid:\t999\t999\t999\t999\nGid:\t998\t998\t998\t998\n")
	if p != (procStatus{uid: "999", gid: "998", umask: "0026"}) {
		t.Errorf("%+v", p)
	}
	for f, want := range map[string]bool{"/run/mysqld/mysqld.sock": true, "/run/mysqld/mysqld.sock.lock": true, "/run/mysqld/mysqld.pid": true, "/healthcheck.cnf": false, "/run/mysqld": false} {
		if runtimeFile(f) != want {
			t.Errorf("runtimeFile(%s) = %v", f, !want)
		}
	}
}

// A direct start on a data directory that is not initialised runs the
// image's entrypoint instead (its first n arguments), as the entrypoint
// would have initialised it. This machine has no /var/lib/mysql/mysql.
func TestDirectStartOfAnEmptyDataDirectory(t *testing.T) {
	if _, err := os.Stat("/var/lib/mysql/mysql"); err == nil {
		t.Skip("this machine has an initialised /var/lib/mysql")
	}
	out, err := exec.Command("sh", "-c", directScript, "devstack-mysql", "-i", "3", "echo", "entrypoint", "a b", "-e", "X=1", "--", "echo", "direct").CombinedOutput()
	if err != nil || string(out) != "entrypoint a b\n" {
		t.Errorf("empty data directory: %q, %v", out, err)
	}
}
