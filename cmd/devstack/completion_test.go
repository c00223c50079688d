package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// complete runs devstack's completion for the words, in this process.
func complete(t *testing.T, words ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), append([]string{"__complete"}, words...), nil, &out, &errb); code != 0 {
		t.Fatalf("__complete %v: exit %d %s", words, code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[:len(lines)-1] // the last line is the directive
}

func TestCompletionScriptsAndValues(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_devstack", "zsh": "#compdef devstack", "fish": "complete -c devstack"} {
		var out bytes.Buffer
		if code := run(context.Background(), []string{"completion", shell}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), marker) {
			t.Errorf("completion %s: exit %d, no %q", shell, code, marker)
		}
	}
	t.Setenv("DEVSTACK_GEARMAND_ENABLED", "")
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"logs", ""}, "mysql redis"},
		{[]string{"shell", ""}, "mysql redis"},
		{[]string{"env", "--format", ""}, "dotenv docker shell json"},
		{[]string{"shell", "mysql", "--db", ""}, "MCP SS"},
		{[]string{"users", "add", "--service", ""}, "dashboard storage"},
		{[]string{"status", "-o", ""}, "text json"},
		{[]string{""}, "compose doctor down env logs ls prune reset run seed shared shell status up users version"},
	} {
		got := complete(t, tc.words...)
		for _, w := range strings.Fields(tc.want) {
			if !slices.Contains(got, w) && !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w+"\t") }) {
				t.Errorf("completing %q: %v lacks %s", tc.words, got, w)
			}
		}
	}
	// The services follow the configuration.
	t.Setenv("DEVSTACK_GEARMAND_ENABLED", "true")
	if got := strings.Join(complete(t, "logs", ""), " "); got != "mysql redis gearmand" {
		t.Errorf("services with gearmand: %s", got)
	}
	// So do the targets.
	config := filepath.Join(t.TempDir(), "devstack.yaml")
	must(t, os.WriteFile(config, []byte("targets:\n  staging: {mysql: {host: h}}\n  production: {mysql: {host: h}}\n"), 0o600))
	if got := strings.Join(complete(t, "-c", config, "target", "verify", ""), " "); got != "production staging" {
		t.Errorf("targets: %s", got)
	}
}

// Projects come from the stacks on the engine, paths from the shared
// directory.
func TestCompletionOfProjectsAndSharedPaths(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.mustRun("up")
	v := newDockerView(t)
	v.allow(s.project)
	if got := v.devstack(t, "__complete", "status", "-p", "").stdout; !strings.HasPrefix(got, s.project+"\n") {
		t.Errorf("projects: %q", got)
	}
	got := s.mustRun("__complete", "shared", "ls", "watchedDirectories/").stdout
	if !strings.Contains(got, "watchedDirectories/activeTransfers/\n") {
		t.Errorf("shared paths: %q", got)
	}
}

// A bad flag gets one line that names the command's help once.
func TestBadFlagNamesTheHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"shared", "ls", "-l"}, nil, &out, &errb); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if got := errb.String(); !strings.Contains(got, "(see devstack shared ls --help)") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr: %q", got)
	}
}

// An empty project name, by flag or variable, is refused before anything is
// looked at: it must not mean the default project.
func TestEmptyProjectRefused(t *testing.T) {
	for _, args := range [][]string{{"down", "-p", "", "--volumes", "--yes"}, {"--project=", "status"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-p/--project is empty") {
			t.Errorf("%v: exit %d, %q", args, code, errb.String())
		}
	}
	t.Setenv("DEVSTACK_PROJECT", "")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"status"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "DEVSTACK_PROJECT is set but empty") {
		t.Errorf("DEVSTACK_PROJECT=: exit %d, %q", code, errb.String())
	}
}
