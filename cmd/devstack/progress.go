package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wellcomecollection/devstack/emulator/event"
)

// progress renders the events emulator reports while a command works. On
// a terminal each part (a service, or a piece of the stack: network,
// shared) has one line, rewritten in place with its latest message and how
// long it has taken, and notes print above them; finish leaves each part
// with ✓ or ✗ and prints a summary. Elsewhere each event is a plain line
// ("part: message"), or with --progress json a JSON document per line.
type progress struct {
	out   io.Writer
	style style
	now   func() time.Time
	plain event.Sink // set when the events are not drawn in place

	mu     sync.Mutex
	parts  []*part
	drawn  int
	frame  int
	ended  bool
	err    error
	start  time.Time
	ticker *time.Ticker
	done   chan struct{}
}

type part struct {
	name, msg   string
	kind        event.Kind
	first, last time.Time
}

// spinner turns while a part is at work.
var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Progress formats (--progress): auto draws in place on a terminal and
// prints plain lines elsewhere.
const (
	progressAuto  = "auto"
	progressPlain = "plain"
	progressJSON  = "json"
)

// newProgress renders to out in format; on a terminal it redraws every
// tick until finish.
func newProgress(out io.Writer, s style, format string, now func() time.Time, tick time.Duration) *progress {
	p := &progress{out: out, style: s, now: now, start: now(), done: make(chan struct{})}
	switch {
	case format == progressJSON:
		p.plain = event.JSONLines(out)
	case format == progressPlain || !s.tty:
		p.plain = event.Lines(out)
	default:
		p.ticker = time.NewTicker(tick)
		go p.tick()
	}
	return p
}

func (p *progress) tick() {
	for {
		select {
		case <-p.ticker.C:
			p.mu.Lock()
			p.frame++
			p.redraw()
			p.mu.Unlock()
		case <-p.done:
			return
		}
	}
}

// sink is where emulator sends the command's events.
func (p *progress) sink() event.Sink {
	if p.plain != nil {
		return p.plain
	}
	return p.event
}

// event takes one event: a part's news, or a note of its own.
func (p *progress) event(e event.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		fmt.Fprintln(p.out, e.Line())
		return
	}
	now := p.now()
	if e.Part == "" {
		p.clear()
		fmt.Fprintf(p.out, "\r\x1b[2K%s\n", e.Message)
		p.redraw()
		return
	}
	for _, pt := range p.parts {
		if pt.name == e.Part {
			pt.msg, pt.kind, pt.last = e.Message, e.Kind, now
			p.redraw()
			return
		}
	}
	p.parts = append(p.parts, &part{name: e.Part, msg: e.Message, kind: e.Kind, first: now, last: now})
	p.redraw()
}

// clear moves up over the part lines drawn last, so the next output
// replaces them.
func (p *progress) clear() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\x1b[%dA", p.drawn)
	}
	p.drawn = 0
}

func (p *progress) redraw() {
	p.clear()
	width := 0
	for _, pt := range p.parts {
		width = max(width, len(pt.name))
	}
	for _, pt := range p.parts {
		mark, took := p.style.paint(dim, spinner[p.frame%len(spinner)]), p.now().Sub(pt.first)
		if p.ended {
			mark, took = p.style.mark(!p.failed(pt)), pt.last.Sub(pt.first)
		}
		// One screen line a part, or the redraw loses count.
		msg, _, _ := strings.Cut(pt.msg, "\n")
		fmt.Fprintf(p.out, "\r\x1b[2K%s %-*s  %s %s\n", mark, width, pt.name, msg, p.style.paint(dim, fmt.Sprintf("%.1fs", took.Seconds())))
	}
	p.drawn = len(p.parts)
}

// failed tells, once the command failed, the parts that did not get to
// their end.
func (p *progress) failed(pt *part) bool {
	return p.err != nil && pt.kind != event.Done
}

// finish stops the updates and, on a terminal, leaves each part with ✓ or
// ✗ and the time it took, then prints the summary with the time the whole
// took, when err is nil.
func (p *progress) finish(err error, summary string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.done)
	}
	if p.plain != nil {
		return
	}
	p.ended, p.err = true, err
	p.redraw()
	if err == nil && summary != "" {
		fmt.Fprintf(p.out, "%s %s %s\n", p.style.mark(true), summary, p.style.paint(dim, fmt.Sprintf("(%.1fs)", p.now().Sub(p.start).Seconds())))
	}
}
