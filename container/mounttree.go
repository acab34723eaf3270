package container

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// libcontainer makes every missing mount point, device node and working
// directory as root, by path, inside the container's root — where the host
// directories bound into the container already are. So that root creates
// nothing in a host directory, assembleMounts places every mount of the
// spec first, as the kernel will resolve it (the image's symlinks followed
// in the rootfs, the mounts before it in order):
//   - what lands in the rootfs or in a filesystem of the container's own
//     (tmpfs, proc...) is left to libcontainer;
//   - a bind that lands inside a host bind is attached by dockless itself,
//     handle to handle, into that bind's copy in the private staging tree,
//     and leaves the spec (libcontainer's rbind of the parent carries it).
//     Its mount point is opened beneath the parent as the user, following
//     no symlink; what is missing is made as the user in the user's own
//     read-write binds and refused in any other (the site's, read-only);
//   - any other mount, and any device node, inside a host bind is refused;
//   - the working directory inside a host bind must exist, or is made as
//     the user in the user's own read-write binds; the process is then
//     started in it through a link in the rootfs (pinWorkdir).
//
// For root, who gains nothing by it, libcontainer keeps doing all of it
// (docker's -v /dev:/dev works).

// hostBind is a bind of a host directory or file, as placed in the tree.
type hostBind struct {
	spec.Bind
	// index is its entry in the kept mounts; -1 once dockless attached it.
	index int
	// root is its root in dockless's private tree, opened when something
	// is placed inside it.
	root *os.File
}

func (b *hostBind) String() string {
	ro := ""
	if b.ReadOnly {
		ro = " (read-only)"
	}
	if b.User {
		return fmt.Sprintf("your bind of %s at %s%s", b.Source, b.Destination, ro)
	}
	return fmt.Sprintf("the site's bind of %s at %s%s", b.Source, b.Destination, ro)
}

// placement is one mount where it lands in the container; host is nil for
// a filesystem of the container's own.
type placement struct {
	at   string
	host *hostBind
}

type mountTree struct {
	n      *Node
	caller *policy.Caller
	rootfs *os.File
	dir    string
	placed []placement
	keep   []specs.Mount
	staged *[]string
	opened []*os.File
}

