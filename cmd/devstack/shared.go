package main

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wellcomecollection/devstack/emulator"
	"github.com/wellcomecollection/devstack/emulator/config"
)

func newShared(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shared",
		Short: "List, put and get files of the shared directory",
		Long: `Paths in the shared directory are relative to it (or absolute under
` + emulator.SharedDir + `). What is put is owned by the stack's uid:gid and keeps
its modes; a path that leaves the directory, symlinks included, is refused.`,
	}
	cmd.AddCommand(newSharedLs(a), newSharedPut(a), newSharedGet(a))
	return cmd
}

func newSharedLs(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "ls [PATH]",
		Short:   "List a folder of the shared directory (-o json)",
		Example: "  devstack shared ls watchedDirectories/activeTransfers",
		Args:    cobra.MaximumNArgs(1),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			p := ""
			if len(args) > 0 {
				p = args[0]
			}
			entries, err := emulator.SharedList(ctx, e, cfg, p)
			if err != nil {
				return err
			}
			if a.output == "json" {
				return a.printJSON(entries)
			}
			w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, en := range entries {
				name := en.Path
				if en.Target != "" {
					name += " -> " + en.Target
				}
				fmt.Fprintf(w, "%s\t%d:%d\t%d\t%s\t%s\n", modeString(en), en.UID, en.GID, en.Size, en.Modified.Local().Format("2006-01-02 15:04"), name)
			}
			return w.Flush()
		}),
	}
}

// modeString renders an entry's type and mode as ls -l does.
func modeString(en emulator.SharedEntry) string {
	m, _ := strconv.ParseUint(en.Mode, 8, 32)
	mode := fs.FileMode(m)
	switch en.Type {
	case "dir":
		mode |= fs.ModeDir
	case "symlink":
		mode |= fs.ModeSymlink
	}
	return mode.String()
}

// copied is what put and get report: where it came from and went.
type copied struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (a *app) printCopied(c copied) error {
	if a.output == "json" {
		return a.printJSON(c)
	}
	fmt.Fprintf(a.stdout, "%s -> %s\n", c.From, c.To)
	return nil
}

func newSharedPut(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "put LOCAL [REMOTE]",
		Short: "Copy a file or tree into the shared directory",
		Example: `  devstack shared put ./transfer1 watchedDirectories/activeTransfers/standardTransfer
  devstack shared put notes.txt`,
		Args: cobra.RangeArgs(1, 2),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			remote := ""
			if len(args) > 1 {
				remote = args[1]
			}
			dest, err := emulator.SharedPut(ctx, e, cfg, args[0], remote, a.lines())
			if err != nil {
				return err
			}
			return a.printCopied(copied{args[0], dest})
		}),
	}
}

func newSharedGet(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "get REMOTE [LOCAL]",
		Short:   "Copy a file or tree of the shared directory here",
		Example: "  devstack shared get www/AIPsStore ./aips",
		Args:    cobra.RangeArgs(1, 2),
		RunE: a.withEngineArgs(func(ctx context.Context, cfg config.Config, e *emulator.Engine, args []string) error {
			local := ""
			if len(args) > 1 {
				local = args[1]
			}
			dest, err := emulator.SharedGet(ctx, e, cfg, args[0], local)
			if err != nil {
				return err
			}
			return a.printCopied(copied{args[0], dest})
		}),
	}
}
