package main

import (
	"io"
	"os"

	"github.com/containerd/console"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
)

func (a *app) runCommand() *cli.Command {
	return &cli.Command{
		Name:                   "run",
		Usage:                  "run a command in a new container, in the foreground",
		ArgsUsage:              "IMAGE [COMMAND] [ARG...]",
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		Flags:                  runFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return failuref(`"run" requires at least 1 argument: IMAGE [COMMAND] [ARG...]`)
			}
			if err := refuseUnsupported(c); err != nil {
				return err
			}
			req, opts, err := a.runFromFlags(c)
			if err != nil {
				return err
			}
			if err := a.openSources(req.Mounts); err != nil {
				return err
			}
			defer spec.CloseBinds(req.Mounts)
			if c.Bool("tty") && c.Bool("interactive") && !isTerminal(os.Stdin) {
				return failuref("the input device is not a TTY: -i with -t needs a terminal on stdin (drop -t, or run under a terminal)")
			}
			stdio := runtime.IO{Stdout: os.Stdout, Stderr: os.Stderr, SigProxy: c.Bool("sig-proxy")}
			if c.Bool("interactive") {
				stdio.Stdin = os.Stdin
			}
			return exited(a.node.Run(c.Context, req, opts, stdio))
		},
	}
}

// exited turns a container's exit status into the command's result.
func exited(code int, err error) error {
	if err != nil {
		return err
	}
	return exitStatus{code}
}

// progress is where a container's pull progress goes: stderr, as bars on
// a terminal, or nowhere when quiet.
func progress(quiet bool) (io.Writer, bool) {
	if quiet {
		return nil, false
	}
	return os.Stderr, barsOn(os.Stderr)
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cidfile", Usage: "write the container ID to the file"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "username or UID (format: <name|uid>[:<group|gid>])"},
		&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}, Usage: "bind mount a host directory: SRC:DST[:ro|rw]"},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory inside the container"},
		&cli.BoolFlag{Name: "rm", Usage: "remove the container when it exits (always done: see docs/COMPATIBILITY.md)"},
		&cli.StringFlag{Name: "hostname", Aliases: []string{"h"}, Usage: "container host name"},
		&cli.StringFlag{Name: "name", Usage: "assign a name to the container"},
		&cli.StringSliceFlag{Name: "mount", Usage: "attach a bind mount: type=bind,source=SRC,target=DST[,readonly]"},
		&cli.StringSliceFlag{Name: "group-add", Usage: "add a supplementary group (name or GID)"},
		&cli.StringSliceFlag{Name: "security-opt", Usage: "security options: label=..., no-new-privileges, seccomp=unconfined|PROFILE.json"},
		&cli.StringFlag{Name: "gpus", Usage: "GPUs to add, through the node's CDI spec: all, N, device=I[,J] or device=GPU-<uuid>"},
		&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "proxy received signals to the process"},
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "keep stdin attached"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable: KEY=VALUE or KEY"},
		&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file"},
		&cli.Int64Flag{Name: "cpu-shares", Aliases: []string{"c"}, Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "memory", Aliases: []string{"m"}, Usage: "memory limit (e.g. 4096m)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit; -1 for unlimited swap"},
		&cli.StringSliceFlag{Name: "cap-drop", Usage: "drop Linux capabilities (or ALL)"},
		&cli.StringSliceFlag{Name: "cap-add", Usage: "add Linux capabilities (or ALL)"},
		&cli.StringSliceFlag{Name: "device", Usage: "add a host device HOST[:CONTAINER][:rwm], or a CDI device vendor.com/class=name"},
		&cli.StringSliceFlag{Name: "ulimit", Usage: "ulimit: NAME=SOFT[:HARD], -1 unlimited"},
		&cli.StringFlag{Name: "entrypoint", Usage: "overwrite the image ENTRYPOINT"},
		&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Value: "host", Usage: "network mode: host or none"},
		&cli.StringFlag{Name: "ipc", Usage: "IPC mode: private or host"},
		&cli.StringFlag{Name: "shm-size", Usage: "size of /dev/shm (e.g. 20G)"},
		&cli.BoolFlag{Name: "read-only", Usage: "mount the root filesystem read-only"},
		&cli.StringSliceFlag{Name: "add-host", Usage: "add a host-to-IP mapping: HOST:IP"},
		&cli.StringFlag{Name: "cgroup-parent", Usage: "absolute cgroup to create the container in (trusted callers only)"},
		&cli.StringFlag{Name: "pull", Value: "missing", Usage: "pull image before running: always, missing, never"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "suppress the pull output"},
		&cli.BoolFlag{Name: "init", Usage: "run an init (dockless's own) as PID 1 that forwards signals and reaps processes"},
		&cli.StringSliceFlag{Name: "tmpfs", Usage: "mount a tmpfs: DST[:OPTIONS]"},
		&cli.StringFlag{Name: "cpus", Usage: "number of CPUs (e.g. 1.5)"},
		&cli.Int64Flag{Name: "cpu-period", Usage: "CPU CFS period in microseconds"},
		&cli.Int64Flag{Name: "cpu-quota", Usage: "CPU CFS quota in microseconds"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs the container may use (0-3, 0,1)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes the container may use (0-3, 0,1)"},
		&cli.Int64Flag{Name: "pids-limit", Usage: "limit the number of processes (-1: unlimited)"},
		&cli.IntFlag{Name: "oom-score-adj", Usage: "OOM score adjustment (-1000 to 1000; below your own: trusted callers only)"},
		&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set metadata: KEY=VALUE"},
		&cli.StringSliceFlag{Name: "label-file", Usage: "read labels from a file of KEY=VALUE lines"},
		&cli.StringSliceFlag{Name: "dns", Usage: "name server for the container's resolv.conf"},
		&cli.StringSliceFlag{Name: "dns-search", Usage: "DNS search domain (. for none)"},
		&cli.StringSliceFlag{Name: "dns-option", Usage: "resolv.conf option (e.g. ndots:2)"},
		&cli.StringFlag{Name: "stop-signal", Usage: "signal `dockless stop` sends first (default SIGTERM)"},
		&cli.IntFlag{Name: "stop-timeout", Usage: "seconds `dockless stop` waits before SIGKILL (-1: forever)"},
		&cli.StringSliceFlag{Name: "publish", Aliases: []string{"p"}, Usage: "publish ports: discarded, as with docker's --network host (the container's ports are the node's)"},
		// Accepted by docker, refused here with the reason (refuseUnsupported).
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "not supported: see docs/COMPATIBILITY.md"},
		&cli.BoolFlag{Name: "privileged", Usage: "not supported: see docs/COMPATIBILITY.md"},
	}
}

// refusals name each docker flag dockless accepts only to refuse, and why.
var refusals = map[string]string{
	"detach":     "-d/--detach is not supported: dockless runs the container in the foreground as a child of the job, so that LSF tracks, signals and accounts it",
	"privileged": "--privileged is not supported: it would give the container every capability and device of the node",
}

func refuseUnsupported(c *cli.Context) error {
	for _, f := range []string{"detach", "privileged"} {
		if c.IsSet(f) {
			return usagef("%s", refusals[f])
		}
	}
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := console.ConsoleFromFile(f)
	return err == nil
}

// barsOn reports whether f is a terminal wide enough for progress bars.
func barsOn(f *os.File) bool {
	c, err := console.ConsoleFromFile(f)
	if err != nil {
		return false
	}
	sz, err := c.Size()
	return err == nil && sz.Width >= 40
}
