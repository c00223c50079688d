package main

import (
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/seed"
)

// completions adds what cobra's generated completion (devstack completion
// bash|zsh|fish) cannot know by itself: the values of flags, the services
// of the configuration, the projects of the stacks on the engine, the
// project's snapshots, and the shared directory's paths.
func (a *app) completions(root *cobra.Command) {
	fixed := func(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = root.RegisterFlagCompletionFunc("project", a.completeProjects)
	_ = root.RegisterFlagCompletionFunc("output", fixed("text", "json"))
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "env":
			_ = cmd.RegisterFlagCompletionFunc("format", fixed(emulator.EnvFormats...))
		case "shell":
			_ = cmd.RegisterFlagCompletionFunc("db", fixed(emulator.ShellDatabases...))
		case "users":
			for _, sub := range cmd.Commands() {
				_ = sub.RegisterFlagCompletionFunc("service", fixed(seed.Dashboard, seed.Storage))
			}
		case "shared":
			for _, sub := range cmd.Commands() {
				if sub.Name() != "put" {
					sub.ValidArgsFunction = a.completeShared
				}
			}
		case "snapshot":
			for _, sub := range cmd.Commands() {
				switch sub.Name() {
				case "restore", "rm", "export":
					sub.ValidArgsFunction = a.completeSnapshots
				}
			}
		case "target":
			for _, sub := range cmd.Commands() {
				sub.ValidArgsFunction = a.completeTargets
				_ = sub.RegisterFlagCompletionFunc("mysql-tls", fixed("true", "false"))
				_ = sub.RegisterFlagCompletionFunc("redis-tls", fixed("true", "false"))
			}
		}
	}
}

// completeTargets completes NAME with the configuration's targets.
func (a *app) completeTargets(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	cfg, err := a.config()
	if len(args) > 0 || err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return slices.Sorted(maps.Keys(cfg.Targets)), cobra.ShellCompDirectiveNoFileComp
}

// completeSnapshots completes the first argument with the project's
// snapshots; export's FILE is a file.
func (a *app) completeSnapshots(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	cfg, err := a.config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	err = a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
		snapshots, err := emulator.ListSnapshots(cmd.Context(), e, cfg, false)
		for _, s := range snapshots {
			names = append(names, s.Name)
		}
		return err
	})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeShared completes the first argument with the entries of the
// shared directory's folder it names so far.
func (a *app) completeShared(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	cfg, err := a.config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	dir := ""
	if i := strings.LastIndex(toComplete, "/"); i >= 0 {
		dir = toComplete[:i]
	}
	var names []string
	err = a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
		entries, err := emulator.SharedList(cmd.Context(), e, cfg, dir)
		for _, en := range entries {
			name := path.Join(dir, path.Base(en.Path))
			if en.Type == "dir" {
				name += "/"
			}
			names = append(names, name)
		}
		return err
	})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}
