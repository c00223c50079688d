package main

import (
	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newUp(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up (idempotent) and print its endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, e, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer e.Close()
			r, err := emulator.Up(cmd.Context(), e, cfg, emulator.UpOptions{Progress: a.stderr})
			if err != nil {
				return err
			}
			return a.printStatus(r, true)
		},
	}
}
