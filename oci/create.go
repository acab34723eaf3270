package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func bundleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle (default: the current directory)"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the init's pid to this file"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket to send the pty master to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root (for a rootfs on a ramdisk)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a session keyring"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "not supported"},
	}
}

// loadBundle reads the container ID argument, enters the bundle directory
// (relative paths in config.json are relative to it) and reads its spec.
func loadBundle(c *cli.Context) (string, *specs.Spec, error) {
	id, err := ociID(c)
	if err != nil {
		return "", nil, err
	}
	if b := c.String("bundle"); b != "" {
		if err := os.Chdir(b); err != nil {
			return "", nil, fmt.Errorf("bundle %s: %w", b, err)
		}
	}
	raw, err := os.ReadFile("config.json")
	if err != nil {
		return "", nil, fmt.Errorf("reading the bundle's config.json: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", nil, fmt.Errorf("config.json: %w", err)
	}
	if s.Root != nil && !filepath.IsAbs(s.Root.Path) {
		cwd, _ := os.Getwd()
		s.Root.Path = filepath.Join(cwd, s.Root.Path)
	}
	if c.Int("preserve-fds") > 0 {
		return "", nil, fmt.Errorf("--preserve-fds is not supported")
	}
	return id, &s, nil
}

func detachOptions(c *cli.Context) runtime.DetachOptions {
	return runtime.DetachOptions{
		ConsoleSocket: c.String("console-socket"), PidFile: c.String("pid-file"),
		NoPivot: c.Bool("no-pivot"), NoNewKeyring: c.Bool("no-new-keyring"),
	}
}

// ociStdio connects a foreground process to dockless-runc's own stdio
// directly, as runc does: the OCI interface is for root (containerd's shim
// passes fifos it made), so libcontainer's init fchowning them to the
// container's user takes nothing from anyone. The user-facing front ends
// relay instead (see runtime.IO).
func ociStdio(c *cli.Context) runtime.IO {
	return runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Direct: true, SigProxy: true, ConsoleSocket: c.String("console-socket")}
}

func ociCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container from a bundle; its process waits for start",
		ArgsUsage: "CONTAINER_ID",
		Flags:     bundleFlags(),
		Action: func(c *cli.Context) error {
			id, s, err := loadBundle(c)
			if err != nil {
				return err
			}
			return runtime.Create(ociRoot(c), id, s, detachOptions(c))
		},
	}
}

func ociStartCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "run the user process of a created container",
		ArgsUsage: "CONTAINER_ID",
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			return runtime.Start(ociRoot(c), id)
		},
	}
}

func ociRunCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and start a container; in the foreground unless --detach",
		ArgsUsage: "CONTAINER_ID",
		Flags:     append(bundleFlags(), &cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the container"}),
		Action: func(c *cli.Context) error {
			id, s, err := loadBundle(c)
			if err != nil {
				return err
			}
			if c.Bool("detach") {
				if err := runtime.Create(ociRoot(c), id, s, detachOptions(c)); err != nil {
					return err
				}
				return runtime.Start(ociRoot(c), id)
			}
			exit, err := runtime.Run(ociRoot(c), id, s, ociStdio(c), nil, func(pid int) {
				_ = runtime.WritePidFile(c.String("pid-file"), pid)
			})
			if err != nil {
				return err
			}
			return exitStatus{exit.Code}
		},
	}
}
