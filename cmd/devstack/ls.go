package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

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
	templates, err := emulator.ListTemplates(ctx, e)
	if err != nil {
		return err
	}
	if a.output == "json" {
		return a.printJSON(struct {
			Stacks    []emulator.StackInfo    `json:"stacks"`
			Templates []emulator.TemplateInfo `json:"templates"`
		}{stacks, templates})
	}
	if err := a.printTemplates(templates); err != nil {
		return err
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

// printTemplates lists the seeded templates apart from the stacks: they
// belong to none.
func (a *app) printTemplates(templates []emulator.TemplateInfo) error {
	if len(templates) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TEMPLATE\tIMAGE\tSIZE\tCREATED\tNOTE")
	for _, t := range templates {
		size, note := megabytes(t.SizeBytes), ""
		switch {
		case t.Building:
			note = "being made (or its maker died: devstack prune removes it)"
		case !t.ImagePresent:
			note = "image gone: devstack prune removes it"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Volume, t.Image, size, t.Created.Format(time.RFC3339), note)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// megabytes shows a size that may be unknown (-1).
func megabytes(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}
