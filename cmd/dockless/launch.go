package main

import (
	"strconv"
	"time"

	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/docker/go-units"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// launchOptions are the parts of a run that are not the container itself.
type launchOptions struct {
	Name string
	// CIDFile is a caller-named file created as the caller; StateCIDFile
	// is one dockless keeps in its state directory (LSF jobs).
	CIDFile      string
	StateCIDFile bool
	// Pull is docker's --pull: always, missing or never.
	Pull  string
	Quiet bool
	// Etc are generated files bound read-only at /etc/<name> (passwd, group).
	Etc map[string][]byte
	// SpecOnly receives the config.json instead of running anything.
	SpecOnly io.Writer
}

// launch runs req in the foreground and returns the container's exit
// status. Whatever happens, it leaves no mount, snapshot, state directory
// or name reservation behind.
func launch(c *cli.Context, req *spec.Request, opts launchOptions, stdio runtime.IO) (int, error) {
	n := nodeOf(c)
	if err := n.policy.Check(req, n.caller); err != nil {
		return -1, err
	}
	if opts.SpecOnly == nil {
		if count, err := reap(n); err != nil {
			n.log.Warnf("%v", err)
		} else if count > 0 {
			n.log.Infof("cleaned up %d containers left by dockless processes that died", count)
		}
	}
	st := n.store()
	// Until the container runs, an interrupt cancels ctx and the deferred
	// cleanups run (see signals.go); from then on runtime.Run relays them.
	ctx := c.Context

	var progress io.Writer = os.Stderr
	if opts.Quiet {
		progress = nil
	}
	n.log.Infof("image %s (pull policy %s)", req.Image, opts.Pull)
	img, err := ensureImage(ctx, n, st, req.Image, opts.Pull, progress)
	if err != nil {
		return -1, err
	}
	enforceCap(c)

	id, err := newID()
	if err != nil {
		return -1, err
	}
	name := opts.Name
	if name == "" {
		name = id[:12]
	}
	dir := filepath.Join(n.state, "containers", id)
	rootfs := filepath.Join(dir, "rootfs")
	req.Rootfs, req.EtcDir = rootfs, dir
	req.CgroupsPath = "dockless-" + id[:12]
	if req.Hostname == "" {
		req.Hostname = defaultHostname(req.Network, id)
	}
	if opts.SpecOnly != nil {
		binds := slices.Clone(req.Mounts)
		stagePaths(dir, binds)
		s, err := finishSpec(req, append(binds, etcBinds(dir, opts.Etc)...), img)
		if err != nil {
			return -1, err
		}
		return 0, writeJSONTo(opts.SpecOnly, s)
	}

	// The record comes first and goes last: whatever exists of the
	// container in between, a later dockless can find and reap it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return -1, fmt.Errorf("creating state directory: %w", err)
	}
	defer removeState(dir)
	rec := &record{ID: id, Name: name, Image: img.Name, Command: req.Cmd, Owner: n.caller.UID, Created: time.Now().UTC(),
		Launcher: os.Getpid(), Memory: req.Memory}
	if rec.LauncherStart, err = processStart(os.Getpid()); err != nil {
		return -1, err
	}
	if err := writeRecord(n.state, rec); err != nil {
		return -1, err
	}
	release, err := reserveName(n.state, name, id)
	if err != nil {
		return -1, err
	}
	defer release()
	if err := writeCIDFile(n, opts, name, id); err != nil {
		return -1, err
	}
	if opts.StateCIDFile {
		defer os.Remove(stateCIDFile(n, name))
	}

	if err := os.Mkdir(rootfs, 0o700); err != nil {
		return -1, fmt.Errorf("creating state directory: %w", err)
	}

	n.log.Debugf("preparing the rootfs snapshot of %s", id)
	mounts, err := st.Prepare(ctx, id, img)
	if err != nil {
		return -1, err
	}
	defer func() {
		if err := st.Release(context.Background(), id); err != nil {
			fmt.Fprintf(os.Stderr, "dockless: %v\n", err)
		}
	}()
	if err := mount.All(mounts, rootfs); err != nil {
		return -1, fmt.Errorf("mounting rootfs: %w", err)
	}
	defer unmount(rootfs)

	if !req.FixedUser {
		if req.UserSpec == "" {
			req.UserSpec = img.Config.Config.User
		}
		if req.User, err = spec.ResolveUser(rootfs, req.UserSpec, req.GroupAdd); err != nil {
			return -1, err
		}
	}
	if err := n.policy.CheckUser(req.User, n.caller); err != nil {
		return -1, err
	}
	if err := writeEtcFiles(dir, req, opts.Etc); err != nil {
		return -1, err
	}
	binds := slices.Clone(req.Mounts)
	staged, err := stageBinds(dir, binds)
	defer func() { unstage(staged) }()
	if err != nil {
		return -1, err
	}
	binds = append(binds, etcBinds(dir, opts.Etc)...)
	s, err := finishSpec(req, binds, img)
	if err != nil {
		return -1, err
	}
	if err := assembleMounts(n.caller, s, binds, dir, &staged); err != nil {
		return -1, err
	}
	cfgPath := filepath.Join(dir, "config.json")
	if err := writeJSON(cfgPath, s); err != nil {
		return -1, err
	}
	n.log.Debugf("equivalent docker command: %s", dockerLine(req, name, img.Name))
	n.log.Debugf("OCI config: %s", cfgPath)
	// A stop asked for during the setup is honoured here, where nothing
	// the node's other jobs wait for is held.
	n.signals.stopIfAsked()
	n.log.Infof("starting container %s (%s)", name, id)
	exit, err := runtime.Run(ctx, runcRoot(n), id, s, stdio, func(pid int) {
		rec.InitPid = pid
		if err := writeRecord(n.state, rec); err != nil {
			n.log.Warnf("recording container %s: %v", name, err)
		}
	})
	containerRan()
	if err != nil {
		return -1, rlimitHint(err, req)
	}
	n.log.Debugf("container %s exited with %d", name, exit.Code)
	if exit.OOMKilled {
		fmt.Fprintf(os.Stderr, "dockless: container %s was killed: it exceeded its memory limit of %s (-m, or [job] memory in the policy)\n", name, units.BytesSize(float64(req.Memory)))
	}
	writeExit(n, id, exit.Code)
	return exit.Code, nil
}

