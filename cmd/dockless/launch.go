package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// launchOptions are the parts of a run that are not the container itself.
type launchOptions struct {
	Name    string
	CIDFile string
	// Pull is docker's --pull: always, missing or never.
	Pull  string
	Quiet bool
}

// launch runs req in the foreground and returns the container's exit
// status. Whatever happens, it leaves no mount, snapshot, state directory
// or name reservation behind.
func launch(c *cli.Context, req *spec.Request, opts launchOptions, stdio runtime.IO) (int, error) {
	stateDir := c.String("state")
	st := store(c)
	// Until the container runs, SIGINT/SIGTERM cancel the setup and the
	// deferred cleanups run; from then on runtime.Run forwards them.
	ctx, stopSetupSignals := signal.NotifyContext(c.Context, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stopSetupSignals()

	var progress io.Writer = os.Stderr
	if opts.Quiet {
		progress = nil
	}
	img, err := ensureImage(ctx, st, req.Image, opts.Pull, progress)
	if err != nil {
		return -1, err
	}

	id, err := newID()
	if err != nil {
		return -1, err
	}
	name := opts.Name
	if name == "" {
		name = id[:12]
	}
	release, err := reserveName(stateDir, name, id)
	if err != nil {
		return -1, err
	}
	defer release()
	if opts.CIDFile != "" {
		if err := writeCIDFile(opts.CIDFile, id); err != nil {
			return -1, err
		}
	}

	dir := filepath.Join(stateDir, "containers", id)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return -1, fmt.Errorf("creating state directory: %w", err)
	}
	defer os.RemoveAll(dir)

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
	defer func() {
		if err := mount.UnmountAll(rootfs, unix.MNT_DETACH); err != nil {
			fmt.Fprintf(os.Stderr, "dockless: unmounting %s: %v\n", rootfs, err)
		}
	}()

	if req.UserSpec == "" {
		req.UserSpec = img.Config.Config.User
	}
	if req.User, req.Home, err = spec.ResolveUser(rootfs, req.UserSpec, req.GroupAdd); err != nil {
		return -1, err
	}
	if req.Hostname == "" {
		req.Hostname = defaultHostname(req.Network, id)
	}
	if err := writeEtcFiles(dir, req); err != nil {
		return -1, err
	}
	req.Rootfs, req.EtcDir = rootfs, dir
	req.CgroupsPath = "dockless-" + id[:12]
	s, err := spec.Build(req, img.Config.Config)
	if err != nil {
		return -1, err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), s); err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, fmt.Errorf("interrupted before start: %w", err)
	}
	stopSetupSignals()
	return runtime.Run(filepath.Join(stateDir, "runc"), id, s, stdio)
}

// ensureImage applies docker's --pull policy.
func ensureImage(ctx context.Context, st *images.Store, ref, policy string, progress io.Writer) (*images.Image, error) {
	if _, err := images.Normalize(ref); err != nil {
		return nil, err
	}
	if policy != "always" {
		img, err := st.Get(ctx, ref)
		if err == nil {
			return img, nil
		}
		if !errors.Is(err, images.ErrNotFound) {
			return nil, err
		}
		if policy == "never" {
			return nil, fmt.Errorf("image %s is not in the node store and --pull=never forbids pulling it", ref)
		}
		if progress != nil {
			fmt.Fprintf(progress, "Unable to find image '%s' locally\n", ref)
		}
	}
	return st.Pull(ctx, ref, images.PullOptions{Progress: progress})
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

// writeCIDFile writes the container ID; like docker it refuses to
// overwrite an existing file.
func writeCIDFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return usagef("Container ID file found, make sure the other container isn't running or delete %s", path)
	}
	if err != nil {
		return usagef("--cidfile: %w", err)
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

// writeEtcFiles writes the container's hosts, hostname and resolv.conf.
// With the host network they follow the node's files, as docker's do.
func writeEtcFiles(dir string, req *spec.Request) error {
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
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
