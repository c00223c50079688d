package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at build time (-ldflags "-X main.version=...
// -X main.commit=..."); otherwise the module version and VCS revision the
// Go toolchain recorded are used.
var version, commit = "", ""

func newVersion(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print devstack's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if a.output == "json" {
				return a.printJSON(versionReport())
			}
			fmt.Fprintf(a.stdout, "devstack %s\n", buildVersion())
			return nil
		},
	}
}

// versionInfo is `devstack version -o json`.
type versionInfo struct {
	Version       string `json:"version"`
	Module        string `json:"module"`
	ModuleVersion string `json:"module_version"`
	// Commit is the VCS revision the binary was built from; Modified says
	// the work tree had changes.
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
}

func versionReport() versionInfo {
	v := versionInfo{Version: buildVersion(), Commit: commit}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module, v.ModuleVersion, v.Go = info.Main.Path, info.Main.Version, info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.Commit == "" {
				v.Commit = s.Value
			}
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return info.Main.Version + " (" + s.Value[:12] + ")"
		}
	}
	return info.Main.Version
}
