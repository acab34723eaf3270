package main

import (
	"github.com/dockless/dockless/oci"
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
			if code := oci.Run(append([]string{"dockless oci"}, c.Args().Slice()...)); code != 0 {
				return exitStatus{code}
			}
			return nil
		},
	}
}
