package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// progress shows what emulator reports while a command works: lines of
// "<part>: <message>", a part being a service or a piece of the stack
// (network, shared). On a terminal each part has one line, rewritten in
// place with its latest message and how long it has taken, and other lines
// print above them; finish leaves each part with ✓ or ✗ and prints a
// summary. Elsewhere the lines pass through as they come, one per step.
type progress struct {
	out   io.Writer
	style style
	now   func() time.Time

	mu     sync.Mutex
	buf    []byte
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
	first, last time.Time
}

var partLine = regexp.MustCompile(`^([a-z][a-z0-9_-]*): (.*)$`)

// spinner turns while a part is at work.
var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// newProgress renders to out; on a terminal it redraws every tick until
// finish.
func newProgress(out io.Writer, s style, now func() time.Time, tick time.Duration) *progress {
	p := &progress{out: out, style: s, now: now, start: now(), done: make(chan struct{})}
	if s.tty {
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

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.style.tty || p.ended {
		return p.out.Write(b)
	}
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		p.line(string(p.buf[:i]))
		p.buf = p.buf[i+1:]
	}
}

// line takes one line: a part's news, or a line of its own.
func (p *progress) line(l string) {
	now := p.now()
	if m := partLine.FindStringSubmatch(l); m != nil {
		for _, pt := range p.parts {
			if pt.name == m[1] {
				pt.msg, pt.last = m[2], now
				p.redraw()
				return
			}
		}
		p.parts = append(p.parts, &part{name: m[1], msg: m[2], first: now, last: now})
		p.redraw()
		return
	}
	p.clear()
	fmt.Fprintf(p.out, "\r\x1b[2K%s\n", l)
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
		fmt.Fprintf(p.out, "\r\x1b[2K%s %-*s  %s %s\n", mark, width, pt.name, pt.msg, p.style.paint(dim, fmt.Sprintf("%.1fs", took.Seconds())))
	}
	p.drawn = len(p.parts)
}

// failed tells, once the command failed, the parts that did not get to the
// end: those whose last message is not "ready ...", "done ..." or a
// removal.
func (p *progress) failed(pt *part) bool {
	if p.err == nil {
		return false
	}
	for _, end := range []string{"ready", "done", "removing"} {
		if strings.HasPrefix(pt.msg, end) {
			return false
		}
	}
	return true
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
	if !p.style.tty {
		return
	}
	if len(p.buf) > 0 {
		p.line(string(p.buf))
		p.buf = nil
	}
	p.ended, p.err = true, err
	p.redraw()
	if err == nil && summary != "" {
		fmt.Fprintf(p.out, "%s %s %s\n", p.style.mark(true), summary, p.style.paint(dim, fmt.Sprintf("(%.1fs)", p.now().Sub(p.start).Seconds())))
	}
}
