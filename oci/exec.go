package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func ociExecCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a process in a running container",
		ArgsUsage: "CONTAINER_ID [COMMAND [ARG...]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json (runtime-spec Process) to run"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the process"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket to send the pty master to"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID[:GID]"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs"},
			&cli.StringFlag{Name: "process-label", Usage: "SELinux process label"},
		},
		SkipFlagParsing: false,
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			p, err := execProcess(c, id)
			if err != nil {
				return err
			}
			if c.Bool("detach") {
				return runtime.ExecDetached(ociRoot(c), id, p, detachOptions(c))
			}
			exit, err := runtime.Exec(ociRoot(c), id, p, ociStdio(c), nil, func(pid int) {
				_ = runtime.WritePidFile(c.String("pid-file"), pid)
			})
			if err != nil {
				return err
			}
			return exitStatus{exit.Code}
		},
	}
}

// execProcess is --process, or the container's own process from its
// bundle with the command and the flags' overrides (as runc exec builds it).
func execProcess(c *cli.Context, id string) (*specs.Process, error) {
	if f := c.String("process"); f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", f, err)
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, fmt.Errorf("exec: no command given (and no --process)")
	}
	st, err := runtime.OCIState(ociRoot(c), id)
	if err != nil {
		return nil, err
	}
	bp, err := bundleProcess(st.Bundle)
	if err != nil {
		return nil, err
	}
	p := *bp
	p.Args, p.Terminal, p.ConsoleSize = c.Args().Slice()[1:], c.Bool("tty"), nil
	ps := &specs.Spec{Process: &p}
	if err := spec.WithEnv(c.StringSlice("env"))(ps); err != nil {
		return nil, err
	}
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		uid, gid, _ := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: want UID[:GID]", u)
		}
		p.User.UID = uint32(n)
		if gid != "" {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: want UID[:GID]", u)
			}
			p.User.GID = uint32(g)
		}
	}
	for _, g := range c.Int64Slice("additional-gids") {
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		var cs specs.LinuxCapabilities // a bundle's process may have none
		if p.Capabilities != nil {
			cs = *p.Capabilities
		}
		for _, cp := range caps {
			n, err := spec.NormalizeCapability(cp)
			if err != nil {
				return nil, err
			}
			cs.Bounding, cs.Effective, cs.Permitted = append(cs.Bounding, n), append(cs.Effective, n), append(cs.Permitted, n)
		}
		p.Capabilities = &cs
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if l := c.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	return &p, nil
}

// bundleProcess is the process of the config.json in bundle.
func bundleProcess(bundle string) (*specs.Process, error) {
	file := filepath.Join(bundle, "config.json")
	var s specs.Spec
	raw, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the container's bundle: %w", err)
	}
	if s.Process == nil {
		return nil, fmt.Errorf("reading the container's bundle: %s has no process", file)
	}
	return s.Process, nil
}
