package main

import (
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wellcomecollection/devstack/emulator/event"
)

// clock is a time that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// render feeds events, one clock second apart, and finishes.
func render(s style, format string, err error, events ...event.Event) string {
	var out strings.Builder
	c := &clock{t: time.Unix(0, 0)}
	p := newProgress(&out, s, format, c.now, time.Hour)
	sink := p.sink()
	for _, e := range events {
		c.t = c.t.Add(time.Second)
		e.Time = c.t
		sink(e)
	}
	c.t = c.t.Add(time.Second)
	p.finish(err, "p is running")
	return out.String()
}

var upEvents = []event.Event{
	{Part: "network", Kind: event.Step, Message: "creating devstack-p"},
	{Part: "mysql", Kind: event.Step, Message: "creating devstack-p-mysql from mysql:8.0"},
	{Part: "redis", Kind: event.Step, Message: "creating devstack-p-redis from redis:7.2"},
	{Kind: event.Note, Message: "waiting for another devstack command on project p to finish"},
	{Part: "redis", Kind: event.Done, Message: "ready in 0.4s", Took: 400 * time.Millisecond},
	{Part: "mysql", Kind: event.Done, Message: "ready in 3.0s", Took: 3 * time.Second},
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
	got := screen(render(style{tty: true}, progressAuto, nil, upEvents...))
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
	got = screen(render(style{tty: true}, progressAuto, errors.New("boom"), upEvents[:3]...))
	if !slices.Contains(got, "✗ mysql    creating devstack-p-mysql from mysql:8.0 0.0s") || slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "p is running") }) {
		t.Errorf("after a failure the terminal shows\n%s", strings.Join(got, "\n"))
	}
}

func TestProgressColourUnlessNoColor(t *testing.T) {
	if out := render(style{tty: true, color: true}, progressAuto, nil, upEvents...); !strings.Contains(out, green+"✓"+reset) {
		t.Errorf("no colour on a colour terminal: %q", out)
	}
	if out := render(style{tty: true}, progressAuto, nil, upEvents...); regexp.MustCompile(`\x1b\[[0-9;]*m`).MatchString(out) {
		t.Errorf("colour with NO_COLOR: %q", out)
	}
}

// Elsewhere, or with --progress plain, each event is a plain line as it
// comes; with --progress json a JSON document per line, on a terminal too.
func TestProgressElsewhereIsPlainOrJSONLines(t *testing.T) {
	want := strings.Join(upLines, "\n") + "\n"
	if out := render(style{}, progressAuto, nil, upEvents...); out != want {
		t.Errorf("not a terminal:\n%q", out)
	}
	if out := render(style{tty: true}, progressPlain, nil, upEvents...); out != want {
		t.Errorf("--progress plain on a terminal:\n%q", out)
	}
	out := render(style{tty: true}, progressJSON, errors.New("boom"), upEvents...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(upEvents) {
		t.Fatalf("--progress json printed %d lines for %d events:\n%s", len(lines), len(upEvents), out)
	}
	var last struct {
		Time    time.Time `json:"time"`
		Part    string    `json:"part"`
		Kind    string    `json:"kind"`
		Message string    `json:"message"`
		Took    float64   `json:"took_s"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Part != "mysql" || last.Kind != "done" || last.Message != "ready in 3.0s" || last.Took != 3 || last.Time.IsZero() {
		t.Errorf("the last JSON line: %s", lines[len(lines)-1])
	}
	if !strings.Contains(lines[3], `"kind":"note"`) || strings.Contains(lines[3], `"part"`) {
		t.Errorf("a note as JSON: %s", lines[3])
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
