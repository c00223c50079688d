package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// firstLine stands for the engine seam's error: one line of the engine's
// words in its message, all of them in the error it wraps.
type firstLine struct{ err error }

func (e firstLine) Error() string { return "cannot create volume v: disk full" }
func (e firstLine) Unwrap() error { return e.err }

// --debug shows, under the one line, every cause that says more.
func TestCausesShowTheWholeChain(t *testing.T) {
	engine := errors.New("disk full\nwhile writing /var/lib/docker/volumes/v")
	err := fmt.Errorf("mysql: %w", errors.Join(firstLine{engine}, errors.New("and the record failed")))
	got := causes(err)
	want := []string{"disk full\nwhile writing /var/lib/docker/volumes/v"}
	if !slices.Equal(got, want) {
		t.Errorf("causes:\n%q\nwant\n%q", got, want)
	}
	if got := causes(errors.New("plain")); len(got) != 0 {
		t.Errorf("a plain error has causes %q", got)
	}
}

// With --progress json a failure is a JSON line too: stderr holds nothing
// else, and the exit code still says the kind.
func TestProgressJSONFailure(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--progress", "json", "up", "-p", "Bad Name"}, 2, "project"},
		{[]string{"--progress", "bogus", "status"}, 2, "--progress must be auto, plain or json"},
	} {
		var out, errb strings.Builder
		code := run(context.Background(), tc.args, nil, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errb.String())
			continue
		}
		if tc.args[1] != "json" {
			continue
		}
		var e struct{ Kind, Message string }
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || e.Kind != "failed" || len(lines) != 1 {
			t.Errorf("%v: stderr %q, want one JSON line of kind failed (%v)", tc.args, errb.String(), err)
		}
	}
}
