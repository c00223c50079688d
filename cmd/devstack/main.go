// Command devstack brings up Archivematica's working storage (MySQL, Redis and
// the shared directory) on Docker. Commands parse flags and call the emulator
// package; the logic lives there.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
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
	debug      bool
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return emulator.ExitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return int(status)
	}
	code := emulator.ExitCode(err)
	var e *emulator.Error
	if !errors.As(err, &e) && isCobraUsage(err) {
		code = emulator.ExitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "devstack: interrupted; run the command again to complete it")
		return emulator.ExitEnv
	}
	if a.debug {
		fmt.Fprintf(stderr, "devstack: %+v\n", err)
	} else {
		fmt.Fprintf(stderr, "devstack: %v\n", err)
	}
	return code
}

// isCobraUsage recognises cobra's own usage errors, which are plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument", "flag needs"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
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
			return nil
		},
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.project, "project", "p", "", "project name (default archivematica; env DEVSTACK_PROJECT)")
	f.StringVarP(&a.configFile, "config", "c", "", "config file (default ./devstack.yaml when present)")
	f.StringVarP(&a.output, "output", "o", "text", "output: text or json")
	f.BoolVar(&a.debug, "debug", false, "show full error detail")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usage("%v (see devstack %s --help)", err, cmd.Name())
	})
	root.AddCommand(newUp(a), newDown(a), newStatus(a), newEnv(a), newSeed(a), newReset(a), newUsers(a), newVersion(a), newRun(a), newLs(a), newPrune(a))
	return root
}

func usage(format string, args ...any) error {
	return &emulator.Error{Code: emulator.ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

func (a *app) config() (emulator.Config, error) {
	return emulator.LoadConfig(emulator.LoadOptions{File: a.configFile, Project: a.project})
}

// connect loads the config, then reaches Docker: bad input is reported before
// the environment is looked at.
func (a *app) connect(ctx context.Context) (emulator.Config, *emulator.Engine, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, err
	}
	e, err := emulator.Connect(ctx)
	return cfg, e, err
}

// engineRun is a command body that needs the config and Docker.
type engineRun func(ctx context.Context, cfg emulator.Config, e *emulator.Engine) error

// withEngine makes f a cobra RunE: it connects, runs f, and lets go of Docker.
func (a *app) withEngine(f engineRun) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		cfg, e, err := a.connect(cmd.Context())
		if err != nil {
			return err
		}
		defer e.Close()
		return f(cmd.Context(), cfg, e)
	}
}
