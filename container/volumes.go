package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dockless/dockless/spec"
	"golang.org/x/sys/unix"
)

// An image's VOLUME paths get what docker's anonymous volumes give: a
// fresh directory of the container's own, seeded with what the image has
// there, writable under --read-only. dockless keeps no volumes beyond the
// container (a job's container leaves nothing behind): each is a scratch
// directory in the container's state directory, removed with it.

// volumeBinds are the binds of the image's volumes (paths in the
// container) that no mount of req covers: each a site bind of a scratch
// directory under dir/volumes, in the order of their paths.
func volumeBinds(dir string, volumes map[string]struct{}, req *spec.Request) ([]spec.Bind, error) {
	paths := make([]string, 0, len(volumes))
	for v := range volumes {
		dst, err := spec.Destination(v)
		if err != nil {
			return nil, fmt.Errorf("the image's VOLUME %q: %w", v, err)
		}
		paths = append(paths, dst)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	var out []spec.Bind
	for _, dst := range paths {
		if coveredByMount(dst, req) {
			continue
		}
		src := filepath.Join(dir, "volumes", strconv.Itoa(len(out)))
		out = append(out, spec.Bind{Source: src, Destination: dst})
	}
	return out, nil
}

// coveredByMount reports whether a mount the request asked for is at dst
// or above it: docker mounts the caller's over the image's volume, and
// dockless makes no volume inside a host directory.
func coveredByMount(dst string, req *spec.Request) bool {
	var mounted []string
	for _, b := range req.Mounts {
		mounted = append(mounted, b.Destination)
	}
	for _, t := range req.Tmpfs {
		mounted = append(mounted, t.Destination)
	}
	for _, m := range mounted {
		if dst == m || strings.HasPrefix(dst, m+"/") {
			return true
		}
	}
	return false
}

// imageVolumes makes the scratch directory of each of the image's volumes
// and seeds it with the image's content at that path. They lie in the
// state directory, whose cleanup removes them.
func (l *launch) imageVolumes() (func(), error) {
	vols, err := volumeBinds(l.dir, l.img.Config.Config.Volumes, &l.req)
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		if err := seedVolume(l.host.Rootfs, v.Destination, v.Source); err != nil {
			return nil, fmt.Errorf("the image's VOLUME %s: %w", v.Destination, err)
		}
	}
	l.volumes = vols
	return nil, nil
}

// seedVolume makes dir, a new directory, a copy of what the image has at
// dst in rootfs: the path resolved in the rootfs as the kernel would in
// the container (RESOLVE_IN_ROOT), the tree below it copied without
// following any link; empty, root's, 0755 when the image has nothing
// there, as docker's.
func seedVolume(rootfs, dst, dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	if err := unix.Mkdir(dir, 0o755); err != nil {
		return err
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	src, err := unix.Openat2(root, dst, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("in the image: %w", err)
	}
	defer unix.Close(src)
	to, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(to)
	if err := copyDir(src, to); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	return copyAttributes(&st, to, "", unix.AT_EMPTY_PATH)
}

// copyDir copies the entries of the directory src into the directory to,
// each by its descriptor: directories, regular files, symlinks (as links)
// and FIFOs; device nodes and sockets are left out.
func copyDir(src, to int) error {
	names, err := dirNames(src)
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			err = copySubdir(src, to, name)
		case unix.S_IFREG:
			err = copyFile(src, to, name)
		case unix.S_IFLNK:
			err = copyLink(src, to, name)
		case unix.S_IFIFO:
			err = unix.Mknodat(to, name, unix.S_IFIFO|0o600, 0)
		default:
			continue
		}
		if err == nil {
			err = copyAttributes(&st, to, name, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil {
			return fmt.Errorf("copying %s: %w", name, err)
		}
	}
	return nil
}

// dirNames lists the directory dir.
func dirNames(dir int) ([]string, error) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

func copySubdir(src, to int, name string) error {
	if err := unix.Mkdirat(to, name, 0o700); err != nil {
		return err
	}
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	d, err := unix.Openat(to, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	return copyDir(s, d)
}

func copyFile(src, to int, name string) error {
	s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(s), name)
	defer in.Close()
	d, err := unix.Openat(to, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(d), name)
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

func copyLink(src, to int, name string) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(src, name, buf)
	if err != nil {
		return err
	}
	return unix.Symlinkat(string(buf[:n]), to, name)
}

// copyAttributes gives the entry name in dir (dir itself with
// AT_EMPTY_PATH) the owner, mode and times of st; the mode after the
// owner, which clears the set-id bits.
func copyAttributes(st *unix.Stat_t, dir int, name string, flags int) error {
	if err := unix.Fchownat(dir, name, int(st.Uid), int(st.Gid), flags); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := fchmod(dir, name, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if name == "" {
		return unix.Futimes(dir, []unix.Timeval{unix.NsecToTimeval(unix.TimespecToNsec(st.Atim)), unix.NsecToTimeval(unix.TimespecToNsec(st.Mtim))})
	}
	return unix.UtimesNanoAt(dir, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// fchmod sets the mode of name in dir, or of dir itself when name is "".
func fchmod(dir int, name string, mode uint32) error {
	if name == "" {
		return unix.Fchmod(dir, mode)
	}
	return unix.Fchmodat(dir, name, mode, 0)
}
