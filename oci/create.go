package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// The flags create and run share, as runc has them.
func bundleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory, defaults to the current directory"},
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container.  This will cause the container to inherit the calling processes session key"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + N in total)"},
	}
}

// loadBundle reads the container ID argument, makes --pid-file absolute,
// enters the bundle directory (paths in config.json are relative to it)
// and reads and checks its spec, as runc does.
func loadBundle(c *cli.Context) (string, *specs.Spec, error) {
	if err := absPidFile(c); err != nil {
		return "", nil, err
	}
	if b := c.String("bundle"); b != "" {
		if err := os.Chdir(b); err != nil {
			return "", nil, err
		}
	}
	raw, err := os.ReadFile("config.json")
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, errors.New("JSON specification file config.json not found")
	}
	if err != nil {
		return "", nil, err
	}
	var s *specs.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", nil, err
	}
	if s == nil {
		return "", nil, errors.New("config cannot be null")
	}
	if err := runtime.ValidateProcess(s.Process); err != nil {
		return "", nil, err
	}
	if s.Root != nil && !filepath.IsAbs(s.Root.Path) {
		cwd, err := os.Getwd()
		if err != nil {
			return "", nil, err
		}
		s.Root.Path = filepath.Join(cwd, s.Root.Path)
	}
	id, err := ociID(c)
	return id, s, err
}

// absPidFile makes a relative --pid-file relative to where the command
// was run, not to the bundle it enters.
func absPidFile(c *cli.Context) error {
	p := c.String("pid-file")
	if p == "" {
		return nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	return c.Set("pid-file", abs)
}

// ociOptions are the command's flags for the runtime (those it has).
func ociOptions(c *cli.Context) runtime.OCIOptions {
	return runtime.OCIOptions{
		ConsoleSocket: c.String("console-socket"), PidfdSocket: c.String("pidfd-socket"), PidFile: c.String("pid-file"),
		PreserveFDs: c.Int("preserve-fds"), Detach: c.Bool("detach"), Keep: c.Bool("keep"),
		NoSubreaper: c.Bool("no-subreaper"), NoPivot: c.Bool("no-pivot"), NoNewKeyring: c.Bool("no-new-keyring"),
		IgnorePaused: c.Bool("ignore-paused"),
	}
}

// withHelpers is o with the helpers that start a new container as a job
// container's (Run's helpers, for the root), if any.
func withHelpers(c *cli.Context, o runtime.OCIOptions) runtime.OCIOptions {
	if f, ok := c.App.Metadata[helpersKey].(Helpers); ok && f != nil {
		o.Helpers = f(ociRoot(c))
	}
	return o
}

func ociCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container",
		ArgsUsage: "<container-id>",
		Flags:     bundleFlags(),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, exactArgs); err != nil {
				return err
			}
			id, s, err := loadBundle(c)
			if err == nil {
				_, err = runtime.OCIRun(ociRoot(c), id, s, runtime.OCICreate, withHelpers(c, ociOptions(c)))
			}
			if err != nil {
				return fmt.Errorf("runc create failed: %w", err)
			}
			return nil
		},
	}
}

func ociStartCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "executes the user defined process in a created container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
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
		Usage:     "create and run a container",
		ArgsUsage: "<container-id>",
		Flags: append(bundleFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"}),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, exactArgs); err != nil {
				return err
			}
			id, s, err := loadBundle(c)
			if err != nil {
				return fmt.Errorf("runc run failed: %w", err)
			}
			status, err := runtime.OCIRun(ociRoot(c), id, s, runtime.OCIRunning, withHelpers(c, ociOptions(c)))
			if err != nil {
				return fmt.Errorf("runc run failed: %w", err)
			}
			return exitStatus{status}
		},
	}
}
