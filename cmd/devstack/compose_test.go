package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
)

// compose/docker-compose.yml is `devstack compose` for the default config.
func TestComposeFileIsInSync(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "DEVSTACK_") {
			t.Setenv(name, "") // the config reads "" as unset
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"compose"}, nil, &out, &errb); code != 0 {
		t.Fatalf("devstack compose: exit %d: %s", code, errb.String())
	}
	committed, err := os.ReadFile("../../compose/docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), committed) {
		t.Fatal("compose/docker-compose.yml is not `devstack compose` for the default config: run `make compose`")
	}
}

func TestComposeConfigAcceptsBothFiles(t *testing.T) {
	integration(t)
	for _, files := range [][]string{{"docker-compose.yml"}, {"docker-compose.yml", "archivematica.yml"}} {
		var args []string
		for _, f := range files {
			args = append(args, "-f", composeFile(t, f))
		}
		if out, err := dockerCompose(t, nil, append(args, "config", "-q")...); err != nil {
			t.Errorf("docker compose config %v: %v\n%s", files, err, out)
		}
	}
}

// archivematicaNames are the ARCHIVEMATICA_* variables Archivematica's
// settings read (testdata/archivematica-env.txt says where they come from).
func archivematicaNames(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("testdata/archivematica-env.txt")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			names[l] = true
		}
	}
	return names
}

var archivematicaVariable = regexp.MustCompile(`ARCHIVEMATICA_[A-Z0-9_]+`)

// The overlay sets only variables Archivematica reads: a misspelt one would
// be ignored without a word.
func TestArchivematicaOverlayUsesArchivematicasVariables(t *testing.T) {
	known := archivematicaNames(t)
	data, err := os.ReadFile(composeFile(t, "archivematica.yml"))
	if err != nil {
		t.Fatal(err)
	}
	used := archivematicaVariable.FindAllString(string(data), -1)
	if len(used) < 5 {
		t.Fatalf("the overlay sets %d ARCHIVEMATICA_* variables", len(used))
	}
	for _, n := range used {
		if !known[n] {
			t.Errorf("Archivematica does not read %s", n)
		}
	}
}

