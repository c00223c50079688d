// Command devstack brings up Archivematica's working storage (MySQL, Redis and
// the shared directory) on Docker. Commands parse flags and call the emulator
// package; the logic lives there.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/event"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app holds the global flags and streams; commands get it instead of globals.
type app struct {
	project    string
	configFile string
	output     string
	progress   string // --progress: auto, plain or json
	debug      bool
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// A panic (devstack's, or a library's on an engine that failed under
	// it) is one line and exit 1, with the stack for --debug.
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	defer func() {
		if r := recover(); r != nil {
			a.failed(fmt.Sprintf("internal error: %v; run the command again, and report it with --debug's output if it recurs", r))
			if slices.Contains(args, "--debug") {
				fmt.Fprintf(stderr, "%s\n", debug.Stack())
			}
			code = emulator.ExitEnv
		}
	}()
	root := newRoot(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return emulator.ExitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	code = emulator.ExitCode(err)
	if errors.Is(err, context.Canceled) {
		a.failed("interrupted; run the command again to complete it")
		return emulator.ExitEnv
	}
	a.failed(err.Error())
	if a.debug {
		for _, cause := range causes(err) {
			fmt.Fprintf(stderr, "  because: %s\n", strings.ReplaceAll(cause, "\n", "\n    "))
		}
	}
	return code
}

// failed says the command's last word, why it failed: one line, or with
// --progress json one JSON line of kind failed, so that stderr stays JSON.
func (a *app) failed(why string) {
	if a.progress == progressJSON {
		event.JSONLines(a.stderr)(event.Event{Time: time.Now(), Kind: event.Failed, Message: why})
		return
	}
	fmt.Fprintf(a.stderr, "devstack: %s\n", why)
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "devstack",
		Short:         "Archivematica's working storage (MySQL, Redis, shared directory) on Docker",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "text" && a.output != "json" {
				return usage("-o/--output must be text or json, not %q", a.output)
			}
			if a.progress == "" {
				a.progress = cmp.Or(os.Getenv("DEVSTACK_PROGRESS"), progressAuto)
			}
			if !slices.Contains([]string{progressAuto, progressPlain, progressJSON}, a.progress) {
				return usage("--progress must be auto, plain or json, not %q", a.progress)
			}
			return emptyProject(cmd.Flag("project").Changed && a.project == "", os.LookupEnv)
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.project, "project", "p", "", "project name (default archivematica; env DEVSTACK_PROJECT)")
	f.StringVarP(&a.configFile, "config", "c", "", "config file (default ./devstack.yaml when present)")
	f.StringVarP(&a.output, "output", "o", "text", "output: text or json")
	f.StringVar(&a.progress, "progress", "", "progress on stderr: auto (in place on a terminal), plain or json lines (env DEVSTACK_PROGRESS)")
	f.BoolVar(&a.debug, "debug", false, "under an error, every cause it wraps, in full")
	root.AddCommand(newUp(a), newDown(a), newStatus(a), newEnv(a), newSeed(a), newReset(a), newUsers(a), newVersion(a), newRun(a), newLs(a), newPrune(a), newCompose(a),
		newLogs(a), newShell(a), newShared(a), newDoctor(a), newSnapshot(a), newTarget(a))
	a.completions(root)
	usageErrors(root)
	return root
}

