package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator"
)

// otherImages are MySQL images that speak the official images' interface
// but are built otherwise inside (images/mariadb-runtime, mysql-server,
// mariadb-nonroot): DEVSTACK_OTHER_IMAGES, space-separated. make test runs
// one of them, make test-images all.
func otherImages(t *testing.T) []string {
	t.Helper()
	integration(t)
	images := strings.Fields(os.Getenv("DEVSTACK_OTHER_IMAGES"))
	if len(images) == 0 {
		t.Fatal("DEVSTACK_OTHER_IMAGES names no image: run the tests with make test (scripts/images.sh builds them)")
	}
	return images
}

// TestOtherImages runs the lifecycle on images unlike devstack's stand-ins,
// as their makers meant them to run: a first cold up (the stack's first
// server run by the image's own entrypoint, and made a template), data written as the app user,
// down then up keeping it, reset, a cold up from the template, a snapshot
// saved and restored. Their servers start directly once devstack has
// watched the entrypoint.
func TestOtherImages(t *testing.T) {
	t.Parallel()
	for _, image := range otherImages(t) {
		t.Run(strings.Split(strings.TrimPrefix(image, "devstack-standin/"), ":")[0], func(t *testing.T) {
			t.Parallel()
			forgetImage(t, image)
			s := newStack(t, "DEVSTACK_MYSQL_IMAGE="+image)

			r := s.mustRun("up")
			if !strings.Contains(r.stderr, "making seeded template") {
				t.Errorf("the first cold up made no template:\n%s", r.stderr)
			}
			db := s.mysql("MCP")
			for _, q := range []string{"CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)", "INSERT INTO notes VALUES (1, 'kept')"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("as the app user: %s: %v", q, err)
				}
			}
			note := func(when string) {
				t.Helper()
				var body string
				if err := s.mysql("MCP").QueryRow("SELECT body FROM notes WHERE id = 1").Scan(&body); err != nil || body != "kept" {
					t.Errorf("%s: the app user's row: %q, %v", when, body, err)
				}
			}

			s.mustRun("down")
			if r := s.mustRun("up"); strings.Contains(r.stderr, "template") {
				t.Errorf("up after down touched a template:\n%s", r.stderr)
			}
			note("after down and up")
			// The first server was the entrypoint's, which devstack watched.
			if how := startOf(t, s); how != "direct" {
				t.Errorf("after down and up the server started by %q, want direct: %s", how, directStartOf(t, image))
			}

			root := s.root()
			if _, err := root.Exec("UPDATE MCP.DashboardSettings SET value = 'http://changed' WHERE name = 'site_url'"); err != nil {
				t.Fatal(err)
			}
			s.mustRun("reset")
			var site string
			if err := s.root().QueryRow("SELECT value FROM MCP.DashboardSettings WHERE name = 'site_url'").Scan(&site); err != nil || site == "http://changed" {
				t.Errorf("after reset site_url is %q (%v)", site, err)
			}
			note("after reset")

			s.mustRun("snapshot", "save", "kept")
			if _, err := s.mysql("MCP").Exec("UPDATE notes SET body = 'changed' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			s.mustRun("snapshot", "restore", "kept", "--yes")
			note("after snapshot restore")

			s.mustRun("down", "--volumes", "--yes")
			r = s.mustRun("up")
			if strings.Contains(r.stderr, "making seeded template") || !strings.Contains(r.stderr, "starting from seeded template") {
				t.Errorf("a cold up with the template there did not copy it:\n%s", r.stderr)
			}
			if st := s.status(); st.State != emulator.StateRunning {
				t.Errorf("after a cold up from the template: %+v", st)
			}
		})
	}
}

// startOf is how the stack's MySQL server was started.
func startOf(t *testing.T, s *stack) string {
	t.Helper()
	return docker(t, "inspect", "-f", `{{index .Config.Labels "`+emulator.LabelStart+`"}}`, "devstack-"+s.project+"-mysql")
}

