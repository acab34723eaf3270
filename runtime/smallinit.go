package runtime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// startInit has process, the init of container c (under root) that h
// prepared (prepare), start as a job container's: its command through
// the loader where the container's filter is the loader's
// (throughLoader, which through reports), and the init the small one
// where libcontainer's init has no filter to load (the small init has no
// libseccomp). release closes dockless's copies of the sealed programs
// once the init started. A nil h starts it libcontainer's way but for a
// filter the container's state gives the loader.
func (h *JobHelpers) startInit(root string, c *libcontainer.Container, process *libcontainer.Process) (release func(), through bool, err error) {
	loaded, through, err := throughLoader(root, c, process)
	if err != nil {
		return nil, false, err
	}
	if h == nil || c.Config().Seccomp != nil {
		return loaded, through, nil
	}
	small := smallInit(h.Init, root, process)
	return func() { loaded(); small() }, through, nil
}

// smallInit has libcontainer's init of process execute the small init at
// path (dockless-runinit) once nsexec is done (package initexec): it hands
// the init a sealed descriptor of it as its last extra file (libcontainer
// passes the init no other), named in the init's log level; the init
// closes it (closeExeDescriptors), so the container's process never gets
// it. The returned function closes dockless's copy once the init started.
// Where the kernel cannot seal it (no fsopen, no overlayfs), the init
// stays dockless's own.
func smallInit(path, root string, process *libcontainer.Process) func() {
	if path == "" {
		return func() {}
	}
	f, err := sealedInit(path, root)
	if err != nil {
		logrus.Debugf("the container's init is dockless's own: %v", err)
		return func() {}
	}
	process.ExtraFiles = append(process.ExtraFiles, f)
	process.LogLevel += ":fd=" + strconv.Itoa(3+len(process.ExtraFiles)-1)
	logrus.Debugf("the container's init: %s", path)
	return func() { f.Close() }
}

// sealedInit opens path through a read-only overlay of its directory that
// is mounted nowhere: what is executed from it cannot be written through
// /proc/<pid>/exe (as runc's sealed copy of itself, at no copying cost).
// overlayfs without an upper layer wants two lower ones, which may not
// overlap: the second is other, libcontainer's root.
func sealedInit(path, other string) (*os.File, error) {
	dir, name := filepath.Split(filepath.Clean(path))
	dir = filepath.Clean(dir)
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen overlay", err)
	}
	defer unix.Close(ctx)
	escape := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace
	if err := unix.FsconfigSetString(ctx, "lowerdir", escape(dir)+":"+escape(filepath.Clean(other))); err != nil {
		return nil, os.NewSyscallError("fsconfig lowerdir", err)
	}
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, os.NewSyscallError("fsconfig create", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, os.NewSyscallError("fsmount", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
