// Package event is how devstack says what it is doing while a command works:
// typed events (a part of the stack, what kind of news, a message, how long
// it took) that the CLI renders as updating terminal lines, plain lines or
// JSON lines. Nothing parses them back from text.
package event

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Kind says where an event stands in its part's work.
type Kind string

const (
	// Step: the part is at work.
	Step Kind = "step"
	// Done: the part reached its end (ready, done, removed).
	Done Kind = "done"
	// Note: news of the command as a whole, of no part.
	Note Kind = "note"
	// Failed: the command failed; the message is its error, the CLI's last
	// word (exit code 1 or 2 says which kind).
	Failed Kind = "failed"
)

// Event is one piece of news. Its JSON shape is a contract (docs/usage.md).
type Event struct {
	Time time.Time
	// Part is a service (mysql, redis, gearmand) or a piece of the stack
	// (network, shared, helper, stack); "" for a note.
	Part    string
	Kind    Kind
	Message string
	// Took is how long the step or the part took, 0 when not timed.
	Took time.Duration
}

// Line is the event as one plain line: "part: message", or the message of
// a note alone.
func (e Event) Line() string {
	if e.Part == "" {
		return e.Message
	}
	return e.Part + ": " + e.Message
}

func (e Event) MarshalJSON() ([]byte, error) {
	type line struct {
		Time    time.Time `json:"time"`
		Part    string    `json:"part,omitempty"`
		Kind    Kind      `json:"kind"`
		Message string    `json:"message"`
		Took    float64   `json:"took_s,omitempty"`
	}
	return json.Marshal(line{e.Time.UTC(), e.Part, e.Kind, e.Message, e.Took.Seconds()})
}

// Sink receives a command's events. A nil Sink discards them, so code that
// reports never checks.
type Sink func(Event)

// Step reports that part is at work.
func (s Sink) Step(part, format string, args ...any) {
	s.emit(Event{Part: part, Kind: Step, Message: fmt.Sprintf(format, args...)})
}

// Timed reports a step of part that took took.
func (s Sink) Timed(part string, took time.Duration, format string, args ...any) {
	s.emit(Event{Part: part, Kind: Step, Message: fmt.Sprintf(format, args...), Took: took})
}

// Done reports that part reached its end; took is 0 when not timed.
func (s Sink) Done(part string, took time.Duration, format string, args ...any) {
	s.emit(Event{Part: part, Kind: Done, Message: fmt.Sprintf(format, args...), Took: took})
}

// Note reports news of the command as a whole.
func (s Sink) Note(format string, args ...any) {
	s.emit(Event{Kind: Note, Message: fmt.Sprintf(format, args...)})
}

func (s Sink) emit(e Event) {
	if s == nil {
		return
	}
	e.Time = time.Now()
	s(e)
}

// Lines renders events as plain lines on w, one per event, for programs
// and logs; safe for concurrent use.
func Lines(w io.Writer) Sink {
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(w, e.Line())
	}
}

// JSONLines renders events as one JSON document per line on w; safe for
// concurrent use.
func JSONLines(w io.Writer) Sink {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}
}
