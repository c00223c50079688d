package main

import (
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// clock is a time that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// render feeds progress lines, one clock second apart, and finishes.
func render(s style, err error, lines ...string) string {
	var out strings.Builder
	c := &clock{t: time.Unix(0, 0)}
	p := newProgress(&out, s, c.now, time.Hour)
	for _, l := range lines {
		c.t = c.t.Add(time.Second)
		_, _ = io.WriteString(p, l+"\n")
	}
	c.t = c.t.Add(time.Second)
	p.finish(err, "p is running")
	return out.String()
}

var upLines = []string{
	"network: creating devstack-p",
	"mysql: creating devstack-p-mysql from mysql:8.0",
	"redis: creating devstack-p-redis from redis:7.2",
	"waiting for another devstack command on project p to finish",
	"redis: ready in 0.4s",
	"mysql: ready in 3.0s",
}

// On a terminal, one line per part, updated in place, with the time each
// took, lines of their own above, and a summary.
func TestProgressOnATerminal(t *testing.T) {
	got := screen(render(style{tty: true}, nil, upLines...))
	want := []string{
		"waiting for another devstack command on project p to finish",
		"✓ network  creating devstack-p 0.0s",
		"✓ mysql    ready in 3.0s 4.0s",
		"✓ redis    ready in 0.4s 2.0s",
		"✓ p is running (7.0s)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the terminal shows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A failure marks the parts that did not get to the end, and has no
	// summary: the error says what happened.
	got = screen(render(style{tty: true}, errors.New("boom"), upLines[:3]...))
	if !slices.Contains(got, "✗ mysql    creating devstack-p-mysql from mysql:8.0 0.0s") || slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "p is running") }) {
		t.Errorf("after a failure the terminal shows\n%s", strings.Join(got, "\n"))
	}
}

func TestProgressColourUnlessNoColor(t *testing.T) {
	if out := render(style{tty: true, color: true}, nil, upLines...); !strings.Contains(out, green+"✓"+reset) {
		t.Errorf("no colour on a colour terminal: %q", out)
	}
	if out := render(style{tty: true}, nil, upLines...); regexp.MustCompile(`\x1b\[[0-9;]*m`).MatchString(out) {
		t.Errorf("colour with NO_COLOR: %q", out)
	}
}

// Elsewhere each line passes through as it came.
func TestProgressElsewhereIsPlainLines(t *testing.T) {
	if out := render(style{}, nil, upLines...); out != strings.Join(upLines, "\n")+"\n" {
		t.Errorf("not a terminal:\n%q", out)
	}
}

func TestStyleOf(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			if i := slices.Index(kv, k); i >= 0 {
				return kv[i+1]
			}
			return ""
		}
	}
	tty := pty(t)
	for _, tc := range []struct {
		name string
		w    io.Writer
		env  func(string) string
		want style
	}{
		{"terminal", tty, env(), style{tty: true, color: true}},
		{"NO_COLOR", tty, env("NO_COLOR", "1"), style{tty: true}},
		{"TERM=dumb", tty, env("TERM", "dumb"), style{}},
		{"a buffer", &strings.Builder{}, env(), style{}},
	} {
		if got := styleOf(tc.w, tc.env); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
