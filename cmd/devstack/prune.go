package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newPrune(a *app) *cobra.Command {
	var olderThan time.Duration
	var templates bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove throw-away stacks whose owner process is gone (--older-than: by age)",
		Long: `Prune removes throw-away stacks (made by devstack run and the Go harness) with
their data: by default those whose owning process has died, with --older-than
those older than the duration whether or not their owner lives. Everyday stacks
are never pruned.`,
		Example: `  devstack prune
  devstack prune --older-than 24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if olderThan < 0 {
				return usage("--older-than must not be negative, got %v", olderThan)
			}
			return a.prune(cmd, emulator.PruneOptions{OlderThan: olderThan, Templates: templates})
		},
	}
	cmd.Flags().DurationVar(&olderThan, "older-than", 0, "remove throw-away stacks older than this (e.g. 2h), owner alive or not")
	// Destructive: no environment equivalent.
	cmd.Flags().BoolVar(&templates, "templates", false, "also remove every seeded template (the next cold up makes one again)")
	return cmd
}

// prune removes the stacks and templates opts select and prints them, one
// a line or one JSON document.
func (a *app) prune(cmd *cobra.Command, opts emulator.PruneOptions) error {
	return a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
		opts.Progress = a.lines()
		return a.printPruned(emulator.Prune(cmd.Context(), e, opts))
	})
}

func (a *app) printPruned(removed *emulator.Pruned, err error) error {
	if removed == nil { // the stacks could not even be listed
		return err
	}
	if a.output == "json" {
		if jerr := a.printJSON(removed); jerr != nil {
			return jerr
		}
	} else {
		for _, p := range append(removed.Stacks, removed.Templates...) {
			fmt.Fprintln(a.stdout, p)
		}
		if len(removed.Stacks)+len(removed.Templates) == 0 && err == nil {
			a.lines().Note("nothing to remove")
		}
	}
	return err
}
