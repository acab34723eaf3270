package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dockless/dockless/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func ociExecCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "execute new process inside the container",
		ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
			&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
			&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
			&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + N in total)"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, minArgs); err != nil {
				return err
			}
			status, err := ociExec(c)
			if err != nil {
				return ociError{255, fmt.Errorf("exec failed: %w", err)}
			}
			return exitStatus{status}
		},
	}
}

func ociExec(c *cli.Context) (int, error) {
	if err := absPidFile(c); err != nil {
		return -1, err
	}
	id, err := ociID(c)
	if err != nil {
		return -1, err
	}
	p, err := execProcess(c, id)
	if err != nil {
		return -1, err
	}
	o := ociOptions(c)
	if o.SubCgroupPaths, err = subCgroupPaths(c.StringSlice("cgroup")); err != nil {
		return -1, err
	}
	return runtime.OCIExec(ociRoot(c), id, p, o)
}

// subCgroupPaths parses the --cgroup values as runc does: one path (cgroup
// v2), or controller[,controller…]:path for each (cgroup v1). The map is
// by controller, "" for the single path.
func subCgroupPaths(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, a := range args {
		ctrs, path, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (missing <controller>: prefix)", a)
			}
			paths[""] = a
			continue
		}
		for _, ctr := range strings.Split(ctrs, ",") {
			if ctr == "" {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (empty <controller> prefix)", a)
			}
			if _, dup := paths[ctr]; dup {
				return nil, fmt.Errorf("invalid --cgroup argument(s): controller %s specified multiple times", ctr)
			}
			paths[ctr] = path
		}
	}
	return paths, nil
}

// execProcess is --process, or the container's own process from its
// bundle with the command and the flags' changes, as runc exec builds it.
func execProcess(c *cli.Context, id string) (*specs.Process, error) {
	if f := c.String("process"); f != "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		return &p, runtime.ValidateProcess(&p)
	}
	st, err := runtime.OCIState(ociRoot(c), id)
	if err != nil {
		return nil, err
	}
	p, err := bundleProcess(st.Bundle)
	if err != nil {
		return nil, err
	}
	if c.NArg() < 2 {
		return nil, errors.New("exec args cannot be empty")
	}
	p.Args = c.Args().Slice()[1:]
	if err := execFlags(c, p); err != nil {
		return nil, err
	}
	return p, runtime.ValidateProcess(p)
}

// execFlags applies exec's flags to the bundle's process.
func execFlags(c *cli.Context, p *specs.Process) error {
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if a := c.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if l := c.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		cs := p.Capabilities
		cs.Bounding, cs.Effective, cs.Permitted = append(cs.Bounding, caps...), append(cs.Effective, caps...), append(cs.Permitted, caps...)
		// Ambient capabilities need inheritable ones, which --cap does
		// not add: only where the spec has some.
		if cs.Inheritable != nil {
			cs.Ambient = append(cs.Ambient, caps...)
		}
	}
	p.Env = append(p.Env, c.StringSlice("env")...)
	p.Terminal = c.Bool("tty")
	if c.IsSet("no-new-privs") {
		p.NoNewPrivileges = c.Bool("no-new-privs")
	}
	if u := c.String("user"); u != "" {
		uid, gid, hasGID := strings.Cut(u, ":")
		if hasGID {
			g, err := strconv.Atoi(gid)
			if err != nil {
				return fmt.Errorf("bad gid: %w", err)
			}
			p.User.GID = uint32(g)
		}
		n, err := strconv.Atoi(uid)
		if err != nil {
			return fmt.Errorf("bad uid: %w", err)
		}
		p.User.UID = uint32(n)
	}
	for _, g := range c.Int64Slice("additional-gids") {
		if g < 0 {
			return fmt.Errorf("additional-gids must be a positive number %d", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	return nil
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
