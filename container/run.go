package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/docker/go-units"
	"github.com/dockless/dockless/hooks"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
	"golang.org/x/sys/unix"
)

// Options are the parts of a run that are not the container itself.
type Options struct {
	Name string
	// CIDFile is a caller-named file created as the caller; StateCIDFile
	// is one dockless keeps in its state directory (LSF jobs).
	CIDFile      string
	StateCIDFile bool
	// Pull is docker's --pull.
	Pull images.PullPolicy
	// Progress receives the pull's progress (nil: quiet); Bars draws it
	// as bars (a terminal).
	Progress io.Writer
	Bars     bool
	// Etc are generated files bound read-only at /etc/<name> (passwd, group).
	Etc map[string][]byte
	// SpecOnly receives the config.json instead of running anything.
	SpecOnly io.Writer
}

// launch is one container on its way: what Run's steps decided so far.
type launch struct {
	n    *Node
	req  spec.Request
	opts Options
	img  *images.Image
	id   string
	name string
	dir  string
	rec  *Record
	host spec.Host
	// binds are the request's, staged, the generated /etc files' and the
	// image's volumes'; staged what is mounted in the state directory for
	// them.
	binds   []spec.Bind
	staged  []string
	volumes []spec.Bind
	spec    *specs.Spec
	// member is set for a container that tasks join (shared.go), holder
	// when its process is the holder.
	member *Member
	holder bool
	// rootfsOwned: the rootfs step took over the container's snapshot
	// (its cleanup removes it), wherever it was prepared.
	rootfsOwned bool
}

// Run runs req in the foreground and returns the container's exit status.
// The policy applies first (Apply, Check); then each step below returns
// its own cleanup, and whatever happens Run leaves no mount, snapshot,
// state directory, name reservation or hold on an image behind. With
// opts.SpecOnly it writes the spec instead (writeSpec).
func (n *Node) Run(ctx context.Context, req *spec.Request, opts Options, stdio runtime.IO) (int, error) {
	if err := n.Policy.Apply(req, n.Caller); err != nil {
		return -1, err
	}
	if err := n.Policy.Check(req, n.Caller); err != nil {
		return -1, err
	}
	l, err := n.newLaunch(req, opts)
	if err != nil {
		return -1, err
	}
	if opts.SpecOnly != nil {
		return 0, l.writeSpec(ctx, opts.SpecOnly)
	}
	n.reap()
	undo, err := l.setup(ctx)
	defer undo()
	if err != nil {
		return -1, err
	}
	return l.start(ctx, stdio)
}

// reap reaps before a container is made (Reap), saying what it did.
func (n *Node) reap() {
	count, err := n.Reap()
	if count > 0 {
		n.Log.Infof("cleaned up %d containers left by dockless processes that died", count)
	}
	if err != nil {
		n.Log.Warnf("%v", err)
	}
}

// setup runs the steps and returns what undoes those that ran, in
// reverse, also when one failed.
func (l *launch) setup(ctx context.Context) (func(), error) {
	var undo []func()
	undoAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	for _, step := range l.steps(ctx) {
		cleanup, err := step()
		if cleanup != nil {
			undo = append(undo, cleanup)
		}
		if err != nil {
			return undoAll, err
		}
	}
	return undoAll, nil
}

// steps are the setup of a container, in order; each returns what undoes
// it (nil: nothing), also when it fails half-way.
func (l *launch) steps(ctx context.Context) []func() (func(), error) {
	return []func() (func(), error){
		l.record,
		func() (func(), error) { return l.image(ctx) },
		l.reserveName,
		l.cidFiles,
		func() (func(), error) { return l.rootfs(ctx) },
		func() (func(), error) { return l.enforceCap(ctx) },
		l.user,
		l.etcFiles,
		l.imageVolumes,
		l.stageBinds,
		l.buildSpec,
	}
}

