package oci

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
)

func ociSpecCommand() *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "create a new specification file (runc's template: sh on a terminal; docker's defaults are dockless run's)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
			&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, exactArgs); err != nil {
				return err
			}
			if b := c.String("bundle"); b != "" {
				if err := os.Chdir(b); err != nil {
					return err
				}
			}
			if _, err := os.Stat("config.json"); err == nil {
				return errors.New("File config.json exists. Remove it first")
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return writeJSON("config.json", runtime.ExampleSpec(c.Bool("rootless")))
		},
	}
}

// ociCriuCommand is a verb of runc's that needs CRIU (checkpoint,
// restore), which dockless-runc refuses: its help works, its action says
// why not (docs/COMPATIBILITY.md).
func ociCriuCommand(name, usage string) *cli.Command {
	return &cli.Command{
		Name:            name,
		Usage:           usage + " (not supported by " + Name + ")",
		ArgsUsage:       "<container-id>",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if slices.Contains(c.Args().Slice(), "--help") || slices.Contains(c.Args().Slice(), "-h") {
				return cli.ShowCommandHelp(c, name)
			}
			return fmt.Errorf("%s is not supported: %s does not checkpoint or restore containers (CRIU); use runc for that", name, Name)
		},
	}
}

func ociCheckpointCommand() *cli.Command {
	return ociCriuCommand("checkpoint", "checkpoint a running container")
}

func ociRestoreCommand() *cli.Command {
	return ociCriuCommand("restore", "restore a container from a previous checkpoint")
}

func ociFeaturesCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "show the enabled features (runtime-spec features JSON)",
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, exactArgs); err != nil {
				return err
			}
			return spec.WriteJSON(c.App.Writer, runtime.Features(c.App.Version))
		},
	}
}
