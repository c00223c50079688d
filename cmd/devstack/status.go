package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

func newStatus(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show services, state, health and endpoints",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			r, err := emulator.Status(ctx, e, cfg)
			if err != nil {
				return err
			}
			return a.printStatus(r, false)
		}),
	}
}

// printStatus writes one JSON document, or a table for people.
func (a *app) printStatus(r *emulator.StatusReport, afterUp bool) error {
	if a.output == "json" {
		return a.printJSON(r)
	}
	fmt.Fprintf(a.stdout, "project %s: %s\n", r.Project, r.State)
	if r.Reason != "" {
		fmt.Fprintf(a.stdout, "why: %s\n", r.Reason)
	}
	if r.State == emulator.StateAbsent {
		fmt.Fprintln(a.stdout, "no stack; `devstack up` makes one")
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tSTATE\tHEALTH\tENDPOINT\tIMAGE\tCONTAINER")
	for _, s := range r.Services {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s:%d\t%s\t%s\n", s.Name, s.State, s.Health, s.Host, s.Port, s.Image, s.Container)
	}
	w.Flush()
	if afterUp {
		fmt.Fprintln(a.stdout, "connection settings: devstack env   (in a shell: eval \"$(devstack env --format shell)\")")
	}
	return nil
}