// image resolves the image under the pull policy, held (images.PullOptions
// Hold): no dockless's size cap evicts it before the rootfs step's
// snapshot keeps it. Its cleanup lets go of the hold if the run never got
// that far; an interrupted run does not wait for the store for it, since
// a hold dies with its process.
//
// An image usable as it is in the store gets the container's snapshot in
// the same store session instead (images.PullOptions.Prepare): the rootfs
// step then only mounts it, and this cleanup removes it if the run never
// got that far.
func (l *launch) image(ctx context.Context) (func(), error) {
	img, err := l.n.ensure(ctx, &l.req, l.opts, l.id)
	if err != nil {
		return nil, err
	}
	l.img = img
	cleanup := func() {
		if img.Mounts != nil && !l.rootfsOwned {
			if err := l.n.Images.Release(context.Background(), l.id); err != nil {
				l.n.Log.Errorf("%v", err)
			}
		}
		if err := l.n.Images.Unhold(ctx, img); err != nil && ctx.Err() == nil {
			l.n.Log.Warnf("%v", err)
		}
	}
	l.rec.Image = img.Name
	return cleanup, l.n.writeRecord(l.rec)
}

// ensure resolves the request's image under the pull policy, held for the
// container id ("": not held).
func (n *Node) ensure(ctx context.Context, req *spec.Request, opts Options, id string) (*images.Image, error) {
	n.Log.Infof("image %s (pull policy %s)", req.Image, opts.Pull)
	return n.Images.Ensure(ctx, req.Image, opts.Pull, images.PullOptions{Progress: opts.Progress, Bars: opts.Bars, Hold: id != "", Prepare: id})
}

// enforceCap applies the store's size cap once the container's snapshot
// keeps its image (Node.EnforceCap): the image about to start is in use.
func (l *launch) enforceCap(ctx context.Context) (func(), error) {
	l.n.EnforceCap(ctx)
	return nil, nil
}

func (n *Node) newLaunch(req *spec.Request, opts Options) (*launch, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(b)
	l := &launch{n: n, req: *req, opts: opts, id: id, name: opts.Name, dir: n.dir(id)}
	if l.name == "" {
		l.name = id[:12]
	}
	if l.req.Hostname == "" {
		l.req.Hostname = defaultHostname(l.req.Network, id)
	}
	l.host = n.Facts
	l.host.Rootfs, l.host.EtcDir, l.host.CgroupsPath = filepath.Join(l.dir, "rootfs"), l.dir, "dockless-"+id[:12]
	if l.req.FixedUser {
		l.host.User = l.req.User
	}
	return l, nil
}

// record writes the container's record first, before the image step may
// prepare its snapshot: whatever exists of the container from then on, a
// later dockless can find and reap it, however this one ends. Its cleanup,
// the last to run, removes the whole state directory. The record names the
// image as asked until the image step finds it.
func (l *launch) record() (func(), error) {
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	cleanup := func() { l.n.removeState(l.dir) }
	l.rec = &Record{ID: l.id, Name: l.name, Image: l.req.Image, Command: l.req.Cmd, Owner: l.n.Caller.UID,
		Created: time.Now().UTC(), Launcher: os.Getpid(), Memory: l.req.Memory,
		Labels: l.req.Labels, StopSignal: l.req.StopSignal, StopTimeout: l.req.StopTimeout}
	if l.member != nil {
		l.rec.Shared, l.rec.JobCgroups = l.member.Key, l.member.Cgroups
	}
	var err error
	if l.rec.LauncherStart, err = processStart(os.Getpid()); err != nil {
		return cleanup, err
	}
	return cleanup, l.n.writeRecord(l.rec)
}

