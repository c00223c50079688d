package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"golang.org/x/term"
)

func newDown(a *app) *cobra.Command {
	var volumes, yes, all bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove containers and network; keep volumes (--volumes purges data too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				// An everyday stack goes only by naming it.
				if cmd.Flags().Changed("project") {
					return usage("--all removes every throw-away stack and names none: drop -p, or drop --all to remove project %s", a.project)
				}
				return a.prune(cmd, emulator.PruneOptions{All: true})
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if volumes && !yes {
				if err := a.confirm(fmt.Sprintf("Delete all data of project %s (MySQL, Redis, shared directory)?", cfg.Project), "this deletes data"); err != nil {
					return err
				}
			}
			return a.withDocker(cmd.Context(), func(e *emulator.Engine) error {
				prog := a.progressOn()
				r, err := emulator.Down(cmd.Context(), e, cfg, emulator.DownOptions{Volumes: volumes, Progress: prog.sink()})
				if err != nil {
					prog.finish(err, "")
					return err
				}
				prog.finish(nil, fmt.Sprintf("%s is down: %d containers, %d networks and %d volumes removed", r.Project, len(r.Containers), len(r.Networks), len(r.Volumes)))
				if a.output == "json" {
					return a.printJSON(r)
				}
				return nil
			})
		},
	}
	// Destructive flags have no environment equivalent: they must be typed.
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also delete the stack's volumes (its data)")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&all, "all", false, "remove every throw-away stack (devstack run, the Go harness) with its data, in use or not; everyday stacks stay")
	return cmd
}

// confirm asks on a terminal; elsewhere the caller must pass --yes, and is
// told why (what).
func (a *app) confirm(question, what string) error {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return usage("%s: pass --yes to confirm", what)
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(f).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return usage("not confirmed; nothing changed")
	}
	return nil
}
