package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newDoctor(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check what devstack needs: engine, API version, images, ports, disk, networks",
		Long: `Doctor checks the Docker engine devstack would use (and which endpoint and
context that is), its API version, that the images are here or can be pulled,
that the configured ports are free (the stack's own count as free), the disk
space for volumes and room for another network. Each check shows ✓ or ✗ with a
fix; it exits 0 only when every check passes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			r := emulator.Doctor(cmd.Context(), cfg)
			return a.printVerdict(r, func() { a.printDoctor(r) }, r.OK)
		},
	}
}

func (a *app) printDoctor(r *emulator.DoctorReport) {
	s := styleOf(a.stdout, os.Getenv)
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%s %s\t%s\n", s.mark(c.OK), c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "  \tfix: %s\n", c.Fix)
		}
	}
	w.Flush()
}
