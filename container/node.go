package container

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/sirupsen/logrus"
)

// Node is one node's containers as one caller sees them.
type Node struct {
	// Caller is who asks (read before the setuid split is dropped).
	Caller *policy.Caller
	// Policy is the site policy.
	Policy *policy.Policy
	// State is the runtime state directory (records, names, runc's state).
	State string
	// Images is the node's image store, acting for Caller.
	Images Images
	// Facts are the node's facts every spec gets (NodeFacts).
	Facts spec.Host
	// Log is dockless's logger (the seed wrapper's format, set up by cmd).
	Log logrus.FieldLogger
	// Setup is the front end's signal handling, told of the moments of a
	// run that matter to it; nil: nothing to tell.
	Setup SetupHooks
}

// SetupHooks let the front end act at the moments of a run that matter to
// its signal handling.
type SetupHooks interface {
	// SetupDone: the setup is over, and nothing the node's other jobs
	// wait for is held.
	SetupDone()
	// HandOver: the runtime relays the signals to the container from now
	// on, and has changed nothing yet. When HandOver returns, an interrupt
	// the front end took before then has cancelled the run's context; it
	// leaves the interrupts to the runtime until Ran.
	HandOver()
	// Ran: the container (or an exec) ran, or did not start.
	Ran()
}

// Images is what the lifecycle uses of the image store (images.Store).
type Images interface {
	Ensure(ctx context.Context, ref string, pull images.PullPolicy, opts images.PullOptions) (*images.Image, error)
	Prepare(ctx context.Context, key string, img *images.Image) ([]mount.Mount, error)
	Release(ctx context.Context, key string) error
	Unhold(ctx context.Context, img *images.Image) error
	EnforceCap(ctx context.Context, max int64) ([]string, int, error)
}

// jobHelpers are what speeds up a job container's start
// (runtime.JobHelpers): seccomp filters compiled once per profile, kept in
// the state directory and loaded by the node's dockless-init (none where
// the node has no dockless-init), and the small libcontainer init
// (libexec/dockless/dockless-runinit, where it is installed).
func (n *Node) jobHelpers(host spec.Host) *runtime.JobHelpers {
	return Helpers(host.InitPath, filepath.Join(n.State, "seccomp"))
}

// Helpers are the helpers of a container's start (runtime.JobHelpers):
// the seccomp loader initPath (dockless-init, NodeFacts; "": none), whose
// compiled filters are kept in seccompCache, and the small init where it
// is installed. The OCI front end's containers get them too.
func Helpers(initPath, seccompCache string) *runtime.JobHelpers {
	h := &runtime.JobHelpers{}
	if initPath != "" {
		h.SeccompCache, h.Loader = seccompCache, initPath
	}
	if p, err := policy.Libexec("dockless-runinit"); err == nil {
		h.Init = p
	}
	return h
}

// runcRoot is where libcontainer keeps the node's containers' state.
func (n *Node) runcRoot() string { return filepath.Join(n.State, "runc") }

func (n *Node) containersDir() string { return filepath.Join(n.State, "containers") }

func (n *Node) dir(id string) string { return filepath.Join(n.containersDir(), id) }

func (n *Node) exitPath(id string) string { return filepath.Join(n.State, "exits", id) }

func (n *Node) setupDone() {
	if n.Setup != nil {
		n.Setup.SetupDone()
	}
}

// relaying is the runtime's taking over of the signals (runtime.Run): the
// front end hands them over, and a run whose setup an interrupt cancelled
// by then starts nothing.
func (n *Node) relaying(ctx context.Context) func() error {
	return func() error {
		if n.Setup != nil {
			n.Setup.HandOver()
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("container not started: %w", err)
		}
		return nil
	}
}

func (n *Node) ran() {
	if n.Setup != nil {
		n.Setup.Ran()
	}
}

// EnforceCap applies the policy's [store] max_size: the least recently
// used images that no container uses and no run holds go first (a run's
// image is held from Ensure until its snapshot keeps it, so the cap is
// applied after a pull or after a container's rootfs step).
func (n *Node) EnforceCap(ctx context.Context) {
	max, err := n.Policy.MaxStoreSize()
	if err != nil || max <= 0 {
		return
	}
	removed, count, err := n.Images.EnforceCap(ctx, max)
	if err != nil {
		n.Log.Warnf("store size cap: %v", err)
		return
	}
	for _, name := range removed {
		n.Log.Infof("store size cap %d bytes: removed the least recently used image %s", max, name)
	}
	if others := count - len(removed); others > 0 {
		n.Log.Infof("store size cap %d bytes: removed %d least recently used images of other users", max, others)
	}
}
