package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:                   "exec",
		Usage:                  "run a command in a running container (its namespaces and cgroup)",
		ArgsUsage:              "CONTAINER COMMAND [ARG...]",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin attached"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "username or UID (format: <name|uid>[:<group|gid>])"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "not supported: see docs/COMPATIBILITY.md"},
			&cli.BoolFlag{Name: "privileged", Usage: "not supported: see docs/COMPATIBILITY.md"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef(`"exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]`)
			}
			if c.Bool("detach") || c.Bool("privileged") {
				return usagef("exec -d and --privileged are not supported: an exec runs in the foreground with the container's own privileges")
			}
			n := nodeOf(c)
			r, err := findContainer(n, c.Args().First())
			if err != nil {
				return err
			}
			env, err := environment(n.caller, c.StringSlice("env-file"), c.StringSlice("env"))
			if err != nil {
				return err
			}
			opts := execOptions{Args: c.Args().Slice()[1:], Env: env, User: c.String("user"), Workdir: c.String("workdir"),
				Tty: c.Bool("tty"), Interactive: c.Bool("interactive")}
			code, err := execIn(n, r, opts)
			if err != nil {
				return err
			}
			return exitStatus{code}
		},
	}
}

type execOptions struct {
	Args, Env        []string
	User, Workdir    string
	Tty, Interactive bool
}

// execIn runs a process in the container r: the container's own process
// settings (environment, capabilities, no-new-privileges, label) with the
// exec's command and overrides, as docker exec does.
func execIn(n *node, r *record, o execOptions) (int, error) {
	dir := filepath.Join(containersDir(n.state), r.ID)
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || s.Process == nil {
		return -1, fmt.Errorf("container %s is not running", r.Name)
	}
	p := *s.Process
	p.Args, p.Terminal, p.ConsoleSize = o.Args, o.Tty, nil
	if o.Workdir != "" {
		if !strings.HasPrefix(o.Workdir, "/") {
			return -1, usagef("the working directory %q is invalid, it needs to be an absolute path", o.Workdir)
		}
		p.Cwd = o.Workdir
	}
	opts := []spec.Opt{spec.WithEnv(o.Env), spec.WithTTY(o.Tty)}
	if o.User != "" {
		u, err := spec.ResolveUser(filepath.Join(dir, "rootfs"), o.User, nil)
		if err != nil {
			return -1, err
		}
		if err := n.policy.CheckUser(u, n.caller); err != nil {
			return -1, err
		}
		ambient := p.Capabilities != nil && len(p.Capabilities.Ambient) > 0
		var bounding []string
		if p.Capabilities != nil {
			bounding = p.Capabilities.Bounding
		}
		opts = append(opts, spec.WithUser(u), spec.WithCapabilities(bounding, ambient))
	}
	ps := &specs.Spec{Process: &p}
	for _, o := range opts {
		if err := o(ps); err != nil {
			return -1, err
		}
	}
	if o.Tty && o.Interactive && !isTerminal(os.Stdin) {
		return -1, usagef("the input device is not a TTY: -i with -t needs a terminal on stdin")
	}
	stdio := runtime.IO{Stdout: os.Stdout, Stderr: os.Stderr, SigProxy: true}
	if o.Interactive {
		stdio.Stdin = os.Stdin
	}
	exit, err := runtime.Exec(runcRoot(n), r.ID, ps.Process, stdio, nil)
	containerRan()
	return exit.Code, err
}
