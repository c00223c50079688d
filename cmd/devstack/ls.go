package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newLs(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List every devstack stack on this Docker host (-o json)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDocker(cmd.Context(), func(e *emulator.Engine) error { return a.ls(cmd.Context(), e) })
		},
	}
}

func (a *app) ls(ctx context.Context, e *emulator.Engine) error {
	stacks, err := emulator.ListStacks(ctx, e)
	if err != nil {
		return err
	}
	if a.output == "json" {
		return a.printJSON(stacks)
	}
	if len(stacks) == 0 {
		fmt.Fprintln(a.stdout, "no stacks; `devstack up` makes one")
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROJECT\tSTATE\tAGE\tEPHEMERAL\tOWNER")
	for _, s := range stacks {
		ephemeral, owner := "no", "-"
		if s.Ephemeral {
			ephemeral, owner = "yes", s.Owner
			switch {
			case s.Kept:
				owner += " (kept: devstack down -p " + s.Project + " --volumes --yes removes it)"
			case !s.OwnerAlive:
				owner += " (gone: devstack prune removes it)"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Project, s.State, s.Age(), ephemeral, owner)
	}
	return w.Flush()
}
