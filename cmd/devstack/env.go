package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

func newEnv(a *app) *cobra.Command {
	var format string
	var network bool
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print connection settings (--format dotenv|docker|shell|json)",
		Example: `  devstack env > .env                                   # compose env_file, dotenv libraries
  eval "$(devstack env --format shell)"
  docker run --env-file <(devstack env --network --format docker) ...   # on the stack's network`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("format") && a.output == "json" {
				format = "json"
			}
			_, err := emulator.FormatEnv(nil, format)
			return err
		},
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			vars, err := emulator.Env(ctx, e, cfg, emulator.EnvOptions{Network: network, Progress: a.lines()})
			if err != nil {
				return err
			}
			out, err := emulator.FormatEnv(vars, format)
			if err != nil {
				return err
			}
			fmt.Fprint(a.stdout, out)
			return nil
		}),
	}
	cmd.Flags().StringVar(&format, "format", "dotenv", "dotenv (compose env_file, dotenv libraries), docker (docker run --env-file), shell (eval) or json")
	cmd.Flags().BoolVar(&network, "network", false, "in-network addresses (mysql:3306, redis:6379)")
	return cmd
}
