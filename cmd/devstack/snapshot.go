package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

func newSnapshot(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save the stack's state (MySQL, Redis, shared directory), restore it, share it as a file",
		Long: `A snapshot is a copy of the stack's three volumes, taken with its services
stopped so that the three agree. Snapshots belong to a project (-p) but are no
part of its stack: down --volumes leaves them; snapshot rm removes them.`,
	}
	cmd.AddCommand(newSnapshotSave(a), newSnapshotRestore(a), newSnapshotLs(a), newSnapshotRm(a), newSnapshotExport(a), newSnapshotImport(a))
	return cmd
}

// snapshotNames checks the positional arguments count, then those at
// positions (snapshot names), so that a bad name is refused before Docker
// is reached.
func snapshotNames(count cobra.PositionalArgs, positions ...int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := count(cmd, args); err != nil {
			return err
		}
		for _, i := range positions {
			if i < len(args) {
				if err := emulator.ValidateSnapshotName(args[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

func newSnapshotSave(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "save NAME",
		Short: "Copy the running stack's MySQL data, Redis data and shared directory into snapshot NAME",
		Long: `Save stops the stack's services for the copy (MySQL cleanly; Redis saves to
disk first) and starts them again, their data untouched. It warns when
containers devstack did not make use the stack's volumes: what they write
meanwhile may make the three copies disagree.`,
		Args: snapshotNames(cobra.ExactArgs(1), 0),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			prog := a.progressOn()
			r, err := emulator.SaveSnapshot(ctx, e, cfg, args[0], emulator.SnapshotOptions{Version: buildVersion(), Force: force, Progress: prog.sink()})
			prog.finish(err, "")
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(r)
			}
			fmt.Fprintf(a.stdout, "saved snapshot %s of project %s in %.1fs\n", r.Snapshot.Name, r.Snapshot.Project, float64(r.TookMS)/1000)
			return nil
		}),
	}
	// Destructive: no environment equivalent.
	cmd.Flags().BoolVar(&force, "force", false, "replace a snapshot of the same name")
	return cmd
}

func newSnapshotRestore(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "restore NAME",
		Short: "Bring the stack back to exactly the state of snapshot NAME, and start it",
		Long: `Restore replaces the stack's MySQL data, Redis data and shared directory with
the snapshot's and starts the stack; nothing is seeded. A snapshot saved from
this project also brings back the passwords and ports it was saved with; an
imported one gets this project's. A snapshot of another MySQL flavour or
major.minor version is refused. A restore that is cut short is finished by the
next devstack command on the project; status says "restoring" until then.`,
		Args: snapshotNames(cobra.ExactArgs(1), 0),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			if !yes {
				if err := a.confirm(fmt.Sprintf("Replace all data of project %s (MySQL, Redis, shared directory) with snapshot %s?", cfg.Project, args[0]), "this deletes data"); err != nil {
					return err
				}
			}
			prog := a.progressOn()
			r, err := emulator.RestoreSnapshot(ctx, e, cfg, args[0], emulator.SnapshotOptions{Version: buildVersion(), Progress: prog.sink()})
			if err != nil {
				prog.finish(err, "")
				return err
			}
			prog.finish(nil, fmt.Sprintf("restored snapshot %s", r.Snapshot.Name))
			if a.output == "json" {
				return a.printJSON(r)
			}
			if prog.plain != nil {
				prog.plain.Note("restored snapshot %s in %.1fs", r.Snapshot.Name, float64(r.TookMS)/1000)
			}
			return a.printStatus(r.Status, true)
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

func newSnapshotLs(a *app) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the project's snapshots (--all: every project's)",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(ctx context.Context, cfg config.Config, e *emulator.Engine) error {
			snapshots, err := emulator.ListSnapshots(ctx, e, cfg, all)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(struct {
					Snapshots []emulator.SnapshotInfo `json:"snapshots"`
				}{snapshots})
			}
			return a.printSnapshots(snapshots)
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "list the snapshots of every project")
	return cmd
}

func (a *app) printSnapshots(snapshots []emulator.SnapshotInfo) error {
	if len(snapshots) == 0 {
		fmt.Fprintln(a.stdout, "no snapshots; `devstack snapshot save NAME` makes one")
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPROJECT\tSAVED\tMYSQL\tSIZE\tNOTE")
	for _, s := range snapshots {
		size, note := megabytes(s.SizeBytes), ""
		switch {
		case !s.Complete:
			note = "incomplete: devstack snapshot rm " + s.Name + " removes it"
		case s.ImportedFrom != "":
			note = "imported from project " + s.ImportedFrom
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s %s\t%s\t%s\n", s.Name, s.Project, s.Created.Local().Format(time.DateTime), s.Flavour, s.MySQLVersion, size, note)
	}
	return w.Flush()
}

func newSnapshotRm(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove snapshot NAME of the project",
		Args:  snapshotNames(cobra.ExactArgs(1), 0),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			removed, err := emulator.RemoveSnapshot(ctx, e, cfg, args[0], a.lines())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(struct {
					Removed []string `json:"removed"`
				}{removed})
			}
			for _, v := range removed {
				fmt.Fprintln(a.stdout, v)
			}
			return nil
		}),
	}
}

func newSnapshotExport(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "export NAME FILE",
		Short: "Write snapshot NAME as one compressed file (FILE - writes to stdout); it holds the stack's credentials",
		Args:  snapshotNames(cobra.ExactArgs(2), 0),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			if args[1] == "-" && a.output == "json" {
				return usage("-o json and FILE - both want stdout: give a file name")
			}
			r, err := emulator.ExportSnapshot(ctx, e, cfg, args[0], emulator.ExportOptions{File: args[1], Stdout: a.stdout, Force: force})
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(r)
			}
			a.lines().Note("exported snapshot %s (%.0f MB); it holds the stack's passwords", r.Snapshot.Name, float64(r.Bytes)/1e6)
			if args[1] != "-" {
				// sha256sum's format: `sha256sum -c` checks a copy.
				fmt.Fprintf(a.stdout, "%s  %s\n", r.SHA256, r.File)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return cmd
}

func newSnapshotImport(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE [NAME]",
		Short: "Make a snapshot of the project from an export (FILE - reads stdin); restore then gives it this project's ports and passwords",
		Args:  snapshotNames(cobra.RangeArgs(1, 2), 1),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			prog := a.progressOn()
			opts := emulator.ImportOptions{File: args[0], Stdin: a.stdin, Progress: prog.sink()}
			if len(args) == 2 {
				opts.Name = args[1]
			}
			s, err := emulator.ImportSnapshot(ctx, e, cfg, opts)
			prog.finish(err, "")
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(s)
			}
			fmt.Fprintf(a.stdout, "imported snapshot %s into project %s: `devstack snapshot restore %s` brings it up\n", s.Name, s.Project, s.Name)
			return nil
		}),
	}
}
