package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bindFlags are the mount options that mean something for a bind mount;
// anything else (tmpfs's size=, mode=…) the kernel ignores on a bind, and
// libcontainer refuses.
var bindFlags = map[string]bool{
	"bind": true, "rbind": true, "ro": true, "rw": true, "suid": true, "nosuid": true, "dev": true, "nodev": true,
	"exec": true, "noexec": true, "sync": true, "async": true, "dirsync": true, "remount": true, "mand": true,
	"nomand": true, "atime": true, "noatime": true, "diratime": true, "nodiratime": true, "relatime": true,
	"norelatime": true, "strictatime": true, "nostrictatime": true, "private": true, "rprivate": true,
	"shared": true, "rshared": true, "slave": true, "rslave": true, "unbindable": true, "runbindable": true,
	"recursive": true, "rro": true, "rrw": true, "rnosuid": true, "rsuid": true, "rnodev": true, "rdev": true,
	"rnoexec": true, "rexec": true, "idmap": true, "ridmap": true,
}

// tolerate brings a spec from another tool (the OCI interface) within what
// libcontainer accepts, the way runc 1.1 and docker treat it: filesystem
// options on bind mounts are dropped, and FIFO device nodes lose their
// meaningless major:minor numbers.
func tolerate(s *specs.Spec) {
	for i, m := range s.Mounts {
		if !isBind(m) {
			continue
		}
		var keep []string
		for _, o := range m.Options {
			if bindFlags[o] {
				keep = append(keep, o)
			}
		}
		s.Mounts[i].Options = keep
	}
	if s.Linux != nil {
		for i, d := range s.Linux.Devices {
			if d.Type == "p" {
				s.Linux.Devices[i].Major, s.Linux.Devices[i].Minor = 0, 0
			}
		}
	}
}

func isBind(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	for _, o := range m.Options {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}
