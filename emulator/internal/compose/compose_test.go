package compose

import (
	"regexp"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/converge"
	"github.com/wellcomecollection/devstack/emulator/internal/observe"
	"github.com/wellcomecollection/devstack/emulator/internal/seeding"
	"github.com/wellcomecollection/devstack/emulator/internal/stack"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
	"go.yaml.in/yaml/v3"
)

func TestComposeCarriesUpsHashesAndVariables(t *testing.T) {
	cfg := config.DefaultConfig()
	out, err := File(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Labels map[string]string
		}
	}
	if err := yaml.Unmarshal(out, &f); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	fx, err := seeding.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := &observe.Observed{Names: stack.NamesFor(cfg.Project)}
	p, err := converge.PlanUp(converge.PlanInput{Config: cfg, Observed: o, Tree: seeding.SharedTree(cfg, fx).Digest(), FreePort: stacktest.Ports()})
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range stack.Roles(cfg) {
		if got, want := f.Services[role].Labels[stack.LabelConfigHash], p.Specs[role].Labels[stack.LabelConfigHash]; got != want {
			t.Errorf("%s: compose hash %s, up's %s", role, got, want)
		}
	}
	text := string(out)
	for _, v := range []string{"${DEVSTACK_PROJECT:-archivematica}", "${DEVSTACK_MYSQL_IMAGE:-mysql:8.0}", "${DEVSTACK_MYSQL_PORT:-63306}",
		"${DEVSTACK_MYSQL_ROOT_PASSWORD:-devstack-root}", "${DEVSTACK_REDIS_PASSWORD:-}", "${DEVSTACK_SHARED_UID:-1000}"} {
		if !strings.Contains(text, v) {
			t.Errorf("no %s", v)
		}
	}
	// Every other $ is escaped, or compose would substitute it.
	if bare := regexp.MustCompile(`\$[^{$]|\$\{[^D]`).FindString(strings.ReplaceAll(text, "$$", "")); bare != "" {
		t.Errorf("an unescaped %q", bare)
	}
}

func TestComposeRefusesPickedPorts(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Redis.Port = 0
	if _, err := File(cfg); fault.ExitCode(err) != fault.ExitUsage || !strings.Contains(err.Error(), "DEVSTACK_REDIS_PORT") {
		t.Errorf("port 0: %v", err)
	}
}

// gearmand is in the compose file when the configuration enables it, with
// its image and port from the variables and up's config hash.
func TestComposeHasGearmandWhenEnabled(t *testing.T) {
	cfg := config.DefaultConfig()
	out, err := File(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "gearmand:") {
		t.Error("gearmand in the default compose file")
	}
	cfg.Gearmand.Enabled = true
	if out, err = File(cfg); err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image  string
			Labels map[string]string
		}
	}
	if err := yaml.Unmarshal(out, &f); err != nil {
		t.Fatal(err)
	}
	g := f.Services[config.ServiceGearmand]
	want := stack.SpecHash(stack.Blueprint{Config: cfg, Pinned: composeDefaults, Tree: "x"}.Parameterised(stack.Bare)[config.ServiceGearmand])
	if g.Image != "${DEVSTACK_GEARMAND_IMAGE:-"+cfg.Gearmand.Image+"}" || g.Labels[stack.LabelConfigHash] != want || !strings.Contains(string(out), "${DEVSTACK_GEARMAND_PORT:-64730}") {
		t.Errorf("gearmand: %+v (hash want %s)", g, want)
	}
}
