package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func (a *app) killCommand() *cli.Command {
	return &cli.Command{
		Name:         "kill",
		Usage:        "send a signal to one or more running containers",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		Flags:        []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "signal to send (name or number)"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			sig, err := parseSignal(c.String("signal"))
			if err != nil {
				return err
			}
			return a.eachContainer(c, func(r *container.Record) error { return a.node.Kill(r, sig) })
		},
	}
}

func (a *app) stopCommand() *cli.Command {
	return &cli.Command{
		Name:         "stop",
		Usage:        "stop running containers: their stop signal (SIGTERM), then SIGKILL after the grace period",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		Flags:        []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Usage: "seconds to wait before killing (default: the container's --stop-timeout, or 10)"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			grace := time.Duration(-1)
			if c.IsSet("time") {
				grace = time.Duration(c.Int("time")) * time.Second
			}
			return a.eachContainer(c, func(r *container.Record) error { return a.node.Stop(c.Context, r, grace) })
		},
	}
}

// eachContainer runs fn for each argument, printing each as docker does,
// and fails (after trying all) if any failed.
func (a *app) eachContainer(c *cli.Context, fn func(*container.Record) error) error {
	if c.NArg() < 1 {
		return failuref("%q requires at least 1 argument: CONTAINER", c.Command.Name)
	}
	var failed []string
	for _, ref := range c.Args().Slice() {
		r, err := a.node.Find(ref)
		if err == nil {
			err = fn(r)
		}
		if err != nil {
			failed = append(failed, dockerWords(err).Error())
			continue
		}
		fmt.Fprintln(c.App.Writer, ref)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return nil
}

// parseSignal reads KILL, SIGKILL or 9 (spec.ParseSignal).
func parseSignal(s string) (unix.Signal, error) {
	sig, err := spec.ParseSignal(s)
	if err != nil {
		return 0, usagef("invalid signal: %s", s)
	}
	return sig, nil
}