// rootfs prepares the image's snapshot and mounts it.
func (l *launch) rootfs(ctx context.Context) (func(), error) {
	if err := os.Mkdir(l.host.Rootfs, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	mounts := l.img.Mounts
	if mounts == nil {
		l.n.Log.Debugf("preparing the rootfs snapshot of %s", l.id)
		var err error
		if mounts, err = l.n.Images.Prepare(ctx, l.id, l.img); err != nil {
			return nil, err
		}
	}
	l.rootfsOwned = true
	mounted := false
	cleanup := func() {
		if mounted {
			l.n.unmount(l.host.Rootfs)
		}
		if err := l.n.Images.Release(context.Background(), l.id); err != nil {
			l.n.Log.Errorf("%v", err)
		}
	}
	if err := images.MountAll(volatile(mounts), l.host.Rootfs); err != nil {
		if !errors.Is(err, unix.EINVAL) {
			return cleanup, fmt.Errorf("mounting rootfs: %w", err)
		}
		// A kernel before 5.10, or an upper filesystem overlayfs cannot
		// leave unsynced: mounted as it comes.
		if err := images.MountAll(mounts, l.host.Rootfs); err != nil {
			return cleanup, fmt.Errorf("mounting rootfs: %w", err)
		}
	}
	mounted = true
	return cleanup, nil
}

// volatile returns the rootfs mounts with overlayfs's "volatile" option:
// overlayfs then passes no sync of the container's writes to the
// filesystem under the store (no fsync, syncfs, or sync of the whole
// filesystem at the unmount, which cost ~0.4–1 ms a start). A job
// container's writable layer lives only as long as the container (dockless
// keeps no stopped containers; podman mounts its --rm containers so for
// the same reason); after a crash of the node, the reaper removes it.
// overlayfs then refuses to mount that upper directory again (it leaves
// work/incompat/volatile): dockless never mounts a container's snapshot
// twice.
func volatile(mounts []mount.Mount) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		out[i] = m
		if m.Type == "overlay" && slices.ContainsFunc(m.Options, func(o string) bool { return strings.HasPrefix(o, "upperdir=") }) {
			out[i].Options = append(slices.Clip(m.Options), "volatile")
		}
	}
	return out
}

// user resolves the process's identity against the image (unless the
// front end fixed it) and checks it against the policy.
func (l *launch) user() (func(), error) {
	if !l.req.FixedUser {
		userSpec := l.req.UserSpec
		if userSpec == "" {
			userSpec = l.img.Config.Config.User
		}
		u, err := spec.ResolveUser(l.host.Rootfs, userSpec, l.req.GroupAdd)
		if err != nil {
			return nil, err
		}
		l.host.User = u
	}
	return nil, l.n.Policy.CheckUser(l.host.User, l.n.Caller)
}

