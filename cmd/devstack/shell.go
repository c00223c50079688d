package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"golang.org/x/term"
)

func newShell(a *app) *cobra.Command {
	var opts emulator.ShellOptions
	cmd := &cobra.Command{
		Use:   "shell mysql|redis [-- ARGS...]",
		Short: "Open mysql (MCP, as the app user) or redis-cli inside the service's container",
		Long: `Shell runs the service's own client in its container, connected with the
stack's credentials, which travel in the environment, never on a command line.
On a terminal it is interactive; with -- ARGS it runs them without a terminal,
for scripts.`,
		Example: `  devstack shell mysql
  devstack shell mysql --root --db SS
  devstack shell mysql -- -e 'SELECT COUNT(*) FROM Jobs'
  devstack shell redis -- KEYS '*'`,
		Args:      cobra.MinimumNArgs(1),
		ValidArgs: emulator.ShellServices,
		PreRunE:   a.noJSON,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service, opts.Args = args[0], args[1:]
			if len(opts.Args) > 0 && cmd.ArgsLenAtDash() != 1 {
				return usage("pass the client's arguments after --: devstack shell %s -- %s", opts.Service, opts.Args[0])
			}
			if err := emulator.CheckShellOptions(opts); err != nil {
				return err
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			opts.Stdin, opts.Stdout, opts.Stderr = a.stdin, a.stdout, a.stderr
			in, isFile := a.stdin.(*os.File)
			if opts.TTY = isFile && len(opts.Args) == 0 && term.IsTerminal(int(in.Fd())); opts.TTY {
				if w, h, err := term.GetSize(int(in.Fd())); err == nil {
					opts.Size = [2]uint{uint(h), uint(w)}
				}
				old, err := term.MakeRaw(int(in.Fd()))
				if err != nil {
					return err
				}
				defer term.Restore(int(in.Fd()), old)
			}
			var code int
			err = a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
				code, err = emulator.Shell(cmd.Context(), e, cfg, opts)
				return err
			})
			if err == nil && code != 0 {
				return exitStatus(code)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&opts.Root, "root", false, "connect to MySQL as root")
	cmd.Flags().StringVar(&opts.DB, "db", "", "MySQL database: MCP (default) or SS")
	return cmd
}
