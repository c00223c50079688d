package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

// exitStatus ends devstack with a code and no message of its own: `run`
// passes the command's code through and has reported its own errors.
type exitStatus int

func (c exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func newRun(a *app) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "run [--keep] -- CMD [ARGS...]",
		Short: "Run a command against a throw-away stack, removed afterwards whatever happens",
		Long: `Run brings up a fresh stack (project run-<random>, free ports), runs CMD with the
stack's connection settings (as from devstack env) in its environment, then
removes the stack and its data. The exit code is CMD's own, 128+n when CMD
died of signal n (or devstack got signal n before CMD started), and 125 when
devstack itself failed. SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed to CMD.`,
		Example: `  devstack run -- go test ./...
  devstack run --keep -- python manage.py migrate`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			code := emulator.ExitRunFailed
			err := a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
				code = emulator.Run(ctx, e, argv, emulator.RunOptions{
					Keep: keep, Config: cfg, Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr, Progress: a.lines(),
				})
				return nil
			})(cmd, nil)
			if err != nil {
				fmt.Fprintf(a.stderr, "devstack: %v\n", err)
			}
			if code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	// Everything after CMD is CMD's: `devstack run sh -c '...'` must not
	// read -c as devstack's --config.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the stack afterwards (prints how to remove it)")
	return cmd
}
