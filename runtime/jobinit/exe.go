package jobinit

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeExeDescriptors closes, in a container's init, the descriptors of
// the init's own executable. libcontainer runs the init from a sealed copy
// of the dockless binary (CVE-2019-5736) and passes that copy down as an
// inherited descriptor, which it closes only when it execs the container's
// process: until then (all the life of a container made by dockless-runc
// create and not yet started) the container's processes could reach it
// through /proc/<init>/fd. The init was exec'd from it and needs it no
// more; it is found by comparing each descriptor with /proc/self/exe. In
// the small init (dockless-runinit, package initexec), /proc/self/exe is
// the small init's own copy, which its exec closed already, and the exec
// closed the sealed copy of dockless too (initexec.c marks it
// close-on-exec first).
func closeExeDescriptors() {
	var exe unix.Stat_t
	if unix.Stat("/proc/self/exe", &exe) != nil {
		return
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, en := range entries {
		fd, err := strconv.Atoi(en.Name())
		if err != nil || fd <= 2 {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Dev == exe.Dev && st.Ino == exe.Ino {
			_ = unix.Close(fd)
		}
	}
}