// writeExit leaves the exit status for `dockless wait`, which removes it
// (unread ones are reaped after ten minutes).
func writeExit(n *node, id string, code int) {
	dir := filepath.Join(n.state, "exits")
	if err := os.MkdirAll(dir, 0o711); err == nil {
		_ = os.WriteFile(exitPath(n.state, id), []byte(strconv.Itoa(code)), 0o644)
	}
}

// finishSpec builds the spec from req with binds: the request's, staged,
// and the generated /etc files.
func finishSpec(req *spec.Request, binds []spec.Bind, img *images.Image) (*specs.Spec, error) {
	r := *req
	r.Mounts = binds
	return spec.Build(&r, img.Config.Config)
}

// etcBinds bind the generated files in dir read-only at /etc/<name>.
func etcBinds(dir string, etc map[string][]byte) []spec.Bind {
	var out []spec.Bind
	for _, name := range sortedKeys(etc) {
		out = append(out, spec.Bind{Source: filepath.Join(dir, name), Destination: "/etc/" + name, ReadOnly: true})
	}
	return out
}

// ensureImage applies docker's --pull policy. The store decides who may
// use a cached image (images/access.go): a caller it does not know to be
// allowed is checked at the registry with their own credentials first,
// whatever the policy (a manifest HEAD, never a download, so --pull never
// holds). "missing" also asks whether the tag moved, and pulls if it did
// ([registry] offline trusts the cache instead).
func ensureImage(ctx context.Context, n *node, st *images.Store, ref, policy string, progress io.Writer) (*images.Image, error) {
	if _, err := images.Normalize(ref); err != nil {
		return nil, err
	}
	if policy != "always" {
		img, current, err := cached(ctx, st, ref, policy)
		switch {
		case err == nil && current:
			n.log.Debugf("image %s: using the cached copy (%s)", ref, img.Target.Digest)
			return img, nil
		case err == nil:
			n.log.Infof("image %s: the tag moved at the registry, pulling", ref)
		case errors.Is(err, images.ErrUnauthorized):
			return nil, fmt.Errorf("cached image %s not used: %w: an image in the node's shared store is used only by callers its registry lets pull it (log in with dockless login)", ref, err)
		case !errors.Is(err, images.ErrNotFound):
			return nil, fmt.Errorf("cached image %s not used: %w (the registry is asked before a cached image is used with --pull missing, or by a caller not known to be allowed; [registry] offline in %s trusts the cache instead)", ref, err, n.policy.Source())
		case policy == "never":
			return nil, fmt.Errorf("image %s is not in the node store and --pull=never forbids pulling it", ref)
		case progress != nil:
			fmt.Fprintf(progress, "Unable to find image '%s' locally\n", ref)
		}
	}
	img, err := st.Pull(ctx, ref, images.PullOptions{Progress: progress, Bars: progress == io.Writer(os.Stderr) && barsOn(os.Stderr)})
	if err != nil {
		return nil, pullRefused(n, err)
	}
	return img, nil
}

