package main

import (
	"path/filepath"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/oci"
	"github.com/dockless/dockless/runtime"
	"github.com/urfave/cli/v2"
)

// ociCommand is `dockless oci …`, the same command line as dockless-runc.
func (a *app) ociCommand() *cli.Command {
	return &cli.Command{
		Name:            "oci",
		Usage:           "the OCI runtime command line (runc's verbs and flags; also installed as " + oci.Name + ")",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if !a.caller.IsRoot() {
				return usagef("the OCI runtime interface is for root (containerd, the OCI tools); use dockless run")
			}
			if code := oci.Run(append([]string{"dockless oci"}, c.Args().Slice()...), ociHelpers); code != 0 {
				return exitStatus{code}
			}
			return nil
		},
	}
}

// ociHelpers start the OCI front end's containers as job containers are
// started (runtime.JobHelpers): their seccomp filter compiled once per
// profile, kept in the OCI root (runtime.OCISeccompCache), and loaded by
// dockless-init's loader beside dockless; their init the small one from
// libexec. What is not installed is done libcontainer's way.
func ociHelpers(root string) *runtime.JobHelpers {
	return container.Helpers(container.NodeFacts().InitPath, filepath.Join(root, runtime.OCISeccompCache))
}
