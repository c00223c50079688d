package main

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newUp(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up (idempotent) and print its endpoints",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg emulator.Config, e *emulator.Engine) error {
			r, err := emulator.Up(ctx, e, cfg, emulator.UpOptions{Progress: a.stderr})
			if err != nil {
				return err
			}
			return a.printStatus(r, true)
		}),
	}
}
