package spec

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// WithRootfs sets the root filesystem path and whether it is read-only.
func WithRootfs(rootfs string, readOnly bool) Opt {
	return func(s *specs.Spec) error {
		s.Root = &specs.Root{Path: rootfs, Readonly: readOnly}
		return nil
	}
}

// Destination is docker's rule for a mount destination, applied once when
// a front end parses one: an absolute path, cleaned ("/data/", "/data/."
// and "/x/../data" are all "/data"), never / itself.
func Destination(dst string) (string, error) {
	if !path.IsAbs(dst) {
		return "", fmt.Errorf("invalid mount destination %q: must be an absolute path", dst)
	}
	clean := path.Clean(dst)
	if clean == "/" {
		return "", fmt.Errorf("invalid mount destination %q: cannot mount over /", dst)
	}
	return clean, nil
}

// WithMounts adds bind mounts the way docker adds -v and --mount
// type=bind (recursive, private propagation, "ro" when read-only) and tmpfs
// mounts the way it adds --tmpfs (noexec, nosuid and nodev unless the
// options say otherwise), parents before what is mounted below them (a
// home under /tmp must come after /tmp). A mount replaces any default
// mount at the same destination. A user's bind is mounted from its staged
// handle, never from the path the user named.
func WithMounts(binds []Bind, tmpfs []Tmpfs) Opt {
	return func(s *specs.Spec) error {
		var ms []specs.Mount
		for _, b := range binds {
			m, err := bindMount(b)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		for _, t := range tmpfs {
			m, err := tmpfsMount(t)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		sort.SliceStable(ms, func(i, j int) bool {
			return depth(ms[i].Destination) < depth(ms[j].Destination)
		})
		for _, m := range ms {
			replaceMount(s, m)
		}
		return nil
	}
}

// bindMount is the mount of one bind.
func bindMount(b Bind) (specs.Mount, error) {
	dst, err := Destination(b.Destination)
	if err != nil {
		return specs.Mount{}, err
	}
	if dst != b.Destination {
		return specs.Mount{}, fmt.Errorf("mount destination %q was not normalised by its front end (%q)", b.Destination, dst)
	}
	src := b.Source
	if b.User {
		if b.Staged == "" {
			return specs.Mount{}, fmt.Errorf("bind of %s at %s: a user's path is mounted only through its checked, staged handle, and this one was not staged", b.Source, dst)
		}
		src = b.Staged
	}
	opts := []string{"rbind", "rprivate"}
	if b.ReadOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}, nil
}

// tmpfsMount is the mount of one tmpfs, its options checked again.
func tmpfsMount(t Tmpfs) (specs.Mount, error) {
	checked, err := tmpfs(t.Destination, t.Options)
	if err != nil {
		return specs.Mount{}, err
	}
	if checked.Destination != t.Destination {
		return specs.Mount{}, fmt.Errorf("tmpfs destination %q was not normalised by its front end", t.Destination)
	}
	opts := append([]string{"noexec", "nosuid", "nodev"}, t.Options...)
	return specs.Mount{Destination: t.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
}

// depth counts the components of a destination path ("/" is 0).
func depth(p string) int {
	p = path.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// WithEtcFiles binds the per-container /etc/hosts, /etc/hostname and
// /etc/resolv.conf from dir, unless the caller already mounts those paths;
// read-only with a read-only root filesystem, as docker's.
func WithEtcFiles(dir string, readOnly bool) Opt {
	return func(s *specs.Spec) error {
		if dir == "" {
			return nil
		}
		opts := []string{"rbind", "rprivate"}
		if readOnly {
			opts = append(opts, "ro")
		}
	next:
		for _, f := range []string{"resolv.conf", "hostname", "hosts"} {
			dst := "/etc/" + f
			for _, m := range s.Mounts {
				if m.Destination == dst {
					continue next
				}
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: dst, Type: "bind", Source: path.Join(dir, f), Options: slices.Clone(opts)})
		}
		return nil
	}
}

// WithShmSize sets the size of the private /dev/shm tmpfs (docker's
// --shm-size); 0 keeps docker's 64 MiB.
func WithShmSize(size int64) Opt {
	return func(s *specs.Spec) error {
		if size < 0 {
			return fmt.Errorf("invalid --shm-size %d: must be positive", size)
		}
		if size == 0 {
			return nil
		}
		for i, m := range s.Mounts {
			if m.Destination == "/dev/shm" && m.Type == "tmpfs" {
				s.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(size, 10)}
			}
		}
		return nil
	}
}
