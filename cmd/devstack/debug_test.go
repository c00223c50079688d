package main

import (
	"errors"
	"fmt"
	"slices"
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
