package policy

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// asUser runs fn on an OS thread whose filesystem credentials are the
// caller's (fsuid, fsgid, supplementary groups), so the kernel checks every
// path lookup and open in fn as the caller would. The thread is never
// returned to the Go scheduler: it exits with the goroutine.
func asUser(c *Caller, fn func() error) error {
	if c.IsRoot() {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread dies with its changed credentials
		if err := setThreadGroups(c.Groups); err != nil {
			done <- fmt.Errorf("switching to the caller's groups: %w", err)
			return
		}
		// Each call returns the id before it, never an error: reading the
		// id back (an invalid id, -1, changes nothing) tells whether it
		// took.
		unix.Setfsgid(int(c.GID))
		if got, _ := unix.SetfsgidRetGid(-1); got != int(c.GID) {
			done <- fmt.Errorf("switching to the caller's gid %d failed (the thread's filesystem gid is %d)", c.GID, got)
			return
		}
		unix.Setfsuid(int(c.UID))
		if got, _ := unix.SetfsuidRetUid(-1); got != int(c.UID) {
			done <- fmt.Errorf("switching to the caller's uid %d failed (the thread's filesystem uid is %d)", c.UID, got)
			return
		}
		done <- fn()
	}()
	return <-done
}

// setThreadGroups sets the supplementary groups of this thread only (the
// raw system call; libc's setgroups would change every thread).
func setThreadGroups(groups []uint32) error {
	list := groups
	if len(list) == 0 {
		list = []uint32{0}
		_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, uintptr(unsafe.Pointer(&list[0])), 0)
		if e != 0 {
			return e
		}
		return nil
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), uintptr(unsafe.Pointer(&list[0])), 0)
	if e != 0 {
		return e
	}
	return nil
}

// PathError is a refused user path: what, which rule, what to do.
type PathError struct {
	What, Path, Why string
}

func (e *PathError) Error() string { return e.What + " " + e.Path + ": " + e.Why }

// Source is a mount source the caller may use, opened: mount it through
// File so that what was checked is what gets mounted.
type Source struct {
	// Path is the name the caller gave; Real the resolved path.
	Path, Real string
	File       *os.File
}

// OpenSource resolves path as the caller (symlinks followed with the
// caller's rights), requires the result under one of prefixes (none:
// anywhere), a directory when dirsOnly, readable (and for a directory
// searchable) by the caller, and opens it with no symlink allowed in the
// resolved path, so that a swap after the check fails. what names the path
// in messages ("volume", "home directory", ...).
func OpenSource(c *Caller, what, path string, prefixes []string, dirsOnly bool) (*Source, error) {
	var src *Source
	err := asUser(c, func() error {
		real, f, err := openResolved(what, path, prefixes, unix.O_RDONLY)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return &PathError{what, path, err.Error()}
		}
		mode := uint32(unix.R_OK)
		switch {
		case st.IsDir():
			mode |= unix.X_OK
		case dirsOnly:
			f.Close()
			return &PathError{what, path, "is not a directory: file binds are refused by [volumes] directories_only"}
		}
		if err := unix.Faccessat2(int(f.Fd()), "", mode, unix.AT_EMPTY_PATH|unix.AT_EACCESS); err != nil {
			f.Close()
			return &PathError{what, path, "not accessible to " + c.Name + ": " + err.Error()}
		}
		src = &Source{Path: path, Real: real, File: f}
		return nil
	})
	return src, err
}

// OpenFile opens a regular file for reading as the caller would.
func OpenFile(c *Caller, what, path string) (*os.File, error) {
	var f *os.File
	err := asUser(c, func() error {
		_, fh, err := openResolved(what, path, nil, unix.O_RDONLY)
		if err != nil {
			return err
		}
		st, err := fh.Stat()
		if err != nil || !st.Mode().IsRegular() {
			fh.Close()
			return &PathError{what, path, "not a regular file"}
		}
		f = fh
		return nil
	})
	return f, err
}

