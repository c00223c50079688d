package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

func newUp(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up (idempotent) and print its endpoints",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			prog := a.progressOn()
			r, err := emulator.Up(ctx, e, cfg, emulator.UpOptions{Progress: prog.sink()})
			if err != nil {
				prog.finish(err, "")
				return err
			}
			prog.finish(nil, fmt.Sprintf("%s is %s", r.Project, r.State))
			return a.printStatus(r, true)
		}),
	}
}
