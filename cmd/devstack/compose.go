package main

import (
	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
)

func newCompose(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "compose",
		Short: "Print the stack as a Docker Compose file, for the current config",
		Long: `Compose prints the stack up makes as a plain Docker Compose file: the same
containers, volumes and network with the same labels, and a one-shot init
service that sets a new stack up as up does. compose/docker-compose.yml is its
output for the default config. It needs no Docker.`,
		Example: `  devstack compose > compose/docker-compose.yml
  docker compose -f compose/docker-compose.yml up --wait`,
		Args:    cobra.NoArgs,
		PreRunE: a.noJSON,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			out, err := emulator.Compose(cfg)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
}