// buildSpec builds the runtime spec, places its mounts (mounttree.go) and
// writes it to the state directory.
func (l *launch) buildSpec() (func(), error) {
	s, err := l.build()
	if err == nil {
		err = l.siteHooks(s)
	}
	if err != nil {
		return nil, err
	}
	if err := l.assembleMounts(s); err != nil {
		return nil, err
	}
	l.spec = s
	f, err := os.OpenFile(filepath.Join(l.dir, "config.json"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	return nil, errors.Join(spec.WriteJSON(f, s), f.Close())
}

func (l *launch) build() (*specs.Spec, error) {
	r := l.req
	r.Mounts = l.binds
	s, err := spec.Build(&r, l.img.Config.Config, l.n.deadArchs(l.host))
	if err != nil {
		return nil, err
	}
	if l.holder {
		if err := spec.WithHolder(l.host.InitPath)(s); err != nil {
			return nil, err
		}
	}
	if err := l.injectDevices(s); err != nil {
		return nil, err
	}
	return s, nil
}

// siteHooks adds the site's OCI hooks whose conditions s meets ([hooks]
// dirs): once per container, never per exec.
func (l *launch) siteHooks(s *specs.Spec) error {
	hs, err := hooks.Load(l.n.Policy.Hooks.Dirs)
	if err != nil {
		return err
	}
	hooks.Apply(s, hs, len(l.binds) > 0)
	return nil
}

// writeSpec writes the config.json the container would run. Of the node
// it changes nothing but what pulling the image takes (no reaping, no
// hold, no size cap), and it starts and mounts nothing: the user's binds
// get their staged paths only.
func (l *launch) writeSpec(ctx context.Context, w io.Writer) error {
	img, err := l.n.ensure(ctx, &l.req, l.opts, "")
	if err != nil {
		return err
	}
	l.img = img
	l.binds = slices.Clone(l.req.Mounts)
	stagePaths(l.dir, l.binds)
	vols, err := volumeBinds(l.dir, l.img.Config.Config.Volumes, &l.req)
	if err != nil {
		return err
	}
	l.binds = append(append(l.binds, etcBinds(l.dir, l.opts.Etc)...), vols...)
	s, err := l.build()
	if err == nil {
		err = l.siteHooks(s)
	}
	if err != nil {
		return err
	}
	return spec.WriteJSON(w, s)
}

// start runs the container and waits for it; its exit status is left for
// `dockless wait`.
func (l *launch) start(ctx context.Context, stdio runtime.IO) (int, error) {
	n := l.n
	n.Log.Debugf("equivalent docker command: %s", DockerLine(&l.req, l.host, l.name, l.img.Name))
	n.Log.Debugf("OCI config: %s", filepath.Join(l.dir, "config.json"))
	// A stop asked for during the setup is honoured here, where nothing
	// the node's other jobs wait for is held.
	n.setupDone()
	n.Log.Infof("starting container %s (%s)", l.name, l.id)
	// From here this dockless starts the container, relays its stdio and
	// signals, waits and tears it down: one processor is all it uses. A
	// second one only made the Go runtime's threads hand work over (a
	// storm of 32 starts on 2 cores: 3.1 s against 2.85, BENCHMARKS.md);
	// a single start takes as long. The image's pull, which decompresses
	// layers in parallel, is done by now.
	goruntime.GOMAXPROCS(1)
	exit, err := runtime.Run(n.runcRoot(), l.id, l.spec, n.jobHelpers(l.host), stdio, n.relaying(ctx), func(pid int) {
		l.rec.InitPid = pid
		if err := n.writeRecord(l.rec); err != nil {
			n.Log.Warnf("recording container %s: %v", l.name, err)
		}
	})
	n.ran()
	if err != nil {
		return -1, rlimitHint(err, l.req.Rlimits)
	}
	n.Log.Debugf("container %s exited with %d", l.name, exit.Code)
	if exit.OOMKilled {
		n.Log.Errorf("container %s was killed: it exceeded its memory limit of %s (-m, or [job] memory in the policy)", l.name, units.BytesSize(float64(l.req.Memory)))
	}
	if err := os.MkdirAll(filepath.Dir(n.exitPath(l.id)), 0o700); err == nil {
		_ = os.WriteFile(n.exitPath(l.id), []byte(strconv.Itoa(exit.Code)), 0o600)
	}
	return exit.Code, nil
}

// NodeFacts reads what the node itself tells every container's spec: the
// cgroup hierarchy, whether SELinux is enabled, the CPUs and the init of
// --init (Node.Facts). Which seccomp architectures the kernel runs no call
// of is asked when a spec is built (deadArchs): the x86 probe starts a
// program, which the commands that build none need not pay for.
func NodeFacts() spec.Host {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return spec.Host{CgroupV2: err == nil, SELinux: selinux.GetEnabled(), CPUs: goruntime.NumCPU(), InitPath: initProgram()}
}

// initProgram is the init of --init containers: the static dockless-init
// installed beside the dockless executable. It runs in every user's
// containers, so it and its directory must be root's and writable by no
// one else ("" when it is not there or not so).
func initProgram() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), "dockless-init")
	for _, path := range []string{filepath.Dir(exe), p} {
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil || st.Uid != 0 || st.Mode&0o022 != 0 {
			return ""
		}
	}
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return p
}

func defaultHostname(network, id string) string {
	if network == "host" {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	return id[:12]
}

// rlimitHint turns libcontainer's bare EPERM for an rlimit above the node's
// hard limit into a message that names the limit.
func rlimitHint(err error, limits []specs.POSIXRlimit) error {
	if !strings.Contains(err.Error(), "setrlimit") && !strings.Contains(err.Error(), "rlimit") {
		return err
	}
	var names []string
	for _, r := range limits {
		v := "unlimited"
		if r.Hard != ^uint64(0) {
			v = fmt.Sprint(r.Hard)
		}
		names = append(names, strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))+"="+v)
	}
	return fmt.Errorf("%w (ulimits asked: %s; this node does not let dockless raise a hard limit past its own: lower the ulimit or the policy's [job] ulimits)", err, strings.Join(names, " "))
}
