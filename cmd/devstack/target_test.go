package main

// devstack target: bootstrapping and checking servers devstack did not make,
// here a MySQL and a Redis started with plain docker run (no devstack
// label) and a folder standing in for the shared file system, which a
// container bind-mounts where Archivematica's mount it.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	pemlib "encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/seed"
	"github.com/wellcomecollection/devstack/emulator/setup"
	"github.com/wellcomecollection/devstack/emulator/target"
)

// plainContainer runs image with docker run, unlabelled, publishing port on
// 127.0.0.1, with docker run's options and the image's arguments, and
// returns the host port; it goes when the test ends.
func plainContainer(t *testing.T, image string, port int, options []string, args ...string) int {
	t.Helper()
	name := "target-" + config.EphemeralProject("t")
	run := append([]string{"run", "-d", "--name", name, "-p", "127.0.0.1::" + strconv.Itoa(port)}, options...)
	docker(t, append(append(run, image), args...)...)
	t.Cleanup(func() { docker(t, "rm", "-f", "-v", name) })
	_, p, _ := strings.Cut(docker(t, "port", name, strconv.Itoa(port)), ":")
	n, err := strconv.Atoi(strings.TrimSpace(strings.Split(p, "\n")[0]))
	must(t, err)
	return n
}

// targetMySQL is a MySQL server as an ops team would have it: root with a
// password, nothing else.
func targetMySQL(t *testing.T, password string) (*sql.DB, int) {
	t.Helper()
	port := plainContainer(t, mysqlImage(), 3306, []string{"-e", "MYSQL_ROOT_PASSWORD=" + password})
	db := setup.OpenMySQL("127.0.0.1", port, "root", password, "")
	t.Cleanup(func() { db.Close() })
	awaitMySQL(t, db, "the target's MySQL")
	return db, port
}

// awaitMySQL waits until a server that is starting answers.
func awaitMySQL(t *testing.T, db *sql.DB, what string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); db.Ping() != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 2 minutes", what)
		}
	}
}

// targetRun runs devstack target with the config and the admin's password
// in the environment.
type targetRun struct {
	t      *testing.T
	config string
	env    []string
}

func (r targetRun) run(args ...string) result {
	r.t.Helper()
	return runBinary(r.t, r.t.TempDir(), r.env, append([]string{"-c", r.config, "target"}, args...)...)
}

// runJSON runs a target command with -o json, reads its report into v and
// returns the exit code.
func (r targetRun) runJSON(v any, args ...string) int {
	r.t.Helper()
	out := r.run(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out.stdout), v); err != nil {
		r.t.Fatalf("%v -o json: %v\n%s\n%s", args, err, out.stdout, out.stderr)
	}
	return out.code
}

func (r targetRun) plan(name string) (p target.Plan, code int) {
	r.t.Helper()
	code = r.runJSON(&p, "plan", name)
	return p, code
}

func (r targetRun) verify(name string) (rep target.Report, code int) {
	r.t.Helper()
	code = r.runJSON(&rep, "verify", name)
	return rep, code
}

func changesOf(p target.Plan, step string) []target.Change {
	for _, s := range p.Steps {
		if s.Name == step {
			return s.Changes
		}
	}
	return nil
}

// checksum is a digest of the tables seeding writes and of the schemas
// there are: what a refused or failed command must leave as it was.
func checksum(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema IN ('MCP', 'SS')", "SELECT COUNT(*) FROM information_schema.schemata"} {
		var n int
		must(t, db.QueryRow(q).Scan(&n))
		b.WriteString(strconv.Itoa(n) + " ")
	}
	for _, d := range []string{"MCP", "SS"} {
		for _, tbl := range seed.WrittenTables[d] {
			var name string
			var sum sql.NullInt64
			if db.QueryRow("CHECKSUM TABLE "+d+"."+tbl).Scan(&name, &sum) == nil {
				b.WriteString(strconv.FormatInt(sum.Int64, 10) + " ")
			}
		}
	}
	return b.String()
}

