package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
	"github.com/wellcomecollection/devstack/emulator/target"
)

func newTarget(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Bootstrap and check an environment devstack did not make: plan | apply | verify",
		Long: `A target is an existing MySQL server (and optionally a Redis) with a shared
directory, such as a staging stack on RDS, ElastiCache and EFS, described in
devstack.yaml under targets.<name> or by flags. devstack bootstraps it from
the fixtures a devstack stack gets: the databases MCP and SS, the app user,
the schema (into empty databases only), users, API keys, dashboard
settings, the storage service's pipeline, the shared directory's folders and
the processing configurations. Passwords come from environment variables or
files, never from flags.`,
	}
	cmd.AddCommand(newTargetPlan(a), newTargetApply(a), newTargetVerify(a))
	return cmd
}

// targetFlags adds a flag for each key of a target; the options hold the
// flags given once the command runs.
func targetFlags(cmd *cobra.Command) func() emulator.TargetOptions {
	values := map[string]*string{}
	for _, s := range config.TargetSettings {
		values[s.Key()] = cmd.Flags().String(s.Flag(), "", s.Help())
		if s.Bool() {
			cmd.Flags().Lookup(s.Flag()).NoOptDefVal = "true"
		}
	}
	return func() emulator.TargetOptions {
		o := emulator.TargetOptions{Flags: map[string]string{}}
		for _, s := range config.TargetSettings {
			if cmd.Flags().Changed(s.Flag()) {
				o.Flags[s.Key()] = *values[s.Key()]
			}
		}
		return o
	}
}

// targetCommand is a target subcommand: its NAME and the target's flags,
// the config loaded; run does the rest.
func targetCommand(a *app, use, short string, run func(cmd *cobra.Command, cfg config.Config, name string, opts emulator.TargetOptions) error) *cobra.Command {
	cmd := &cobra.Command{Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1)}
	opts := targetFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := a.config()
		if err != nil {
			return err
		}
		return run(cmd, cfg, args[0], opts())
	}
	return cmd
}

func newTargetPlan(a *app) *cobra.Command {
	return targetCommand(a, "plan", "Show what apply would do to the target, reading it only (exit 0: nothing to do)",
		func(cmd *cobra.Command, cfg config.Config, name string, opts emulator.TargetOptions) error {
			p, err := emulator.PlanTarget(cmd.Context(), cfg, name, opts)
			if err != nil {
				return err
			}
			return a.printVerdict(p, func() { a.printPlan(p) }, p.Changes == 0 && p.Refused == "")
		})
}

func newTargetApply(a *app) *cobra.Command {
	var yes bool
	var secrets string
	cmd := targetCommand(a, "apply", "Bootstrap the target as plan shows (asks on a terminal; --yes elsewhere)",
		func(cmd *cobra.Command, cfg config.Config, name string, opts emulator.TargetOptions) error {
			if secrets != "" {
				if _, err := os.Lstat(secrets); !errors.Is(err, fs.ErrNotExist) {
					return usage("--secrets-file %s exists: give a new file, devstack overwrites none", secrets)
				}
			}
			r, err := emulator.ApplyTarget(cmd.Context(), cfg, name, opts, func(p *target.Plan) error {
				if a.output != "json" {
					a.printPlan(p)
				}
				if yes || p.Changes == 0 || p.Refused != "" {
					return nil
				}
				return a.confirm(fmt.Sprintf("Make these %d changes to target %s?", p.Changes, name), "target apply changes a real environment")
			})
			if err != nil {
				return err
			}
			return a.printApplied(r, name, secrets)
		})
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().StringVar(&secrets, "secrets-file", "", "write a password apply generates to this new file (mode 0600) instead of showing it once")
	return cmd
}

// printApplied reports an apply, and the password it generated: into the
// secrets file, or shown once.
func (a *app) printApplied(r *target.Result, name, secrets string) error {
	if !r.Applied {
		if a.output == "json" {
			return a.printJSON(r)
		}
		fmt.Fprintf(a.stdout, "target %s: nothing to do\n", name)
		return nil
	}
	report := map[string]any{"plan": r.Plan, "applied": true}
	if r.AppPassword != "" {
		if secrets != "" {
			if err := writeSecret(secrets, r.AppPassword); err != nil {
				fmt.Fprintf(a.stdout, "the app user's password, which devstack could not write to %s (shown once): %s\n", secrets, r.AppPassword)
				return err
			}
			report["secrets_file"] = secrets
		} else if a.output == "json" {
			report["app_password"] = r.AppPassword
		}
	}
	if a.output == "json" {
		return a.printJSON(report)
	}
	fmt.Fprintf(a.stdout, "target %s: %d changes made\n", name, r.Plan.Changes)
	switch {
	case r.AppPassword != "" && secrets != "":
		fmt.Fprintf(a.stdout, "the app user's password is in %s (mode 0600)\n", secrets)
	case r.AppPassword != "":
		fmt.Fprintf(a.stdout, "the app user's password (shown once, kept nowhere): %s\n", r.AppPassword)
	}
	return nil
}

// writeSecret writes a password to a new file only its owner reads.
func writeSecret(path, secret string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usage("cannot write --secrets-file: %v", err)
	}
	if _, err := io.WriteString(f, secret+"\n"); err != nil {
		f.Close()
		return usage("cannot write --secrets-file: %v", err)
	}
	return f.Close()
}

func newTargetVerify(a *app) *cobra.Command {
	return targetCommand(a, "verify", "Report how the target differs from what developers run (exit 1 on drift)",
		func(cmd *cobra.Command, cfg config.Config, name string, opts emulator.TargetOptions) error {
			r, err := emulator.VerifyTarget(cmd.Context(), cfg, name, opts)
			if err != nil {
				return err
			}
			return a.printVerdict(r, func() { a.printReport(r) }, r.Clean)
		})
}

func (a *app) printReport(r *target.Report) {
	s := styleOf(a.stdout, os.Getenv)
	fmt.Fprintf(a.stdout, "%s target %s (%s): ", s.mark(r.Clean), r.Target, r.Server)
	if r.Clean {
		fmt.Fprintln(a.stdout, "matches what devstack makes")
	} else {
		fmt.Fprintf(a.stdout, "%d items drifted\n", len(r.Drift))
	}
	for _, d := range r.Drift {
		fmt.Fprintf(a.stdout, "  %-10s %s%s\n", d.Kind, d.Item, detail(d.Detail))
	}
}

// printPlan shows a plan's steps and changes for people.
func (a *app) printPlan(p *target.Plan) {
	fmt.Fprintf(a.stdout, "target %s: %s, %d changes\n", p.Target, p.Server, p.Changes)
	for _, s := range p.Steps {
		fmt.Fprintf(a.stdout, "%-10s %s\n", s.Name, s.State)
		for _, c := range s.Changes {
			fmt.Fprintf(a.stdout, "  + %s %s%s\n", c.Action, c.Item, detail(c.Detail))
		}
	}
	if p.Refused != "" {
		fmt.Fprintf(a.stdout, "apply refuses this target: %s\n", p.Refused)
	}
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return "  (" + d + ")"
}
