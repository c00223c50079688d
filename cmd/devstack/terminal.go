package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// style is how output to one stream looks: on a terminal, progress lines
// update in place; colour too, unless NO_COLOR is set (no-color.org).
type style struct {
	tty, color bool
}

func styleOf(w io.Writer, getenv func(string) string) style {
	f, ok := w.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd())) && getenv("TERM") != "dumb"
	return style{tty: tty, color: tty && getenv("NO_COLOR") == ""}
}

const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	dim   = "\x1b[2m"
	reset = "\x1b[0m"
)

func (s style) paint(color, text string) string {
	if !s.color {
		return text
	}
	return color + text + reset
}

// mark is ✓ or ✗.
func (s style) mark(ok bool) string {
	if ok {
		return s.paint(green, "✓")
	}
	return s.paint(red, "✗")
}
