package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/mount"
	"golang.org/x/sys/unix"
)

// markerName is the file beside a layer snapshot's fs directory that says
// the layer is a shared cache file (a checkedFile): the directory stays
// empty, and the file is mounted in its place.
const markerName = "erofs"

// snapshotDir is the directory of the snapshot whose mounts are given
// (the one the layer is unpacked into): its overlay upper directory's
// parent, or the parent of the directory bind-mounted for a first layer.
func snapshotDir(mounts []mount.Mount) string {
	if len(mounts) != 1 {
		return ""
	}
	if mounts[0].Type == "overlay" {
		upper, _ := overlayDirs(mounts[0].Options)
		if upper == "" {
			return ""
		}
		return filepath.Dir(upper)
	}
	if mounts[0].Type == "bind" {
		return filepath.Dir(mounts[0].Source)
	}
	return ""
}

// readMarker reads the marker of the layer whose fs directory is fsDir
// (false: the layer is unpacked there).
func readMarker(fsDir string) (checkedFile, bool, error) {
	var rec checkedFile
	b, err := os.ReadFile(filepath.Join(filepath.Dir(fsDir), markerName))
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	return rec, true, json.Unmarshal(b, &rec)
}

// erofsKernel reports whether the kernel mounts EROFS, once: listed in
// /proc/filesystems, or a module of the running kernel not loaded yet
// (the first mount loads it, as the kernel asks modprobe for fs-erofs).
var erofsKernel = sync.OnceValue(func() bool { return listsErofs(procFilesystems) || erofsModule(modulesDir) })

// erofsModule reports whether the modules of the running kernel under dir
// (the layout of /lib/modules) hold erofs.
func erofsModule(dir string) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	found, _ := filepath.Glob(filepath.Join(dir, unix.ByteSliceToString(u.Release[:]), "kernel", "fs", "erofs", "erofs.ko*"))
	return len(found) > 0
}

// modulesDir holds the kernels' modules.
var modulesDir = "/lib/modules"

// listsErofs reports whether the file system list at path (the format of
// /proc/filesystems) names erofs.
func listsErofs(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(strings.TrimPrefix(line, "nodev")) == "erofs" {
			return true
		}
	}
	return false
}

// procFilesystems lists the file systems the kernel has.
var procFilesystems = "/proc/filesystems"

// MountAll mounts mounts (a snapshot's) on target, as mount.All does,
// with each layer taken from the shared cache mounted read-only (in a
// temporary directory beside target) in place of its empty directory.
// The overlay keeps its own reference to its lower layers, so the
// temporary mounts are detached and removed before MountAll returns:
// nothing but target is left mounted.
func MountAll(mounts []mount.Mount, target string) error {
	m, undo, err := withCachedLowers(mounts, filepath.Dir(target))
	defer undo()
	if err != nil {
		return err
	}
	return mount.All(m, target)
}

// withCachedLowers returns mounts with the layers taken from the shared
// cache replaced by their files mounted in a temporary directory made in
// parent; undo detaches those and removes the directory.
func withCachedLowers(mounts []mount.Mount, parent string) (out []mount.Mount, undo func(), err error) {
	var mounted []string
	var tmp string
	undo = func() {
		for _, p := range mounted {
			_ = unix.Unmount(p, unix.MNT_DETACH)
			_ = os.Remove(p)
		}
		if mounted != nil {
			_ = os.Remove(tmp)
		}
	}
	swap := func(dir string) (string, error) {
		rec, ok, err := readMarker(dir)
		if err != nil || !ok {
			return dir, err
		}
		if mounted == nil {
			if tmp, err = os.MkdirTemp(parent, ".lowers-"); err != nil {
				return "", err
			}
			mounted = []string{}
		}
		p := filepath.Join(tmp, fmt.Sprint(len(mounted)))
		if err := mountCached(rec, p); err != nil {
			return "", err
		}
		mounted = append(mounted, p)
		return filepath.Join(p, imageLayerDir), nil
	}
	for _, m := range mounts {
		m.Options = append([]string(nil), m.Options...)
		switch m.Type {
		case "overlay":
			for i, o := range m.Options {
				v, ok := strings.CutPrefix(o, "lowerdir=")
				if !ok {
					continue
				}
				lowers := strings.Split(v, ":")
				for j := range lowers {
					if lowers[j], err = swap(lowers[j]); err != nil {
						return nil, undo, err
					}
				}
				m.Options[i] = "lowerdir=" + strings.Join(lowers, ":")
			}
		case "bind":
			if m.Source, err = swap(m.Source); err != nil {
				return nil, undo, err
			}
		}
		out = append(out, m)
	}
	return out, undo, nil
}

// mountCached mounts the checked cache file rec read-only on dir (created),
// if it is still the file that was checked: one changed since is refused.
func mountCached(rec checkedFile, dir string) error {
	f, err := os.OpenFile(rec.Path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("shared cache layer %s: %w (dockless image rm the image, then pull it again)", rec.DiffID, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if !rec.same(&st) || rootsOnly(rec.Path, &st) != nil {
		return fmt.Errorf("shared cache layer %s: %s changed since this node checked it: refused (dockless image rm the image, then pull it again)", rec.DiffID, rec.Path)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	// The file the descriptor holds, not whatever the path names now.
	src := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	err = unix.Mount(src, dir, "erofs", unix.MS_RDONLY, "")
	if errors.Is(err, unix.ENOTBLK) { // kernels before 6.12: a loop device
		m := mount.Mount{Type: "erofs", Source: src, Options: []string{"ro", "loop"}}
		err = m.Mount(dir)
	}
	if err != nil {
		os.Remove(dir)
		return fmt.Errorf("mounting shared cache layer %s (%s): %w", rec.DiffID, rec.Path, err)
	}
	return nil
}
