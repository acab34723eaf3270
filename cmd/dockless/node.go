package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/urfave/cli/v2"
)

// node is what every command knows about where it runs and for whom: the
// caller (read before the setuid split is dropped), the site policy and the
// store and state directories.
type node struct {
	caller *policy.Caller
	policy *policy.Policy
	root   string
	state  string
	// containerd is a containerd daemon's socket holding the images
	// instead of the in-process store ("" for the in-process store).
	containerd string
	log        *logger
	// signals is the process's handling of its caller's signals (nil in
	// tests that run the command line in process).
	signals *signalGuard
}

// setupNode runs before every command: it loads the policy and resolves
// the directories. Only root may point dockless at another policy, store or
// state (a user could otherwise grant themselves anything).
func setupNode(c *cli.Context, caller *policy.Caller, signals *signalGuard) error {
	if !caller.IsRoot() {
		for _, f := range []string{"policy", "root", "state", "containerd-address"} {
			if c.IsSet(f) {
				return usagef("--%s: only root may change dockless's %s (you are %s)", f, f, caller.Name)
			}
		}
	}
	pol, err := policy.Load(c.String("policy"))
	if err != nil {
		return err
	}
	n := &node{caller: caller, policy: pol, root: pol.Store.Root, state: pol.Store.State, log: newLogger(os.Stderr, "WARNING"), signals: signals}
	if c.IsSet("root") {
		n.root = c.String("root")
	}
	if c.IsSet("state") {
		n.state = c.String("state")
	}
	n.containerd = pol.Store.ContainerdAddress
	if c.IsSet("containerd-address") {
		n.containerd = c.String("containerd-address")
	}
	c.App.Metadata = map[string]any{"node": n}
	return nil
}

func nodeOf(c *cli.Context) *node { return c.App.Metadata["node"].(*node) }

// store returns the node's image store, acting for the caller.
func store(c *cli.Context) *images.Store { return nodeOf(c).store() }

func (n *node) store() *images.Store {
	st := images.NewStore(n.root)
	st.AllowDevices = n.policy.Store.LayerDevices
	st.MirrorsDir = n.policy.Registry.MirrorsDir
	st.Proxy = n.policy.Registry.Proxy()
	st.Containerd = n.containerd
	st.As = images.Caller{UID: n.caller.UID, Root: n.caller.IsRoot(), Credentials: credentials(n)}
	st.Offline = n.policy.Registry.Offline
	limits, _ := n.policy.PullLimits() // policy.Load refuses bounds that do not parse
	st.Limits = images.Limits{MaxImageSize: limits.MaxImageSize, MaxImageFiles: limits.MaxImageFiles, MinFreeSpace: limits.MinFreeSpace, Stall: limits.StallTimeout}
	return st
}

// logger writes the seed wrapper's log lines: "dockless[PID]: LEVEL: msg",
// at or above its level (CRITICAL ERROR WARNING INFO DEBUG).
type logger struct {
	w     io.Writer
	level int
}

var logLevels = []string{"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}

func levelIndex(name string) int {
	for i, l := range logLevels {
		if strings.EqualFold(l, name) {
			return i
		}
	}
	return -1
}

func newLogger(w io.Writer, level string) *logger {
	return &logger{w: w, level: levelIndex(level)}
}

// SetLevel changes the level; unknown names are an error naming the valid ones.
func (l *logger) SetLevel(name string) error {
	i := levelIndex(name)
	if i < 0 {
		return usagef("invalid log level %q: use one of %s", name, strings.Join(logLevels, " "))
	}
	l.level = i
	return nil
}

func (l *logger) logf(level int, format string, a ...any) {
	if level > l.level {
		return
	}
	fmt.Fprintf(l.w, "%s dockless[%d]: %s: %s\n", time.Now().Format("Jan 02 15:04:05"), os.Getpid(), logLevels[level], fmt.Sprintf(format, a...))
}

func (l *logger) Debugf(format string, a ...any) { l.logf(4, format, a...) }
func (l *logger) Infof(format string, a ...any)  { l.logf(3, format, a...) }
func (l *logger) Warnf(format string, a ...any)  { l.logf(2, format, a...) }
