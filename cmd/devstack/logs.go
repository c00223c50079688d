package main

import (
	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newLogs(a *app) *cobra.Command {
	var opts emulator.LogsOptions
	cmd := &cobra.Command{
		Use:   "logs [SERVICE...]",
		Short: "Show the services' output (-f follows until Ctrl-C)",
		Example: `  devstack logs
  devstack logs mysql --since 10m
  devstack logs -f --tail 20`,
		ValidArgsFunction: a.completeServices,
		PreRunE:           a.noJSON,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if err := emulator.CheckLogsOptions(cfg, opts); err != nil {
				return err
			}
			return a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
				return emulator.Logs(cmd.Context(), e, cfg, opts, a.stdout)
			})
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new output until interrupted")
	cmd.Flags().StringVar(&opts.Since, "since", "", "only output since a duration ago (10m) or a time (RFC 3339)")
	cmd.Flags().StringVar(&opts.Tail, "tail", "all", "number of lines from the end of each service's output, or all")
	return cmd
}

// noJSON refuses -o json on a command that prints no report.
func (a *app) noJSON(cmd *cobra.Command, _ []string) error {
	if a.output == "json" {
		return usage("%s prints no report: -o json does not apply", cmd.CommandPath())
	}
	return nil
}

// completeServices completes service names.
func (a *app) completeServices(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cfg, err := a.config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return cfg.Services(), cobra.ShellCompDirectiveNoFileComp
}

// completeProjects completes the projects of the stacks on the engine.
func (a *app) completeProjects(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	var projects []string
	err := a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
		stacks, err := emulator.ListStacks(cmd.Context(), e)
		for _, s := range stacks {
			projects = append(projects, s.Project)
		}
		return err
	})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return projects, cobra.ShellCompDirectiveNoFileComp
}