// assembleMounts places the mounts, the device nodes and the working
// directory of s (see above), attaching binds nested in host binds itself.
// l.binds are the request's, staged; what it stages is added to l.staged.
func (l *launch) assembleMounts(s *specs.Spec) error {
	caller, binds := l.n.Caller, l.binds
	if caller.IsRoot() {
		return nil
	}
	rootfs, err := os.OpenFile(s.Root.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	t := &mountTree{n: l.n, caller: caller, rootfs: rootfs, dir: l.dir, staged: &l.staged, opened: []*os.File{rootfs}}
	defer func() {
		for _, f := range t.opened {
			f.Close()
		}
	}()
	for _, m := range s.Mounts {
		if err := t.place(m, bindOf(binds, m)); err != nil {
			return err
		}
	}
	s.Mounts = t.keep
	if s.Linux != nil {
		for _, d := range s.Linux.Devices {
			host, _, _, err := t.locate(d.Path)
			if err != nil {
				return err
			}
			if host != nil {
				return fmt.Errorf("device %s would be made inside %s: dockless creates nothing in host directories; give the device a path under /dev", d.Path, host)
			}
		}
	}
	if s.Process != nil && path.IsAbs(s.Process.Cwd) {
		inside, err := t.workdir(s.Process.Cwd)
		if err != nil || !inside {
			return err
		}
		return t.pinWorkdir(s)
	}
	return nil
}

// WorkdirLink is the rootfs entry through which a working directory inside
// a host bind is entered, and workdirAnnotation keeps the real one.
const (
	WorkdirLink       = "/.dockless-workdir"
	workdirAnnotation = "org.dockless.workdir"
)

// pinWorkdir starts the process in its working directory through a
// symlink in the container's own rootfs. libcontainer's init makes a
// missing working directory with os.MkdirAll, as root, by path, once every
// mount is in place: if the user swapped a directory on the path (their
// own read-write bind) for a symlink after workdir checked it, root would
// make directories wherever the link points in the container (the LSF
// tree, a site mount). Through the link, MkdirAll finds the directory or
// fails on the link itself (it is not a directory): it makes nothing, and
// chdir follows the link, so getcwd still names the real directory.
func (t *mountTree) pinWorkdir(s *specs.Spec) error {
	if err := unix.Symlinkat(s.Process.Cwd, int(t.rootfs.Fd()), WorkdirLink[1:]); err != nil {
		return fmt.Errorf("linking the working directory %s into the rootfs: %w", s.Process.Cwd, err)
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[workdirAnnotation] = s.Process.Cwd
	s.Process.Cwd = WorkdirLink
	return nil
}

// bindOf is the request's bind that m mounts: a user's bind by its staged
// path, which only it has; anything else is the site's, mounted from
// m.Source.
func bindOf(binds []spec.Bind, m specs.Mount) *hostBind {
	if m.Type != "bind" {
		return nil
	}
	for _, b := range binds {
		if b.User && b.Staged == m.Source {
			return &hostBind{Bind: b}
		}
	}
	ro := false
	for _, o := range m.Options {
		ro = ro || o == "ro"
	}
	return &hostBind{Bind: spec.Bind{Source: m.Source, Destination: m.Destination, ReadOnly: ro}}
}

// place puts m (hb: its bind, nil for another filesystem) in the tree.
func (t *mountTree) place(m specs.Mount, hb *hostBind) error {
	parent, rel, at, err := t.locate(m.Destination)
	if err != nil {
		return err
	}
	if parent == nil {
		t.keep = append(t.keep, m)
		if hb != nil {
			hb.index = len(t.keep) - 1
		}
		t.placed = append(t.placed, placement{at, hb})
		return nil
	}
	if hb == nil {
		return fmt.Errorf("the %s mount at %s would be made inside %s: dockless creates nothing in host directories; bind that directory elsewhere", m.Type, m.Destination, parent)
	}
	if err := t.attach(parent, rel, hb); err != nil {
		return err
	}
	hb.index = -1
	t.placed = append(t.placed, placement{at, hb})
	return nil
}

// attach mounts hb's source at rel beneath parent, in the private tree.
func (t *mountTree) attach(parent *hostBind, rel string, hb *hostBind) error {
	root, err := t.rootOf(parent)
	if err != nil {
		return err
	}
	src := hb.Checked
	if !hb.User {
		if src, err = os.OpenFile(hb.Source, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("mounting %s: %w", hb.Source, err)
		}
		t.opened = append(t.opened, src)
	}
	st, err := src.Stat()
	if err != nil {
		return err
	}
	create := parent.User && !parent.ReadOnly
	mp, err := policy.MountPoint(t.caller, root, rel, create, !st.IsDir())
	if err != nil {
		return mountPointError("mount point", hb.Destination, parent, create, t.caller, err)
	}
	defer mp.Close()
	fd, err := unix.OpenTree(int(src.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("mounting %s at %s: %w", hb.Source, hb.Destination, err)
	}
	tree := os.NewFile(uintptr(fd), hb.Destination)
	t.opened = append(t.opened, tree)
	attr := unix.MountAttr{Propagation: unix.MS_PRIVATE}
	if hb.ReadOnly {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("mounting %s at %s: %w", hb.Source, hb.Destination, err)
	}
	if err := unix.MoveMount(fd, "", int(mp.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mounting %s at %s: %w", hb.Source, hb.Destination, err)
	}
	hb.root = tree
	return nil
}

// rootOf opens the root of b in the private tree. A site's bind gets a
// private staged copy first, which the spec then mounts.
func (t *mountTree) rootOf(b *hostBind) (*os.File, error) {
	if b.root != nil {
		return b.root, nil
	}
	p := b.Staged
	if !b.User {
		src, err := os.OpenFile(b.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("mounting %s: %w", b.Source, err)
		}
		t.opened = append(t.opened, src)
		p = filepath.Join(t.dir, "binds", "site-"+strconv.Itoa(len(*t.staged)))
		if err := t.n.stage(src, p); err != nil {
			return nil, err
		}
		*t.staged = append(*t.staged, p)
		t.keep[b.index].Source = p
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", p, err)
	}
	b.root = os.NewFile(uintptr(fd), p)
	t.opened = append(t.opened, b.root)
	return b.root, nil
}

// workdir checks the working directory: inside a host bind it must exist,
// or it is made as the user in the user's own read-write bind. inside
// reports whether the path to it crosses a host directory.
func (t *mountTree) workdir(cwd string) (inside bool, err error) {
	parent, rel, _, err := t.locate(cwd)
	if err != nil || parent == nil {
		return false, err
	}
	root, err := t.rootOf(parent)
	if err != nil {
		return true, err
	}
	create := parent.User && !parent.ReadOnly
	f, err := policy.MountPoint(t.caller, root, rel, create, false)
	if err != nil {
		return true, mountPointError("working directory", cwd, parent, create, t.caller, err)
	}
	// A bind's own root whose path lies in the rootfs is out of the
	// user's reach; below a bind, or a bind dockless attached inside
	// another, the path crosses a host directory.
	return rel != "" || parent.index < 0, f.Close()
}

func mountPointError(what, dst string, parent *hostBind, create bool, c *policy.Caller, err error) error {
	var pe *policy.PathError
	switch {
	case errors.As(err, &pe) && pe.Why == "does not exist" && !create:
		return fmt.Errorf("%s %s does not exist in %s: dockless creates nothing in host directories; create it there first, or use another path", what, dst, parent)
	case create:
		return fmt.Errorf("%s %s in %s, made as %s (never as root): %w", what, dst, parent, c.Name, err)
	}
	return fmt.Errorf("%s %s in %s: %w", what, dst, parent, err)
}

// locate resolves dst as the kernel will in the container: symlinks in
// the rootfs (the image's, fixed once it is mounted) followed within it,
// the placed mounts crossed. It returns the host bind dst lands in and
// the path within it (nil when dst lands in the rootfs or in a filesystem
// of the container's own), and where dst lands.
func (t *mountTree) locate(dst string) (*hostBind, string, string, error) {
	todo := strings.Split(dst, "/")
	cur, links := "/", 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		if t.mountedAt(next) {
			// Below a mount nothing of the image's is followed: a host
			// bind's symlinks are refused where its mount points are opened.
			at := path.Join(append([]string{next}, todo...)...)
			if at != next && !strings.HasPrefix(at, next+"/") {
				return nil, "", "", fmt.Errorf("mount destination %s leaves the mount at %s through ..: refused", dst, next)
			}
			in := t.innermost(at)
			if in.host == nil {
				return nil, "", at, nil
			}
			return in.host, strings.TrimPrefix(strings.TrimPrefix(at, in.at), "/"), at, nil
		}
		var st unix.Stat_t
		if err := unix.Fstatat(int(t.rootfs.Fd()), "."+next, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			// Missing (or under a file): made, or refused, by libcontainer
			// in the rootfs.
			return nil, "", path.Join(append([]string{next}, todo...)...), nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			cur = next
			continue
		}
		if links++; links > 40 {
			return nil, "", "", fmt.Errorf("mount destination %s: too many symlinks in the image", dst)
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(t.rootfs.Fd()), "."+next, buf)
		if err != nil {
			return nil, "", "", fmt.Errorf("mount destination %s: %w", dst, err)
		}
		target := string(buf[:n])
		if path.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return nil, "", cur, nil
}

// mountedAt reports whether a mount is placed exactly at p.
func (t *mountTree) mountedAt(p string) bool {
	for _, m := range t.placed {
		if m.at == p {
			return true
		}
	}
	return false
}

// innermost is the mount that at lands in: the deepest placed at or above
// it, the last of those placed at the same path.
func (t *mountTree) innermost(at string) placement {
	var best placement
	found := false
	for _, m := range t.placed {
		if (m.at == at || strings.HasPrefix(at, m.at+"/")) && (!found || len(m.at) >= len(best.at)) {
			best, found = m, true
		}
	}
	return best
}
