package main

import (
	"io"
	"time"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/lsf"
	"github.com/dockless/dockless/oci"
	"github.com/dockless/dockless/policy"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// app is what dockless's commands share: who asks, the process's signal
// handling, and, once Before ran, the node (policy, store, state) and its
// image store. Each command is a method, so that its dependencies are
// these fields and nothing global.
type app struct {
	caller  *policy.Caller
	signals *signalGuard
	log     *logrus.Logger
	node    *container.Node
	store   *images.Store
}

// newApp is dockless's command line for caller, logging to logs;
// signals, if set, is installed for every command but the OCI interface.
func newApp(caller *policy.Caller, signals *signalGuard, logs io.Writer) *cli.App {
	a := &app{caller: caller, signals: signals, log: newLogger(logs)}
	return a.cli()
}

// newLogger is dockless's logger: the seed wrapper's format, WARNING and
// above until --debug or the LSF job's log level says otherwise.
func newLogger(w io.Writer) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(lsf.LogFormatter{})
	l.SetLevel(logrus.WarnLevel)
	return l
}

func (a *app) cli() *cli.App {
	return &cli.App{
		Name:                      "dockless",
		Usage:                     "daemonless, docker-compatible containers for LSF jobs",
		Version:                   version,
		DisableSliceFlagSeparator: true,
		// -h is docker's --hostname: help is --help only (withHelp).
		HideHelp:        true,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError:    onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "policy", Value: policy.DefaultPath, Usage: "site policy file (root only)"},
			&cli.StringFlag{Name: "root", Value: images.DefaultRoot, Usage: "image store directory (root only; default from the policy)"},
			&cli.BoolFlag{Name: "debug", Usage: "log what containerd and libcontainer do"},
			&cli.StringFlag{Name: "containerd-address", Usage: "keep images in this containerd daemon instead of the in-process store (root only; default from the policy)"},
			&cli.StringFlag{Name: "state", Value: "/run/dockless", Usage: "runtime state directory (root only; default from the policy)"},
			help,
		},
		Before: a.setup,
		Commands: oci.WithHelp(help, []*cli.Command{
			a.runCommand(), a.lsfCommand(), a.execCommand(), a.psCommand(), a.inspectCommand(),
			a.killCommand(), a.stopCommand(), a.rmCommand(), a.pauseCommand(), a.unpauseCommand(),
			a.statsCommand(), a.waitCommand(), a.systemCommand(), a.ociCommand(), a.loginCommand(),
			a.imageCommand(), a.logoutCommand(), a.pullCommand(), a.imagesCommand(), a.rmiCommand(),
			a.cdiCommand(), a.pushCommand(), a.tagCommand(), a.buildCommand(),
		}),
	}
}

// help is dockless's --help: urfave/cli's own also takes -h, docker's
// --hostname.
var help = &cli.BoolFlag{Name: "help", Usage: "show help"}

// setup runs before every command: it loads the policy and resolves the
// directories. Only root may point dockless at another policy, store or
// state (a user could otherwise grant themselves anything).
func (a *app) setup(c *cli.Context) error {
	if c.Bool("debug") {
		a.log.SetLevel(logrus.DebugLevel)
		logrus.SetLevel(logrus.DebugLevel)
	}
	if a.signals != nil && c.Args().First() != "oci" {
		a.signals.install()
	}
	if !a.caller.IsRoot() {
		for _, f := range []string{"policy", "root", "state", "containerd-address"} {
			if c.IsSet(f) {
				return usagef("--%s: only root may change dockless's %s (you are %s)", f, f, a.caller.Name)
			}
		}
	}
	pol, err := policy.Load(c.String("policy"))
	if err != nil {
		return err
	}
	root, state, containerd := pol.Store.Root, pol.Store.State, pol.Store.ContainerdAddress
	if c.IsSet("root") {
		root = c.String("root")
	}
	if c.IsSet("state") {
		state = c.String("state")
	}
	if c.IsSet("containerd-address") {
		containerd = c.String("containerd-address")
	}
	a.store = newStore(pol, a.caller, root, containerd, a.log)
	a.node = &container.Node{Caller: a.caller, Policy: pol, State: state, Images: a.store, Facts: container.NodeFacts(), Log: a.log}
	if a.signals != nil {
		a.node.Setup = a.signals
	}
	return nil
}

// newStore is the node's image store acting for caller, under the policy.
func newStore(pol *policy.Policy, caller *policy.Caller, root, containerd string, log logrus.FieldLogger) *images.Store {
	st := images.NewStore(root)
	st.AllowDevices = pol.Store.LayerDevices
	st.SharedCache = pol.Store.SharedCache
	st.MirrorsDir = pol.Registry.MirrorsDir
	st.Proxy = pol.Registry.Proxy()
	st.Containerd = containerd
	st.As = images.Caller{UID: caller.UID, Root: caller.IsRoot(), Credentials: images.CallerCredentials(caller)}
	st.Offline = pol.Registry.Offline
	st.Revalidate = time.Duration(pol.Registry.RevalidateSeconds) * time.Second
	st.PolicySource = pol.Source()
	st.Log = log
	limits, _ := pol.PullLimits() // policy.Load refuses bounds that do not parse
	st.Limits = images.Limits{MaxImageSize: limits.MaxImageSize, MaxImageFiles: limits.MaxImageFiles, MinFreeSpace: limits.MinFreeSpace, Stall: limits.StallTimeout}
	return st
}

// trustedOnly refuses callers who are not root or trusted: the image store
// and the node's state are shared by every user of the node.
func (a *app) trustedOnly(what string) error {
	if a.node.Policy.Trusted(a.caller) {
		return nil
	}
	return usagef("%s: refused by [callers] trusted in %s: the node's images and containers are shared, only root and trusted callers may do this", what, a.node.Policy.Source())
}

func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError{err} }
