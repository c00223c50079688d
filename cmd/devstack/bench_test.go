package main

// `make bench`: devstack against its baseline, on each MySQL flavour the
// machine has, measured in one run. The baseline is what devstack replaces:
// `docker compose up --wait` on the same images (health checks every 200
// ms), then the bootstrap Archivematica's hack/ does with the mysql client
// (databases, app user) plus the schema devstack loads. Each figure is
// measured several times (BENCH_RUNS, default 5); the report gives the
// median, the spread (min-max) and the median's ratio to the baseline's, as
// a table and as JSON (BENCH_JSON names a file for it). Snapshot save and
// restore are measured on a stack holding a few thousand rows and a 50 MB
// shared directory, against an `up` after `down` of that stack in the same
// run: their ratio to it is what the snapshot targets are about (restore at
// most 1.5 times, save 2.5 times).

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/devstacktest"
)

// figure is one measured quantity.
type figure struct {
	Flavour string    `json:"flavour"`
	Name    string    `json:"name"`
	Unit    string    `json:"unit"` // "s" or "MB"
	Samples []float64 `json:"samples"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	// Ratio is the median over the baseline's median (durations only).
	Ratio float64 `json:"ratio_to_baseline,omitempty"`
	// RatioToUp is the median over the median of the loaded stack's `up`
	// after `down` in the same run (snapshot figures only).
	RatioToUp float64 `json:"ratio_to_up_after_down,omitempty"`
}

func (f *figure) summarise(baseline float64) {
	s := slices.Clone(f.Samples)
	slices.Sort(s)
	f.Median, f.Min, f.Max = s[len(s)/2], s[0], s[len(s)-1]
	if f.Unit == "s" && baseline > 0 {
		f.Ratio = f.Median / baseline
	}
}

func benchRuns() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 5
}

// timed runs f and returns how long it took, failing the benchmark on error.
// The disks are synced first: each figure times its own work, not the
// write-back of the step before (a cold up's 130 MB template copy is
// still being written out during the down and up that follow it).
func timed(b *testing.B, f func() error) float64 {
	b.Helper()
	syscall.Sync()
	t0 := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	return time.Since(t0).Seconds()
}

// cli runs devstack with env for project and returns its output, or an
// error with it when it fails.
func cli(env []string, project string, args ...string) (string, error) {
	cmd := exec.Command(binary, append([]string{"-p", project}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("devstack %v: %v\n%s", args, err, out)
	}
	return string(out), nil
}

// step is cli for the timings, which need only the error.
func step(env []string, project string, args ...string) func() error {
	return func() error { _, err := cli(env, project, args...); return err }
}

func BenchmarkStack(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark: -short skips it; make bench starts Docker and runs it")
	}
	if out, err := exec.Command("../../scripts/compose.sh").CombinedOutput(); err != nil {
		b.Fatalf("docker compose: %v\n%s", err, out)
	}
	var all []figure
	for b.Loop() {
		for _, fl := range benchFlavours(b) {
			all = append(all, benchFlavour(b, fl[0], fl[1])...)
		}
	}
	report(b, all)
}

// benchFlavours are the MySQL images measured, by flavour: the configured
// one (default), Oracle MySQL beside it, the stand-ins that carry the
// official images' defaults instead of tuning (mariadb-plain, mysql-plain),
// and Oracle MySQL shaped like Oracle's mysql/mysql-server image
// (mysql-server), those the machine has. BENCH_FLAVOURS=a,b picks some.
func benchFlavours(b *testing.B) [][2]string {
	var out [][2]string
	pick := os.Getenv("BENCH_FLAVOURS")
	for _, fl := range [][2]string{
		{"default", "DEVSTACK_MYSQL_IMAGE"}, {"mysql", "DEVSTACK_MYSQL_ORACLE_IMAGE"},
		{"mariadb-plain", "DEVSTACK_MARIADB_PLAIN_IMAGE"}, {"mysql-plain", "DEVSTACK_MYSQL_PLAIN_IMAGE"},
		{"mysql-server", "DEVSTACK_MYSQL_SERVER_IMAGE"},
	} {
		img := os.Getenv(fl[1])
		if img != "" && (pick == "" || slices.Contains(strings.Split(pick, ","), fl[0])) {
			out = append(out, [2]string{fl[0], img})
		}
	}
	if len(out) == 0 {
		b.Fatal("no MySQL image to measure: DEVSTACK_MYSQL_IMAGE (make bench sets it) or BENCH_FLAVOURS")
	}
	return out
}

// benchFlavour measures every figure with one MySQL image.
func benchFlavour(b *testing.B, flavour, image string) []figure {
	runs := benchRuns()
	redisImage := os.Getenv("DEVSTACK_REDIS_IMAGE")
	if image == "" || redisImage == "" {
		b.Fatal("DEVSTACK_MYSQL_IMAGE and DEVSTACK_REDIS_IMAGE choose the images (make bench sets them)")
	}
	fixtures := benchFixtures(b)
	envWith := func(fixtures string) []string {
		return []string{"DEVSTACK_MYSQL_IMAGE=" + image, "DEVSTACK_REDIS_IMAGE=" + redisImage, "DEVSTACK_FIXTURES=" + fixtures,
			"DEVSTACK_MYSQL_PORT=0", "DEVSTACK_REDIS_PORT=0"}
	}
	env := envWith(fixtures)
	fig := func(name, unit string) *figure { return &figure{Flavour: flavour, Name: name, Unit: unit} }
	baseline := fig("compose baseline: up --wait, bootstrap, schema", "s")
	noTemplate := fig("cold up, no template yet (making it included)", "s")
	withTemplate := fig("cold up, template present", "s")
	warm := fig("warm up", "s")
	afterDown := fig("up after down", "s")
	down := fig("down", "s")
	reset := fig("reset (seeded and app-data tables changed)", "s")
	start := fig("harness Start", "s")
	hreset := fig("harness Reset", "s")
	memory := fig("idle stack memory", "MB")
	// Where a cold up from a template spends its time: the steps' own
	// timings, as its progress lines give them.
	steps := map[string]*figure{}
	for _, s := range coldUpSteps {
		steps[s.name] = fig("  cold up step: "+s.name, "s")
	}
	loadedUp := fig("up after down, loaded (3000 rows, 50 MB shared)", "s")
	save := fig("snapshot save, loaded", "s")
	restore := fig("snapshot restore, loaded", "s")

	// Each flavour's stacks, the harness's too, go when it is measured: idle
	// stacks left running would slow the flavours measured after it.
	var projects []string
	defer func() {
		for _, p := range projects {
			_ = step(nil, p, "down", "--volumes", "--yes")()
			_ = step(nil, p, "snapshot", "rm", "bench")()
		}
	}()
	project := func() string {
		p := config.EphemeralProject("bench")
		projects = append(projects, p)
		return p
	}
	for range runs {
		baseline.Samples = append(baseline.Samples, composeBaseline(b, image, redisImage))

		// A fixture set of its own: no template exists for it yet.
		p := project()
		var out string
		noTemplate.Samples = append(noTemplate.Samples, timed(b, func() (err error) { out, err = cli(envWith(benchFixtures(b)), p, "up"); return err }))
		_ = step(nil, p, "down", "--volumes", "--yes")()
		for _, m := range madeTemplate.FindAllStringSubmatch(out, -1) {
			_ = exec.Command("docker", "volume", "rm", m[1]).Run()
		}
	}
	// The template of the bench's fixtures, made before the timings.
	warmup := project()
	out, err := cli(env, warmup, "up")
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range madeTemplate.FindAllStringSubmatch(out, -1) {
		b.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", m[1]).Run() })
	}
	for range runs {
		p := project()
		var out string
		withTemplate.Samples = append(withTemplate.Samples, timed(b, func() (err error) { out, err = cli(env, p, "up"); return err }))
		for _, s := range coldUpSteps {
			steps[s.name].Samples = append(steps[s.name].Samples, s.took(b, out))
		}
		warm.Samples = append(warm.Samples, timed(b, step(env, p, "up")))
		down.Samples = append(down.Samples, timed(b, step(env, p, "down")))
		afterDown.Samples = append(afterDown.Samples, timed(b, step(env, p, "up")))
		changeSeededAndAppTables(b, p)
		reset.Samples = append(reset.Samples, timed(b, step(env, p, "reset")))
		if len(memory.Samples) == 0 {
			time.Sleep(5 * time.Second) // idle
		}
		memory.Samples = append(memory.Samples, stackMemory(b, p))

		loadStack(b, p)
		if err := step(env, p, "down")(); err != nil {
			b.Fatal(err)
		}
		loadedUp.Samples = append(loadedUp.Samples, timed(b, step(env, p, "up")))
		save.Samples = append(save.Samples, timed(b, step(env, p, "snapshot", "save", "bench")))
		changeSeededAndAppTables(b, p)
		restore.Samples = append(restore.Samples, timed(b, step(env, p, "snapshot", "restore", "bench", "--yes")))
		_ = step(nil, p, "snapshot", "rm", "bench")()
		_ = step(nil, p, "down", "--volumes", "--yes")()
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	for range runs {
		var s *devstacktest.Stack
		start.Samples = append(start.Samples, timed(b, func() error { s = devstacktest.Start(b); return nil }))
		projects = append(projects, s.Env()["DEVSTACK_PROJECT"])
		db := s.MySQL(b, "MCP")
		for range 3 {
			if _, err := db.Exec("INSERT INTO Accesses (SIPUUID, resource, target, status, createdTime, updatedTime) VALUES (UUID(), 'r', 't', 's', NOW(), NOW())"); err != nil {
				b.Fatal(err)
			}
			hreset.Samples = append(hreset.Samples, timed(b, func() error { s.Reset(b); return nil }))
		}
	}
	figs := []*figure{baseline, noTemplate, withTemplate}
	for _, s := range coldUpSteps {
		figs = append(figs, steps[s.name])
	}
	figs = append(figs, warm, afterDown, down, reset, start, hreset, memory, loadedUp, save, restore)
	summary := make([]figure, len(figs))
	baseline.summarise(0)
	for i, f := range figs {
		f.summarise(baseline.Median)
		if f == save || f == restore {
			f.RatioToUp = f.Median / loadedUp.Median
		}
		summary[i] = *f
	}
	return summary
}

// coldUpSteps are the parts of a cold up from a template that its progress
// lines time: the copy, then MySQL's container until the server answers
// root; Redis and the helper beside them.
var coldUpSteps = []coldUpStep{
	{"copy the template (mysql)", regexp.MustCompile(`mysql: copied the template in ([0-9.]+)s`)},
	{"container until the server answers (mysql)", regexp.MustCompile(`mysql: server answered in ([0-9.]+)s`)},
	{"all of mysql: copy, server, set-up, seed", regexp.MustCompile(`mysql: ready in ([0-9.]+)s`)},
	{"redis: container until PING", regexp.MustCompile(`redis: ready in ([0-9.]+)s`)},
	{"helper: container", regexp.MustCompile(`helper: ready in ([0-9.]+)s`)},
}

type coldUpStep struct {
	name string
	line *regexp.Regexp
}

func (s coldUpStep) took(b *testing.B, progress string) float64 {
	m := s.line.FindStringSubmatch(progress)
	if m == nil {
		b.Fatalf("no line %q in the cold up's progress:\n%s", s.line, progress)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// benchFixtures is a fixtures directory whose seed is the default's but for
// one setting that makes it the benchmark's own: its own template.
func benchFixtures(b *testing.B) string {
	dir := b.TempDir()
	data, err := os.ReadFile("../../fixtures/settings.yaml")
	if err != nil {
		b.Fatal(err)
	}
	site := "site_url: http://" + config.EphemeralProject("bench") + ".test"
	if err := os.WriteFile(filepath.Join(dir, "settings.yaml"), []byte(strings.Replace(string(data), "site_url: http://127.0.0.1:62080", site, 1)), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// changeSeededAndAppTables does what a test does: app rows in, a seeded
// row changed.
func changeSeededAndAppTables(b *testing.B, project string) {
	benchSQL(b, project, "INSERT INTO Accesses (SIPUUID, resource, target, status, createdTime, updatedTime) VALUES (UUID(), 'r', 't', 's', NOW(), NOW()); UPDATE auth_user SET email = 'changed@example.org'")
}

// loadStack gives a stack what the snapshot figures are measured on: 3000
// app rows and a 50 MB file in the shared directory.
func loadStack(b *testing.B, project string) {
	benchSQL(b, project, "INSERT INTO Accesses (SIPUUID, resource, target, status, createdTime, updatedTime) SELECT UUID(), 'r', 't', 's', NOW(), NOW() FROM information_schema.columns a, information_schema.columns b LIMIT 3000")
	fill := "head -c 52428800 /dev/urandom >" + emulator.SharedDir + "/currentlyProcessing/bench.bin"
	if out, err := exec.Command("docker", "exec", "devstack-"+project+"-helper", "sh", "-c", fill).CombinedOutput(); err != nil {
		b.Fatalf("fill the shared directory: %v\n%s", err, out)
	}
}

// benchSQL runs statements in MCP as root with the mysql client.
func benchSQL(b *testing.B, project, statements string) {
	var env map[string]string
	out, err := exec.Command(binary, "-p", project, "env", "--format", "json").Output()
	if err == nil {
		err = json.Unmarshal(out, &env)
	}
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("mysql", "-h"+env["MYSQL_HOST"], "-P"+env["MYSQL_PORT"], "-uroot", "MCP", "-e", statements)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+env["MYSQL_ROOT_PASSWORD"])
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", statements, err, out)
	}
}

// stackMemory sums what docker stats says the stack's containers use, in MB.
func stackMemory(b *testing.B, project string) float64 {
	names, err := exec.Command("docker", "ps", "-q", "--filter", "label="+emulator.LabelProject+"="+project).Output()
	if err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command("docker", append([]string{"stats", "--no-stream", "--format", "{{.MemUsage}}"}, strings.Fields(string(names))...)...).Output()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		used, _, _ := strings.Cut(line, " / ")
		total += parseMegabytes(strings.TrimSpace(used))
	}
	return total
}

// parseMegabytes reads a size as docker stats prints it.
func parseMegabytes(s string) float64 {
	for unit, factor := range map[string]float64{"GiB": 1024 * 1.048576, "MiB": 1.048576, "KiB": 1.024 / 1000, "kB": 0.001, "MB": 1, "GB": 1000, "B": 1e-6} {
		if v, ok := strings.CutSuffix(s, unit); ok {
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return n * factor
			}
		}
	}
	return 0
}

// composeBaseline times `docker compose up --wait` and the hack-style
// bootstrap with the mysql client in the MySQL container, then removes it.
func composeBaseline(b *testing.B, mysqlImage, redisImage string) float64 {
	dir := b.TempDir()
	project := config.EphemeralProject("baseline")
	compose := fmt.Sprintf(`services:
  mysql:
    image: %s
    environment: {MYSQL_ROOT_PASSWORD: "12345"}
    ports: ["127.0.0.1::3306"]
    volumes: [mysql-data:/var/lib/mysql]
    healthcheck: {test: ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--silent"], interval: 200ms, timeout: 5s, retries: 300}
  redis:
    image: %s
    command: ["redis-server", "--appendonly", "yes"]
    ports: ["127.0.0.1::6379"]
    volumes: [redis-data:/data]
    healthcheck: {test: ["CMD", "redis-cli", "ping"], interval: 200ms, timeout: 5s, retries: 300}
volumes:
  mysql-data: {}
  redis-data: {}
`, mysqlImage, redisImage)
	if err := os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(compose), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(stdin string, args ...string) error {
		cmd := exec.Command("docker", append([]string{"compose", "-p", project, "-f", filepath.Join(dir, "compose.yml")}, args...)...)
		if stdin != "" {
			f, err := os.Open(stdin)
			if err != nil {
				return err
			}
			defer f.Close()
			cmd.Stdin = f
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker compose %v: %v\n%s", args, err, out)
		}
		return nil
	}
	defer func() { _ = run("", "down", "--volumes") }()
	mysql := []string{"exec", "-T", "mysql", "mysql", "-uroot", "-p12345"}
	return timed(b, func() error {
		if err := run("", "up", "--wait", "--quiet-pull"); err != nil {
			return err
		}
		bootstrap := "CREATE DATABASE MCP CHARACTER SET utf8mb4; CREATE DATABASE SS CHARACTER SET utf8mb4; " +
			"CREATE USER 'archivematica'@'%' IDENTIFIED BY 'demo'; GRANT ALL ON MCP.* TO 'archivematica'@'%'; GRANT ALL ON SS.* TO 'archivematica'@'%';"
		if err := run("", append(mysql, "-e", bootstrap)...); err != nil {
			return err
		}
		for _, d := range []string{"MCP", "SS"} {
			if err := run("../../fixtures/schema/"+d+".sql", append(mysql, d)...); err != nil {
				return err
			}
		}
		return nil
	})
}

// report prints the table and the JSON document.
func report(b *testing.B, figs []figure) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nFLAVOUR\tFIGURE\tMEDIAN\tSPREAD (MIN-MAX)\tRATIO TO BASELINE\tRATIO TO UP AFTER DOWN")
	for _, f := range figs {
		ratio, toUp := "", ""
		if f.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", f.Ratio)
		}
		if f.RatioToUp > 0 {
			toUp = fmt.Sprintf("%.2f×", f.RatioToUp)
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f %s\t%.2f-%.2f\t%s\t%s\n", f.Flavour, f.Name, f.Median, f.Unit, f.Min, f.Max, ratio, toUp)
	}
	w.Flush()
	doc, _ := json.MarshalIndent(map[string]any{"runs": benchRuns(), "figures": figs}, "", "  ")
	if path := os.Getenv("BENCH_JSON"); path != "" {
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			b.Error(err)
		}
	}
	fmt.Println(string(doc))
}
