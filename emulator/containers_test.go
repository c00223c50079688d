package emulator

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/wellcomecollection/devstack/emulator/internal/docker"
	"github.com/wellcomecollection/devstack/emulator/internal/docker/fake"
	"github.com/wellcomecollection/devstack/emulator/internal/engine"
	"github.com/wellcomecollection/devstack/emulator/internal/fault"
	"github.com/wellcomecollection/devstack/emulator/internal/stack/stacktest"
)

func TestLogsPrefixEachLineWhenSeveral(t *testing.T) {
	f, e := onStack("p")
	f.Output["devstack-p-mysql"] = "ready for connections\nsecond"
	f.Output["devstack-p-redis"] = "Ready to accept connections\n"
	cfg := stacktest.Config("p")
	var all strings.Builder
	if err := Logs(context.Background(), e, cfg, LogsOptions{}, &all); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(all.String(), "\n"), "\n")
	sort.Strings(lines)
	if got := strings.Join(lines, "\n"); got != "mysql | ready for connections\nmysql | second\nredis | Ready to accept connections" {
		t.Errorf("logs of both:\n%s", got)
	}
	var one strings.Builder
	if err := Logs(context.Background(), e, cfg, LogsOptions{Services: []string{"redis"}}, &one); err != nil || one.String() != "Ready to accept connections\n" {
		t.Errorf("logs of one: %q, %v", one.String(), err)
	}
	for _, bad := range []LogsOptions{{Services: []string{"helper"}}, {Tail: "-1"}, {Since: "soon"}} {
		if err := Logs(context.Background(), e, cfg, bad, &one); fault.ExitCode(err) != fault.ExitUsage {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// onStack is project's running stack on a fake engine.
func onStack(project string) (*fake.Engine, *Engine) {
	f := stacktest.Running(project)
	return f, newEngine(engine.NewConn(docker.Said(f)))
}
