package spec

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ParseDevice reads docker's --device HOST[:CONTAINER][:PERMISSIONS] and
// stats the host node.
func ParseDevice(arg string) (Device, error) {
	parts := strings.Split(arg, ":")
	d := Device{HostPath: parts[0], Permissions: "rwm"}
	switch len(parts) {
	case 1:
		d.Path = parts[0]
	case 2:
		if validPermissions(parts[1]) {
			d.Path, d.Permissions = parts[0], parts[1]
		} else {
			d.Path = parts[1]
		}
	case 3:
		d.Path, d.Permissions = parts[1], parts[2]
	default:
		return Device{}, fmt.Errorf("invalid --device %q: want HOST[:CONTAINER][:PERMISSIONS]", arg)
	}
	if !validPermissions(d.Permissions) {
		return Device{}, fmt.Errorf("invalid --device %q: permissions %q must be a combination of r, w and m", arg, d.Permissions)
	}
	if !strings.HasPrefix(d.HostPath, "/") || !strings.HasPrefix(d.Path, "/") {
		return Device{}, fmt.Errorf("invalid --device %q: paths must be absolute", arg)
	}
	return StatDevice(d)
}

func validPermissions(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}

// StatDevice fills type, numbers, mode and owner of d from its host node.
func StatDevice(d Device) (Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(d.HostPath, &st); err != nil {
		return Device{}, fmt.Errorf("device %s: %w", d.HostPath, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		d.Type = "c"
	case unix.S_IFBLK:
		d.Type = "b"
	default:
		return Device{}, fmt.Errorf("device %s: not a character or block device", d.HostPath)
	}
	d.Major, d.Minor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	d.FileMode = st.Mode &^ unix.S_IFMT
	d.UID, d.GID = st.Uid, st.Gid
	return d, nil
}

// WithDevices creates the device nodes and allows them in the device cgroup.
func WithDevices(devs []Device) Opt {
	return func(s *specs.Spec) error {
		l := setLinux(s)
		r := setResources(s)
		for _, d := range devs {
			mode := os.FileMode(d.FileMode)
			uid, gid := d.UID, d.GID
			major, minor := d.Major, d.Minor
			l.Devices = append(l.Devices, specs.LinuxDevice{
				Path: d.Path, Type: d.Type, Major: major, Minor: minor,
				FileMode: &mode, UID: &uid, GID: &gid,
			})
			r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{
				Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: d.Permissions,
			})
		}
		return nil
	}
}