func TestTargetBootstrapVerifyAndMend(t *testing.T) {
	t.Parallel()
	integration(t)
	const password = "Target-Admin-1"
	db, port := targetMySQL(t, password)
	redisPort := plainContainer(t, redisImage(), 6379, nil)
	shared := t.TempDir()
	config := filepath.Join(t.TempDir(), "devstack.yaml")
	must(t, os.WriteFile(config, []byte(`targets:
  staging:
    mysql:
      host: 127.0.0.1
      port: `+strconv.Itoa(port)+`
      user: root
      password_env: TARGET_ADMIN_PASSWORD
    redis:
      host: 127.0.0.1
      port: `+strconv.Itoa(redisPort)+`
    shared:
      path: `+shared+`
      uid: 333
      gid: 333
`), 0o600))
	tr := targetRun{t: t, config: config, env: []string{"TARGET_ADMIN_PASSWORD=" + password}}
	before := checksum(t, db)

	// A wrong admin password: exit 1, naming the target; nothing written.
	bad := targetRun{t: t, config: config, env: []string{"TARGET_ADMIN_PASSWORD=wrong"}}
	for _, args := range [][]string{{"plan", "staging"}, {"apply", "staging", "--yes"}} {
		if r := bad.run(args...); r.code != 1 || !strings.Contains(r.stderr, "target staging") || !strings.Contains(r.stderr, "cannot log in") {
			t.Errorf("%s with a wrong admin password: exit %d\n%s", args[0], r.code, r.stderr)
		}
	}
	if checksum(t, db) != before {
		t.Fatal("a wrong admin password wrote something")
	}
	// No password variable: bad input.
	if r := (targetRun{t: t, config: config}).run("plan", "staging"); r.code != 2 || !strings.Contains(r.stderr, "TARGET_ADMIN_PASSWORD") {
		t.Errorf("plan without the password's variable: exit %d\n%s", r.code, r.stderr)
	}

	// Plan on an empty server: every step has work, and nothing is written.
	golden(t, "target-plan", tr.run("plan", "staging", "-o", "json").stdout, nil, "server", "state", "changes")
	p, code := tr.plan("staging")
	if code != 1 || p.Refused != "" || p.Changes == 0 {
		t.Fatalf("plan on an empty server: exit %d, %+v", code, p)
	}
	for step, atLeast := range map[string]int{target.StepDatabases: 2, target.StepUser: 3, target.StepSchema: 2, target.StepRows: 10, target.StepShared: 45, target.StepProcessing: 4} {
		if n := len(changesOf(p, step)); n < atLeast {
			t.Errorf("plan on an empty server: %d changes in %s, want at least %d: %+v", n, step, atLeast, changesOf(p, step))
		}
	}
	if entries, _ := os.ReadDir(shared); len(entries) > 0 || checksum(t, db) != before {
		t.Fatalf("plan wrote something: %d entries in the shared directory", len(entries))
	}
	if r := tr.run("apply", "staging"); r.code != 2 || !strings.Contains(r.stderr, "--yes") || checksum(t, db) != before {
		t.Fatalf("apply off a terminal without --yes: exit %d\n%s", r.code, r.stderr)
	}
	// One apply at a time: another holding the lock is refused.
	lock, err := db.Conn(context.Background())
	must(t, err)
	var got int
	must(t, lock.QueryRowContext(context.Background(), "SELECT GET_LOCK('devstack.target-apply', 0)").Scan(&got))
	if r := tr.run("apply", "staging", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "another devstack target apply") || checksum(t, db) != before {
		t.Errorf("apply while another holds the lock: exit %d\n%s", r.code, r.stderr)
	}
	_, err = lock.ExecContext(context.Background(), "DO RELEASE_LOCK('devstack.target-apply')")
	must(t, err)
	lock.Close()

	// Apply, then plan: nothing to do; verify: clean.
	secrets := filepath.Join(t.TempDir(), "secrets")
	r := tr.run("apply", "staging", "--yes", "--secrets-file", secrets, "-o", "json")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "target-apply", r.stdout, map[string]string{secrets: "<secrets-file>"}, "plan")
	st, err := os.Stat(secrets)
	must(t, err)
	data, _ := os.ReadFile(secrets)
	if st.Mode().Perm() != 0o600 || strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(data))) {
		t.Errorf("the generated password: file mode %v, or it was shown", st.Mode().Perm())
	}
	app := setup.OpenMySQL("127.0.0.1", port, setup.AppUser, strings.TrimSpace(string(data)), "MCP")
	defer app.Close()
	var key string
	if err := app.QueryRow("SELECT k.`key` FROM tastypie_apikey k JOIN auth_user u ON u.id = k.user_id WHERE u.username = 'admin'").Scan(&key); err != nil || key != "devstack-dashboard-admin-api-key" {
		t.Errorf("the app user reads the seeded admin's API key: %q, %v", key, err)
	}
	if p, code := tr.plan("staging"); code != 0 || p.Changes != 0 {
		t.Errorf("plan after apply: exit %d, %+v", code, p)
	}
	if rep, code := tr.verify("staging"); code != 0 || !rep.Clean {
		t.Errorf("verify after apply: exit %d, %+v", code, rep)
	}
	// The folder stands in for the share every Archivematica container
	// mounts: one sees the configurations, owned as the target says.
	seen := docker(t, "run", "--rm", "-v", shared+":/var/archivematica/sharedDirectory:ro", "--entrypoint", "stat", mysqlImage(),
		"-c", "%u:%g %a %n", "/var/archivematica/sharedDirectory/"+seed.ProcessingDir, "/var/archivematica/sharedDirectory/"+seed.ProcessingDir+"/defaultProcessingMCP.xml")
	if !strings.Contains(seen, "333:333 770 /var/archivematica/sharedDirectory/"+seed.ProcessingDir+"\n") || !strings.Contains(seen, "333:333 660 ") {
		t.Errorf("what a container sees of the shared directory:\n%s", seen)
	}

	// Drift: a setting changed, a processing configuration deleted, a
	// folder's mode changed. Verify names each; apply mends them.
	_, err = db.Exec("UPDATE MCP.DashboardSettings SET value = 'http://elsewhere:8000' WHERE name = 'storage_service_url'")
	must(t, err)
	must(t, os.Remove(filepath.Join(shared, seed.ProcessingDir, "automatedProcessingMCP.xml")))
	must(t, os.Chmod(filepath.Join(shared, "watchedDirectories"), 0o755))
	rep, code := tr.verify("staging")
	text := mustMarshal(t, rep)
	if code != 1 || rep.Clean || len(rep.Drift) != 3 || !strings.Contains(string(text), "storage_service_url") || !strings.Contains(string(text), "automatedProcessingMCP.xml") || !strings.Contains(string(text), "watchedDirectories") {
		t.Errorf("verify after drift: exit %d, %s", code, text)
	}
	golden(t, "target-verify", tr.run("verify", "staging", "-o", "json").stdout, nil, "server")
	if out := tr.run("verify", "staging"); out.code != 1 || !strings.Contains(out.stdout, "3 items drifted") {
		t.Errorf("verify for people: exit %d\n%s", out.code, out.stdout)
	}
	if r := tr.run("apply", "staging", "--yes"); r.code != 0 {
		t.Fatalf("apply after drift: exit %d\n%s", r.code, r.stderr)
	}
	if rep, code := tr.verify("staging"); code != 0 || !rep.Clean {
		t.Errorf("verify after the mend: exit %d, %+v", code, rep)
	}

	// An older schema (a migration missing) is refused, and nothing written.
	_, err = db.Exec("DELETE FROM MCP.django_migrations WHERE app = 'main' ORDER BY id DESC LIMIT 1")
	must(t, err)
	_, err = db.Exec("UPDATE MCP.DashboardSettings SET value = 'http://drifted:8000' WHERE name = 'storage_service_url'")
	must(t, err)
	mid := checksum(t, db)
	p, code = tr.plan("staging")
	if code != 1 || !strings.Contains(p.Refused, "older") || !strings.Contains(p.Refused, "main.") {
		t.Errorf("plan on an older schema: exit %d, refused %q", code, p.Refused)
	}
	if r := tr.run("apply", "staging", "--yes"); r.code != 2 || !strings.Contains(r.stderr, "older") || checksum(t, db) != mid {
		t.Errorf("apply on an older schema: exit %d (want 2, nothing written)\n%s", r.code, r.stderr)
	}
}

