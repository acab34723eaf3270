package policy

import (
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
		unix.Setfsgid(int(c.GID))
		unix.Setfsuid(int(c.UID))
		if got, _ := unix.SetfsuidRetUid(-1); got != int(c.UID) {
			done <- errors.New("switching to the caller's uid failed")
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
		case !st.Mode().IsRegular():
			f.Close()
			return &PathError{what, path, "is neither a directory nor a regular file"}
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

// Stat reports whether path is a directory, checked as the caller (so a
// refusal for a file does not reveal what the caller could not see).
func Stat(c *Caller, what, path string) (os.FileInfo, error) {
	var st os.FileInfo
	err := asUser(c, func() error {
		var err error
		st, err = os.Stat(path)
		if err != nil {
			return &PathError{what, path, err.Error()}
		}
		return nil
	})
	return st, err
}

func openResolved(what, path string, prefixes []string, flags int) (string, *os.File, error) {
	if !filepath.IsAbs(path) {
		return "", nil, &PathError{what, path, "must be an absolute path"}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", nil, &PathError{what, path, pathErrReason(err)}
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
	return real, os.NewFile(uintptr(fd), real), nil
}

func pathErrReason(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "does not exist"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	case errors.Is(err, unix.ELOOP):
		return "changed while being checked (a symlink appeared): refused"
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
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return &PathError{what, dir, pathErrReason(err)}
		}
		tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
		if err != nil {
			return &PathError{what, path, pathErrReason(err)}
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.Write(data); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Chmod(mode); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return &PathError{what, path, pathErrReason(err)}
		}
		return nil
	})
}
