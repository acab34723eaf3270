package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ResolveUser resolves docker's --user value (name, uid, name:group,
// uid:gid; empty means root) and --group-add entries against the image's
// /etc/passwd and /etc/group under rootfs, as docker does: a numeric uid
// missing from passwd runs with gid 0; the primary group and the groups
// listing the user become supplementary groups, as docker's do (sorted,
// so specs are deterministic).
func ResolveUser(rootfs, userSpec string, groupAdd []string) (specs.User, error) {
	passwd, err := openInRoot(rootfs, "/etc/passwd")
	if err != nil {
		return specs.User{}, err
	}
	if passwd != nil {
		defer passwd.Close()
	}
	group, err := openInRoot(rootfs, "/etc/group")
	if err != nil {
		return specs.User{}, err
	}
	if group != nil {
		defer group.Close()
	}
	defaults := &user.ExecUser{Home: "/"}
	eu, err := user.GetExecUser(userSpec, defaults, readerOrNil(passwd), readerOrNil(group))
	if err != nil {
		return specs.User{}, fmt.Errorf("unable to find user %s: %w", userSpec, err)
	}
	u := specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid), AdditionalGids: []uint32{uint32(eu.Gid)}}
	for _, g := range eu.Sgids {
		u.AdditionalGids = appendGid(u.AdditionalGids, uint32(g))
	}
	if len(groupAdd) > 0 {
		if group != nil {
			if _, err := group.Seek(0, io.SeekStart); err != nil {
				return specs.User{}, err
			}
		}
		gids, err := user.GetAdditionalGroups(groupAdd, readerOrNil(group))
		if err != nil {
			return specs.User{}, fmt.Errorf("--group-add: %w", err)
		}
		for _, g := range gids {
			u.AdditionalGids = appendGid(u.AdditionalGids, uint32(g))
		}
	}
	slices.Sort(u.AdditionalGids)
	return u, nil
}

func appendGid(gids []uint32, g uint32) []uint32 {
	for _, have := range gids {
		if have == g {
			return gids
		}
	}
	return append(gids, g)
}

// readerOrNil keeps a nil *os.File from becoming a non-nil io.Reader.
func readerOrNil(f *os.File) io.Reader {
	if f == nil {
		return nil
	}
	return f
}

// openInRoot opens the regular file p inside rootfs without following
// links out of it; a missing file is (nil, nil). The rootfs is the user's
// (the image's, or a running container's that its processes change while
// dockless reads it): p is resolved by the kernel inside the root
// (RESOLVE_IN_ROOT), in one step, so that no link swapped in on the way
// leads root out of it; a FIFO there must not hold dockless up (it is
// opened without blocking, and refused), nor a terminal become its own.
func openInRoot(rootfs, p string) (*os.File, error) {
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, p, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the image's %s: %w", p, err)
	}
	f := os.NewFile(uintptr(fd), rootfs+p)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("the image's %s is not a regular file", p)
	}
	return f, nil
}