// ReadFile reads a whole (small) file as the caller would.
func ReadFile(c *Caller, what, path string) ([]byte, error) {
	f, err := OpenFile(c, what, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// Stat describes path as the caller would see it (so a refusal for a
// file does not reveal what the caller could not see), following no /proc
// magic link and refusing the kernel's filesystems.
func Stat(c *Caller, what, path string) (os.FileInfo, error) {
	var st os.FileInfo
	err := asUser(c, func() error {
		how := userHow
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
		if err != nil {
			return &PathError{what, path, pathErrReason(err)}
		}
		f := os.NewFile(uintptr(fd), path)
		defer f.Close()
		if err := checkOrdinaryFS(what, path, fd); err != nil {
			return err
		}
		if st, err = f.Stat(); err != nil {
			return &PathError{what, path, err.Error()}
		}
		return nil
	})
	return st, err
}

// kernelFS are the filesystems no user-named path may lead to: they hold
// the state of the kernel and of processes, not files. procfs above all:
// dockless opens a user's paths from a thread of its own root process, and
// procfs answers that thread about the root process (/proc/self/maps,
// environ, fd/N, root) as about itself. sysfs, cgroupfs and the rest check
// plain file modes, so reading them leaks nothing, but bound into a
// container they undo its read-only, masked /proc and /sys, and as a
// working directory they show the job the host's kernel.
var kernelFS = map[int64]string{
	unix.PROC_SUPER_MAGIC:    "procfs",
	unix.SYSFS_MAGIC:         "sysfs",
	unix.CGROUP_SUPER_MAGIC:  "cgroupfs",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2",
	unix.DEBUGFS_MAGIC:       "debugfs",
	unix.TRACEFS_MAGIC:       "tracefs",
	unix.SECURITYFS_MAGIC:    "securityfs",
	unix.SELINUX_MAGIC:       "selinuxfs",
	unix.SMACK_MAGIC:         "smackfs",
	unix.BPF_FS_MAGIC:        "bpf",
	unix.EFIVARFS_MAGIC:      "efivarfs",
	unix.PSTOREFS_MAGIC:      "pstore",
	unix.BINFMTFS_MAGIC:      "binfmt_misc",
	unix.NSFS_MAGIC:          "nsfs",
	unix.DEVPTS_SUPER_MAGIC:  "devpts",
}

// kernelFSRule is the refusal of a path on one of kernelFS.
const kernelFSRule = "is on %s, the kernel's own filesystem: refused by the trust model (dockless opens only ordinary files and directories for you)"

// checkOrdinaryFS refuses a handle on one of kernelFS.
func checkOrdinaryFS(what, path string, fd int) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return &PathError{what, path, err.Error()}
	}
	if name, ok := kernelFS[int64(fs.Type)]; ok {
		return &PathError{what, path, fmt.Sprintf(kernelFSRule, name)}
	}
	return nil
}

// userHow is how every path a user names is resolved: ordinary symlinks
// are followed (with the caller's rights: asUser), /proc's magic links
// (/proc/PID/fd/N, /proc/PID/root, /proc/PID/cwd) never.
var userHow = unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS}

// openResolved resolves path as the calling thread's user would, refuses
// what is not an ordinary directory or regular file, then checks the real
// path against prefixes and opens it with flags, no symlink allowed on the
// way: what was checked is what is opened, or the open fails.
func openResolved(what, path string, prefixes []string, flags int) (string, *os.File, error) {
	if !filepath.IsAbs(path) {
		return "", nil, &PathError{what, path, "must be an absolute path"}
	}
	how := userHow
	pfd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
	if err != nil {
		return "", nil, &PathError{what, path, pathErrReason(err)}
	}
	defer unix.Close(pfd)
	if err := checkOrdinaryFS(what, path, pfd); err != nil {
		return "", nil, err
	}
	var seen unix.Stat_t
	if err := unix.Fstat(pfd, &seen); err != nil {
		return "", nil, &PathError{what, path, err.Error()}
	}
	if t := seen.Mode & unix.S_IFMT; t != unix.S_IFDIR && t != unix.S_IFREG {
		return "", nil, &PathError{what, path, "is neither a directory nor a regular file"}
	}
	real, err := os.Readlink(fmt.Sprintf("/proc/thread-self/fd/%d", pfd))
	if err != nil || !filepath.IsAbs(real) {
		return "", nil, &PathError{what, path, "cannot be named: it was removed while being checked"}
	}
	if len(prefixes) > 0 && !UnderPrefix(real, prefixes) {
		return "", nil, &PathError{what, path, fmt.Sprintf("resolves to %s, which is not under an allowed prefix (%s)", real, strings.Join(prefixes, ", "))}
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, real, &unix.OpenHow{
		// Non-blocking: a FIFO named here must not hold dockless up (the
		// callers refuse what is neither a directory nor a regular file).
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK),
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return "", nil, &PathError{what, path, pathErrReason(err)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != seen.Dev || st.Ino != seen.Ino {
		unix.Close(fd)
		return "", nil, &PathError{what, path, "changed while being checked: refused"}
	}
	return real, os.NewFile(uintptr(fd), real), nil
}

func pathErrReason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "does not exist"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	case errors.Is(err, unix.ELOOP):
		return "leads through a /proc magic link (/proc/PID/fd, root, cwd), a symlink loop, or a symlink that appeared while it was checked: refused"
	case errors.Is(err, unix.ENOTDIR):
		return "not a directory"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// UnderPrefix reports whether p is one of prefixes or below one, on a path
// boundary ("/storage1evil" is not under "/storage1"). Prefixes that are
// symlinks on the node count by their target too.
func UnderPrefix(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		cands := []string{filepath.Clean(pre)}
		if r, err := filepath.EvalSymlinks(pre); err == nil && r != cands[0] {
			cands = append(cands, r)
		}
		for _, c := range cands {
			if p == c || strings.HasPrefix(p, strings.TrimSuffix(c, "/")+"/") {
				return true
			}
		}
	}
	return false
}

// CreateFile creates a new file as the caller would (refusing an existing
// file or a symlink in its place), e.g. a --cidfile, so that it is theirs.
func CreateFile(c *Caller, what, path string) (*os.File, error) {
	var f *os.File
	err := asUser(c, func() error {
		if !filepath.IsAbs(path) {
			abs, err := filepath.Abs(path)
			if err != nil {
				return &PathError{what, path, err.Error()}
			}
			path = abs
		}
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
			Flags:   uint64(unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC | unix.O_NOFOLLOW),
			Mode:    0o644,
			Resolve: unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, os.ErrExist) {
			return &PathError{what, path, "exists"}
		}
		if err != nil {
			return &PathError{what, path, pathErrReason(err)}
		}
		// The kernel made it with the fsuid/fsgid: the caller owns it.
		f = os.NewFile(uintptr(fd), path)
		return nil
	})
	return f, err
}

