package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ResolveUser resolves docker's --user value (name, uid, name:group,
// uid:gid; empty means root) and --group-add entries against the image's
// /etc/passwd and /etc/group under rootfs, as docker does: a numeric uid
// missing from passwd runs with gid 0; groups listing the user become
// supplementary groups (sorted, so specs are deterministic).
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
	u := specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid)}
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
// links out of it; a missing file is (nil, nil). The image is the user's:
// a FIFO there must not hold dockless up (it is opened without blocking,
// and refused).
func openInRoot(rootfs, p string) (*os.File, error) {
	full, err := securejoin.SecureJoin(rootfs, p)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("the image's %s is not a regular file", p)
	}
	return f, nil
}
