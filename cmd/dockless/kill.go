package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dockless/dockless/runtime"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func killCommand() *cli.Command {
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
			return eachContainer(c, func(n *node, r *record) error {
				return runtime.Signal(runcRoot(n), r.ID, sig)
			})
		},
	}
}

func stopCommand() *cli.Command {
	return &cli.Command{
		Name:         "stop",
		Usage:        "stop running containers: SIGTERM, then SIGKILL after the grace period",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		Flags:        []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10, Usage: "seconds to wait before killing"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			grace := time.Duration(c.Int("time")) * time.Second
			return eachContainer(c, func(n *node, r *record) error { return stopContainer(c.Context, n, r, grace) })
		},
	}
}

// stopContainer sends SIGTERM, waits up to grace for the container to be
// gone, then SIGKILL, and waits for its dockless to clean up.
func stopContainer(ctx context.Context, n *node, r *record, grace time.Duration) error {
	if err := runtime.Signal(runcRoot(n), r.ID, unix.SIGTERM); err != nil {
		return err
	}
	if waitGone(ctx, n, r, grace) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := runtime.Signal(runcRoot(n), r.ID, unix.SIGKILL); err != nil {
		return err
	}
	waitGone(ctx, n, r, 10*time.Second)
	return ctx.Err()
}

// waitGone waits until the container's record is gone (its dockless has
// cleaned up), timeout passes or ctx is done.
func waitGone(ctx context.Context, n *node, r *record, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := readRecord(n.state, r.ID); err != nil {
			return true
		}
		if !r.launcherAlive() {
			_ = reapOne(n, r)
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// eachContainer runs fn for each argument, printing each as docker does,
// and fails (after trying all) if any failed.
func eachContainer(c *cli.Context, fn func(*node, *record) error) error {
	if c.NArg() < 1 {
		return usagef("%q requires at least 1 argument: CONTAINER", c.Command.Name)
	}
	n := nodeOf(c)
	var failed []string
	for _, ref := range c.Args().Slice() {
		r, err := findContainer(n, ref)
		if err == nil {
			err = fn(n, r)
		}
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		fmt.Fprintln(c.App.Writer, ref)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return nil
}

// parseSignal reads KILL, SIGKILL or 9.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, usagef("invalid signal: %s", s)
}