// WriteFile replaces path with data as the caller would (a new file next
// to it, renamed over it; the directory created if missing, mode 0700), so
// a file in the caller's home, such as ~/.docker/config.json, stays theirs.
func WriteFile(c *Caller, what, path string, data []byte, mode os.FileMode) error {
	return asUser(c, func() error {
		dir, err := mkdirAll(what, filepath.Dir(path))
		if err != nil {
			return err
		}
		defer dir.Close()
		base := filepath.Base(path)
		tmp := "." + base + "." + rand.Text()
		fd, err := unix.Openat(int(dir.Fd()), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
		if err != nil {
			return &PathError{what, path, pathErrReason(err)}
		}
		f := os.NewFile(uintptr(fd), tmp)
		_, err = f.Write(data)
		err = errors.Join(err, f.Chmod(mode), f.Close())
		if err == nil {
			err = unix.Renameat(int(dir.Fd()), tmp, int(dir.Fd()), base)
		}
		if err != nil {
			unix.Unlinkat(int(dir.Fd()), tmp, 0)
			return &PathError{what, path, pathErrReason(err)}
		}
		return nil
	})
}

// mkdirAll opens directory p, creating what is missing (mode 0700) as the
// calling thread's user, following no /proc magic link, refusing the
// kernel's filesystems.
func mkdirAll(what, p string) (*os.File, error) {
	how := userHow
	how.Flags |= unix.O_DIRECTORY
	fd, err := unix.Openat2(unix.AT_FDCWD, p, &how)
	if errors.Is(err, unix.ENOENT) && p != "/" {
		parent, perr := mkdirAll(what, filepath.Dir(p))
		if perr != nil {
			return nil, perr
		}
		err = unix.Mkdirat(int(parent.Fd()), filepath.Base(p), 0o700)
		if err == nil || errors.Is(err, unix.EEXIST) {
			fd, err = unix.Openat2(int(parent.Fd()), filepath.Base(p), &unix.OpenHow{Flags: how.Flags, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
		}
		parent.Close()
	}
	if err != nil {
		return nil, &PathError{what, p, pathErrReason(err)}
	}
	if err := checkOrdinaryFS(what, p, fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), p), nil
}

// MountPoint opens rel (clean, relative) beneath dir, the root of a bind
// in dockless's private mount tree, as the caller would, for a mount to be
// attached there: no symlink and no magic link is followed and nothing
// outside dir is reached. With create, what is missing is made as the
// caller (directories; the last component an empty file when file is
// set), so it is theirs; without, a missing component is refused
// ("does not exist"). The handle is an O_PATH one.
func MountPoint(c *Caller, dir *os.File, rel string, create, file bool) (*os.File, error) {
	var out *os.File
	err := asUser(c, func() error {
		cur, err := unix.Openat2(int(dir.Fd()), ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY, Resolve: unix.RESOLVE_BENEATH})
		if err != nil {
			return &PathError{"mount point", rel, pathErrReason(err)}
		}
		names := strings.Split(rel, "/")
		if rel == "" {
			names = nil
		}
		for i, name := range names {
			last := i == len(names)-1
			how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
			if !last || !file {
				how.Flags |= unix.O_DIRECTORY
			}
			fd, err := unix.Openat2(cur, name, &how)
			if errors.Is(err, unix.ENOENT) && create {
				if last && file {
					var nfd int
					if nfd, err = unix.Openat(cur, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644); err == nil {
						unix.Close(nfd)
					}
				} else {
					err = unix.Mkdirat(cur, name, 0o755)
				}
				if err == nil || errors.Is(err, unix.EEXIST) {
					fd, err = unix.Openat2(cur, name, &how)
				}
			}
			unix.Close(cur)
			if err != nil {
				why := pathErrReason(err)
				if errors.Is(err, unix.ELOOP) {
					why = "is a symlink: mount points in host directories are never reached through one"
				}
				return &PathError{"mount point", filepath.Join(names[:i+1]...), why}
			}
			cur = fd
		}
		out = os.NewFile(uintptr(cur), rel)
		return nil
	})
	return out, err
}
