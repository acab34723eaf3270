package main

import (
	"os"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/runtime"
	"github.com/urfave/cli/v2"
)

func (a *app) execCommand() *cli.Command {
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
				return failuref(`"exec" requires at least 2 arguments: CONTAINER COMMAND [ARG...]`)
			}
			if c.Bool("detach") || c.Bool("privileged") {
				return usagef("exec -d and --privileged are not supported: an exec runs in the foreground with the container's own privileges")
			}
			r, err := a.node.Find(c.Args().First())
			if err != nil {
				return err
			}
			env, err := a.envFlags(c)
			if err != nil {
				return err
			}
			o := container.ExecOptions{Args: c.Args().Slice()[1:], Env: env, User: c.String("user"), Workdir: c.String("workdir"), Tty: c.Bool("tty")}
			return exited(a.exec(r, o, c.Bool("interactive")))
		},
	}
}

// exec runs o in the container r with dockless's stdio (stdin when
// interactive).
func (a *app) exec(r *container.Record, o container.ExecOptions, interactive bool) (int, error) {
	if o.Tty && interactive && !isTerminal(os.Stdin) {
		return -1, failuref("the input device is not a TTY: -i with -t needs a terminal on stdin")
	}
	stdio := runtime.IO{Stdout: os.Stdout, Stderr: os.Stderr, SigProxy: true}
	if interactive {
		stdio.Stdin = os.Stdin
	}
	return a.node.Exec(r, o, stdio)
}