// RDS requires TLS: a server that accepts only TLS connections, with a
// certificate for 127.0.0.1 from a CA of the test's own, is planned over
// TLS with that CA, and refused without it or with another CA. The target
// is given by flags alone.
func TestTargetOverTLS(t *testing.T) {
	t.Parallel()
	integration(t)
	certs := t.TempDir()
	ca := writeCerts(t, certs, "server")
	other := writeCerts(t, t.TempDir(), "")
	const password = "Target-Admin-2"
	port := plainContainer(t, mysqlImage(), 3306, []string{"-e", "MYSQL_ROOT_PASSWORD=" + password, "-v", certs + ":/certs:ro"},
		"--ssl-ca=/certs/ca.pem", "--ssl-cert=/certs/server.pem", "--ssl-key=/certs/server-key.pem", "--require-secure-transport=ON")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(pem)
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = "root", password, "tcp", "127.0.0.1:"+strconv.Itoa(port)
	c.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	conn, err := mysql.NewConnector(c)
	must(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	awaitMySQL(t, db, "the TLS-only server")
	flags := []string{"plan", "lab", "-o", "json", "--mysql-host", "127.0.0.1", "--mysql-port", strconv.Itoa(port), "--mysql-user", "root",
		"--mysql-password-env", "LAB_PASSWORD", "--shared-path", t.TempDir()}
	tr := targetRun{t: t, config: "/dev/null", env: []string{"LAB_PASSWORD=" + password}}
	r := tr.run(append(flags, "--mysql-ca", ca)...)
	var p target.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); r.code != 1 || err != nil || p.Server == "" || p.Changes == 0 {
		t.Errorf("plan over TLS with the server's CA: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if r := tr.run(flags...); r.code != 1 || !strings.Contains(r.stderr, "target lab") || !strings.Contains(r.stderr, "insecure transport") && !strings.Contains(r.stderr, "set mysql.tls") {
		t.Errorf("plan without TLS to a TLS-only server: exit %d\n%s", r.code, r.stderr)
	}
	if r := tr.run(append(flags, "--mysql-tls", "--mysql-ca", other)...); r.code != 1 || !strings.Contains(r.stderr, "certificate") {
		t.Errorf("plan over TLS with another CA: exit %d\n%s", r.code, r.stderr)
	}
}

// writeCerts writes a new CA as ca.pem to dir, and when server is set, a
// server certificate it signs for 127.0.0.1 with its key, readable by the
// server's user in a container. It returns the CA's file.
func writeCerts(t *testing.T, dir, server string) string {
	t.Helper()
	write := func(name, kind string, der []byte) {
		must(t, os.WriteFile(filepath.Join(dir, name), pemlib.EncodeToMemory(&pemlib.Block{Type: kind, Bytes: der}), 0o644))
	}
	key := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		must(t, err)
		return k
	}
	now := time.Now()
	caKey := key()
	caCert := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "devstack test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, caCert, caCert, &caKey.PublicKey, caKey)
	must(t, err)
	write("ca.pem", "CERTIFICATE", der)
	if server != "" {
		k := key()
		cert := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
		der, err := x509.CreateCertificate(rand.Reader, cert, caCert, &k.PublicKey, caKey)
		must(t, err)
		write(server+".pem", "CERTIFICATE", der)
		write(server+"-key.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
	}
	return filepath.Join(dir, "ca.pem")
}

func redisImage() string {
	if v := os.Getenv("DEVSTACK_REDIS_IMAGE"); v != "" {
		return v
	}
	return "redis:7.2"
}
