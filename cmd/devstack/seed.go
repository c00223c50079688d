package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

func newSeed(a *app) *cobra.Command {
	var reset bool
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Re-apply the fixtures (--reset: wipe app data first)",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			return a.seed(ctx, cfg, e, reset)
		}),
	}
	// Destructive: no environment equivalent, it must be typed.
	cmd.Flags().BoolVar(&reset, "reset", false, "empty the app tables, Redis and the shared directory first")
	return cmd
}

func newReset(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset",
		Short: "Back to the freshly seeded state, fast",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			return a.seed(ctx, cfg, e, true)
		}),
	}
}

func (a *app) seed(ctx context.Context, cfg config.Config, e *emulator.Engine, reset bool) error {
	prog := a.progressOn()
	r, err := emulator.Seed(ctx, e, cfg, emulator.SeedOptions{Reset: reset, Progress: prog.sink()})
	if err != nil {
		prog.finish(err, "")
		return err
	}
	prog.finish(nil, cfg.Project+" is as its fixtures seed it")
	if a.output == "json" {
		return a.printJSON(r)
	}
	fmt.Fprintln(a.stdout, r)
	return nil
}