// usageErrors makes cobra's own refusals usage errors where cobra makes them:
// bad flags, bad arguments, unknown commands.
func usageErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage("%v (see %s --help)", err, c.CommandPath())
	})
	args := cmd.Args
	if args == nil && cmd.HasSubCommands() {
		args = unknownSubcommand
	}
	if args != nil {
		cmd.Args = func(c *cobra.Command, argv []string) error {
			if err := args(c, argv); err != nil {
				return usage("%v (see %s --help)", err, c.CommandPath())
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		usageErrors(sub)
	}
}

// unknownSubcommand refuses arguments to a command that only groups others.
func unknownSubcommand(c *cobra.Command, argv []string) error {
	if len(argv) > 0 {
		return fmt.Errorf("unknown command %q for %q", argv[0], c.CommandPath())
	}
	return nil
}

// emptyProject refuses a project named empty: `-p "$UNSET"` or
// DEVSTACK_PROJECT= would otherwise mean the default project, and `down -p
// "$UNSET" --volumes --yes` would purge it.
func emptyProject(emptyFlag bool, lookupEnv func(string) (string, bool)) error {
	if emptyFlag {
		return usage("-p/--project is empty: name a project, or leave the flag out for the default")
	}
	if v, set := lookupEnv("DEVSTACK_PROJECT"); set && v == "" {
		return usage("DEVSTACK_PROJECT is set but empty: name a project, or unset it for the default")
	}
	return nil
}

func usage(format string, args ...any) error {
	return &emulator.Error{Code: emulator.ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

func (a *app) config() (config.Config, error) {
	return config.Load(config.LoadOptions{File: a.configFile, Project: a.project})
}

// engineRun is a command body that needs the config and Docker.
type engineRun func(ctx context.Context, cfg config.Config, e *emulator.Engine) error

// withEngine makes f a cobra RunE: it loads the config, then reaches Docker
// (bad input is reported before the environment is looked at), runs f, and
// lets go of Docker.
func (a *app) withEngine(f engineRun) func(*cobra.Command, []string) error {
	return a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, _ []string) error {
		return f(ctx, cfg, e)
	})
}

// withEngineArgs is withEngine for a body that takes the arguments.
func (a *app) withEngineArgs(f func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cfg, err := a.config()
		if err != nil {
			return err
		}
		return a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
			cfg, err := e.Reach(cfg)
			if err != nil {
				return err
			}
			return f(cmd.Context(), cfg, e, args)
		})
	}
}

// withDocker reaches Docker, runs f and lets go of Docker. Commands that
// clean up (ls, prune, down --all) use it without the config, so that a
// broken devstack.yaml cannot stop a cleanup.
func (a *app) withDocker(ctx context.Context, f func(e *emulator.Engine) error) error {
	e, err := emulator.Connect(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	return f(e)
}

// progressOn shows emulator's progress on stderr: updating lines on a
// terminal, plain or JSON lines elsewhere.
func (a *app) progressOn() *progress {
	return newProgress(a.stderr, styleOf(a.stderr, os.Getenv), a.progress, time.Now, 100*time.Millisecond)
}

// lines is where a command sends events that are never drawn in place (it
// prints other output among them): plain lines, or JSON lines.
func (a *app) lines() event.Sink {
	if a.progress == progressJSON {
		return event.JSONLines(a.stderr)
	}
	return event.Lines(a.stderr)
}

// printJSON writes one JSON document: what -o json prints.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printVerdict prints a report that answers a question (doctor, target plan
// and verify): as JSON, or by forPeople; exit 1 when the answer is no.
func (a *app) printVerdict(r any, forPeople func(), ok bool) error {
	if a.output == "json" {
		if err := a.printJSON(r); err != nil {
			return err
		}
	} else {
		forPeople()
	}
	if !ok {
		return exitStatus(emulator.ExitEnv)
	}
	return nil
}

// causes are the messages of the errors err wraps, each in full (the
// engine's own words included, where the one line shows only their first
// line), leaving out what a message already shown says.
func causes(err error) []string {
	shown := []string{err.Error()}
	var walk func(error)
	walk = func(err error) {
		var next []error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = []error{u.Unwrap()}
		case interface{ Unwrap() []error }:
			next = u.Unwrap()
		}
		for _, e := range next {
			if e == nil {
				continue
			}
			msg := e.Error()
			if !slices.ContainsFunc(shown, func(s string) bool { return strings.Contains(s, msg) }) {
				shown = append(shown, msg)
			}
			walk(e)
		}
	}
	walk(err)
	return shown[1:]
}