// docker compose up --wait on compose/docker-compose.yml makes devstack's
// own stack: seeded as up seeds (same tables, same files), with the
// containers up makes, and up finds nothing to do.
func TestComposeStackIsDevstacks(t *testing.T) {
	t.Parallel()
	c := composeStack(t)

	// The databases and users, Django's hashes, configs and folders.
	env := c.envMap()
	if env["MYSQL_PASSWORD"] != "devstack" || env["MYSQL_ROOT_PASSWORD"] != "devstack-root" {
		t.Errorf("env of the compose stack: %v", env)
	}
	// What the overlay takes from env --network, Archivematica reads.
	known := archivematicaNames(t)
	for name := range env {
		if archivematicaVariable.MatchString(name) && !known[name] {
			t.Errorf("env gives %s, which Archivematica does not read", name)
		}
	}
	for _, db := range []string{"MCP", "SS"} {
		var n int
		if err := c.mysql(db).QueryRow("SELECT COUNT(*) FROM auth_user WHERE username = 'admin' AND is_superuser").Scan(&n); err != nil || n != 1 {
			t.Errorf("%s as the app user: %d admins, %v", db, n, err)
		}
		for _, hash := range queryStrings(t, c.root(), "SELECT password FROM "+db+".auth_user") {
			if !checkDjangoPassword(t, "archivematica", hash) {
				t.Errorf("Django refuses %s's admin hash %s", db, hash)
			}
		}
	}
	if names := c.helper("ls", processingDir); !sameSet(names, "automatedProcessingMCP.xml b_dig_accessionsProcessingMCP.xml born_digitalProcessingMCP.xml defaultProcessingMCP.xml") {
		t.Errorf("processing configs: %s", names)
	}
	if got := c.helper("stat", "-c", "%a %u:%g", emulator.SharedDir+"/watchedDirectories/activeTransfers/standardTransfer", processingDir+"/defaultProcessingMCP.xml"); got != "770 1000:1000\n660 1000:1000" {
		t.Errorf("owner and mode: %q", got)
	}

	// up creates and starts nothing; status and env read it.
	before := started(t, c.project)
	up := c.mustRun("up")
	if after := started(t, c.project); after != before {
		t.Errorf("up changed containers:\n%s\n%s", before, after)
	}
	if strings.Contains(up.stderr, "creating") || strings.Contains(up.stderr, "starting") || strings.Contains(up.stderr, "seeded") {
		t.Errorf("up on the compose stack did work:\n%s", up.stderr)
	}
	if st := c.status(); st.State != emulator.StateRunning {
		t.Errorf("status: %+v", st)
	}

	// The stack devstack makes with the same pinned values holds the same
	// rows and files, and its containers are made alike.
	d := newStack(t, fmt.Sprintf("DEVSTACK_MYSQL_PORT=%d", freePort(t)), fmt.Sprintf("DEVSTACK_REDIS_PORT=%d", freePort(t)))
	labels := map[string]string{}
	must(t, json.Unmarshal([]byte(docker(t, "volume", "inspect", "-f", "{{json .Labels}}", "devstack-"+c.project+"-mysql-data")), &labels))
	labels[emulator.LabelProject] = d.project
	args := []string{"volume", "create"}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	docker(t, append(args, "devstack-"+d.project+"-mysql-data")...)
	d.mustRun("up")
	if diff := diffState(c.state(), d.state()); len(diff) > 0 {
		t.Errorf("the compose stack's data differs from devstack's:\n%s", strings.Join(diff, "\n"))
	}
	// Their servers start alike but for how: compose gives the image's
	// entrypoint devstack's options, devstack starts the server directly
	// where it has seen that entrypoint do so.
	for _, role := range []string{"mysql", "redis", "helper"} {
		a, b := containerShape(t, "devstack-"+c.project+"-"+role, role == "mysql"), containerShape(t, "devstack-"+d.project+"-"+role, role == "mysql")
		if a != b {
			t.Errorf("%s: compose made\n%s\ndevstack made\n%s", role, a, b)
		}
	}
}

// containerShape is what a container is made from, but its name, project,
// host ports and the labels each tool adds; but its command too with
// anyStart.
func containerShape(t *testing.T, name string, anyStart bool) string {
	t.Helper()
	var c []struct {
		Config struct {
			Image, StopSignal string
			Entrypoint, Cmd   []string
			Env               []string
			Healthcheck       any
			Labels            map[string]string
		}
		HostConfig struct {
			RestartPolicy any
			Tmpfs         map[string]string
			PortBindings  map[string][]struct{ HostIp string }
		}
		Mounts []struct{ Type, Name, Destination string }
	}
	must(t, json.Unmarshal([]byte(docker(t, "inspect", name)), &c))
	x := c[0]
	slices.Sort(x.Config.Env)
	var mounts []string
	for _, m := range x.Mounts {
		mounts = append(mounts, m.Type+":"+strings.TrimPrefix(m.Name, name[:strings.LastIndex(name, "-")])+":"+m.Destination)
	}
	slices.Sort(mounts)
	if anyStart {
		x.Config.Entrypoint, x.Config.Cmd = nil, nil
	}
	var ports []string
	for p, bs := range x.HostConfig.PortBindings {
		for _, b := range bs {
			ports = append(ports, p+"@"+b.HostIp)
		}
	}
	shape, _ := json.MarshalIndent(map[string]any{
		"image": x.Config.Image, "entrypoint": x.Config.Entrypoint, "cmd": x.Config.Cmd, "env": x.Config.Env,
		"healthcheck": x.Config.Healthcheck, "stop": x.Config.StopSignal, "restart": x.HostConfig.RestartPolicy, "tmpfs": x.HostConfig.Tmpfs,
		"mounts": mounts, "ports": ports, "hash": x.Config.Labels[emulator.LabelConfigHash], "service": x.Config.Labels[emulator.LabelService],
	}, "", " ")
	return string(shape)
}