// directStartOf is what devstack recorded of how image starts.
func directStartOf(t *testing.T, image string) string {
	t.Helper()
	id := docker(t, "image", "inspect", "-f", "{{.ID}}", image)
	var out []string
	for _, v := range strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label=io.devstack.direct-start-image-id="+id)) {
		out = append(out, docker(t, "volume", "inspect", "-f", `{{index .Labels "io.devstack.direct-start"}}`, v))
	}
	return strings.Join(out, "\n")
}

// forgetImage removes the templates devstack made of image, and what it saw
// of its entrypoint, so that the next up starts from nothing.
func forgetImage(t *testing.T, image string) {
	t.Helper()
	id := docker(t, "image", "inspect", "-f", "{{.ID}}", image)
	for _, label := range []string{"io.devstack.template-image-id", "io.devstack.direct-start-image-id"} {
		for _, v := range strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label="+label+"="+id)) {
			docker(t, "volume", "rm", v)
		}
	}
}

// A direct start that fails falls back to the image's entrypoint, once, says
// so, and is not tried again for that image. The image is the MySQL image
// under an ID of its own, which no other test shares.
func TestFailedDirectStartFallsBack(t *testing.T) {
	t.Parallel()
	image := testImage(t, "fallback", "LABEL io.devstack.test=fallback")
	forgetImage(t, image)
	s := newStack(t, "DEVSTACK_MYSQL_IMAGE="+image)
	s.mustRun("up")
	s.mustRun("down")
	id := docker(t, "image", "inspect", "-f", "{{.ID}}", image)
	vol := strings.Fields(docker(t, "volume", "ls", "-q", "--filter", "label=io.devstack.direct-start-image-id="+id))
	if len(vol) != 1 {
		t.Fatalf("direct starts recorded for %s: %v", image, vol)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(directStartOf(t, image)), &d); err != nil {
		t.Fatal(err)
	}
	// What devstack saw, with an option no server takes.
	d["argv"] = append(d["argv"].([]any), "--no-such-option-of-devstack")
	b, _ := json.Marshal(d)
	labels := docker(t, "volume", "inspect", "-f", `{{range $k, $v := .Labels}}{{$k}}{{"\n"}}{{end}}`, vol[0])
	args := []string{"volume", "create"}
	for _, k := range strings.Fields(labels) {
		v := docker(t, "volume", "inspect", "-f", `{{index .Labels "`+k+`"}}`, vol[0])
		if k == "io.devstack.direct-start" {
			v = string(b)
		}
		args = append(args, "--label", k+"="+v)
	}
	docker(t, "volume", "rm", vol[0])
	docker(t, append(args, vol[0])...)

	r := s.mustRun("up")
	if !strings.Contains(r.stderr, "directly failed") || !strings.Contains(r.stderr, "through the image's entrypoint") {
		t.Errorf("up after a failed direct start did not say it fell back:\n%s", r.stderr)
	}
	if how := startOf(t, s); how != "entrypoint" {
		t.Errorf("after the fallback the server started by %q", how)
	}
	if !strings.Contains(directStartOf(t, image), `"why":"a direct start failed`) {
		t.Errorf("the failed direct start is still recorded as one: %s", directStartOf(t, image))
	}
	s.mustRun("down")
	if r := s.mustRun("up"); strings.Contains(r.stderr, "directly failed") || startOf(t, s) != "entrypoint" {
		t.Errorf("the next up tried the direct start again:\n%s", r.stderr)
	}
	forgetImage(t, image)
}

// An image that makes root for localhost alone, whatever MYSQL_ROOT_HOST
// says, gets root for any host through the server's socket.
func TestRootForLocalhostAlone(t *testing.T) {
	t.Parallel()
	image := testImage(t, "localroot", `ENTRYPOINT ["sh", "-c", "MYSQL_ROOT_HOST=localhost exec docker-entrypoint.sh \"$@\"", "localroot"]`)
	forgetImage(t, image)
	s := newStack(t, "DEVSTACK_MYSQL_IMAGE="+image)
	if r := s.mustRun("up"); !strings.Contains(r.stderr, "root may log in from any host now") {
		t.Errorf("up did not say it gave root any host:\n%s", r.stderr)
	}
	if st := s.status(); st.State != emulator.StateRunning {
		t.Errorf("status: %+v", st)
	}
	forgetImage(t, image)
}