// cached looks ref up in the store for the pull policy: "missing" asks the
// registry whether the tag moved, "never" only whether the caller may use
// it (when the store does not know).
func cached(ctx context.Context, st *images.Store, ref, policy string) (*images.Image, bool, error) {
	if policy == "missing" {
		return st.GetCurrent(ctx, ref)
	}
	img, err := st.Get(ctx, ref)
	return img, true, err
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// reserveName claims name for the container's lifetime, as docker's
// container names are unique per node.
func reserveName(stateDir, name, id string) (func(), error) {
	if !validName(name) {
		return nil, usagef("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	dir := filepath.Join(stateDir, "names")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("conflict: the container name %q is already in use: choose another --name", name)
	}
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return nil, err
	}
	return func() { os.Remove(p) }, nil
}

func validName(n string) bool {
	if n == "" || n[0] == '.' || n[0] == '_' || n[0] == '-' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func stateCIDFile(n *node, name string) string {
	return filepath.Join(n.state, "cid", name)
}

// writeCIDFile writes the container ID: to a caller-named file created as
// the caller (refusing to overwrite one, as docker does), and to the state
// directory for LSF jobs.
func writeCIDFile(n *node, opts launchOptions, name, id string) error {
	if opts.StateCIDFile {
		p := stateCIDFile(n, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o711); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(id), 0o644); err != nil {
			return err
		}
	}
	if opts.CIDFile == "" {
		return nil
	}
	f, err := policy.CreateFile(n.caller, "--cidfile", opts.CIDFile)
	var pe *policy.PathError
	if errors.As(err, &pe) && pe.Why == "exists" {
		return usagef("Container ID file found, make sure the other container isn't running or delete %s", opts.CIDFile)
	}
	if err != nil {
		return usageError{err}
	}
	_, err = f.WriteString(id)
	return errors.Join(err, f.Close())
}

func defaultHostname(network, id string) string {
	if network == "host" {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	return id[:12]
}

// writeEtcFiles writes the container's hosts, hostname, resolv.conf and
// the generated extra files. With the host network hosts follows the
// node's file, as docker's does.
func writeEtcFiles(dir string, req *spec.Request, extra map[string][]byte) error {
	var hosts strings.Builder
	if node, err := os.ReadFile("/etc/hosts"); err == nil && req.Network == "host" {
		hosts.Write(node)
		if len(node) > 0 && node[len(node)-1] != '\n' {
			hosts.WriteByte('\n')
		}
	} else {
		hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	}
	for _, h := range req.AddHosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.IP, h.Host)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	files := map[string][]byte{
		"hosts":       []byte(hosts.String()),
		"hostname":    []byte(req.Hostname + "\n"),
		"resolv.conf": resolv,
	}
	for k, v := range extra {
		files[k] = v
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// stagePaths gives each user's bind its staged path: a mount point in the
// container's state directory, which only root can reach.
func stagePaths(dir string, binds []spec.Bind) {
	n := 0
	for i := range binds {
		if binds[i].User {
			binds[i].Staged = filepath.Join(dir, "binds", strconv.Itoa(n))
			n++
		}
	}
}

// stageBinds mounts the checked handle of each user's bind at its staged
// path, so the runtime mounts exactly what was checked. It returns what it
// mounted, for unstage, also on error.
func stageBinds(dir string, binds []spec.Bind) ([]string, error) {
	stagePaths(dir, binds)
	var staged []string
	for _, b := range binds {
		if !b.User {
			continue
		}
		if b.Checked == nil {
			return staged, fmt.Errorf("bind of %s at %s: its source was never checked with your rights", b.Source, b.Destination)
		}
		if err := stage(b.Checked, b.Staged); err != nil {
			return staged, err
		}
		staged = append(staged, b.Staged)
	}
	return staged, nil
}

// stage bind-mounts the open file or directory f (recursively, private
// propagation) at target, a new path in a root-only directory.
func stage(f *os.File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		err = os.Mkdir(target, 0o700)
	} else {
		err = os.WriteFile(target, nil, 0o600)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting %s: %w", f.Name(), err)
	}
	if err := unix.Mount("", target, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		unmount(target)
		return err
	}
	return nil
}

func unstage(staged []string) {
	for _, p := range staged {
		unmount(p)
	}
}

func unmount(p string) {
	if err := mount.UnmountAll(p, unix.MNT_DETACH); err != nil {
		fmt.Fprintf(os.Stderr, "dockless: unmounting %s: %v\n", p, err)
	}
}

// removeState deletes a container's state directory, but only once nothing
// is mounted below it: a staged bind still mounted there would otherwise
// let the removal reach into the user's files. The record goes last.
func removeState(dir string) {
	mounts, err := mountsUnder(dir)
	if err != nil || len(mounts) > 0 {
		fmt.Fprintf(os.Stderr, "dockless: %s still has %d mounts, left in place: %v\n", dir, len(mounts), err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "record.json" {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	os.RemoveAll(dir)
}

// mountsUnder lists the mount points at or below dir, shortest first.
func mountsUnder(dir string) ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	slices.SortFunc(out, func(a, b string) int { return len(a) - len(b) })
	return out, nil
}

// rlimitHint turns libcontainer's bare EPERM for an rlimit above the node's
// hard limit into a message that names the limit.
func rlimitHint(err error, req *spec.Request) error {
	if err == nil || !strings.Contains(err.Error(), "setrlimit") && !strings.Contains(err.Error(), "rlimit") {
		return err
	}
	var names []string
	for _, r := range req.Rlimits {
		v := "unlimited"
		if r.Hard != ^uint64(0) {
			v = fmt.Sprint(r.Hard)
		}
		names = append(names, strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))+"="+v)
	}
	return fmt.Errorf("%w (ulimits asked: %s; this node does not let dockless raise a hard limit past its own: lower the ulimit or the policy's [job] ulimits)", err, strings.Join(names, " "))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func writeJSON(path string, v any) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	return errors.Join(writeJSONTo(f, v), f.Close())
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(v)
}
