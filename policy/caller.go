package policy

import (
	"fmt"
	"os/user"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// Caller is who asked dockless for a container: the real user of the
// process (the job user when dockless is setuid-root), never anything the
// environment says.
type Caller struct {
	UID, GID uint32
	// Groups are the supplementary groups of the process, sorted.
	Groups []uint32
	// Name and Home come from the user database (NSS); a uid unknown to
	// it is named "uid<N>" with home "/".
	Name, Home string
}

// CurrentCaller reads the real identity of this process. It must run
// before dockless drops the setuid split (see BecomeRoot).
func CurrentCaller() (*Caller, error) {
	gids, err := unix.Getgroups()
	if err != nil {
		return nil, fmt.Errorf("reading the caller's groups: %w", err)
	}
	c := &Caller{UID: uint32(unix.Getuid()), GID: uint32(unix.Getgid())}
	for _, g := range gids {
		if !slices.Contains(c.Groups, uint32(g)) {
			c.Groups = append(c.Groups, uint32(g))
		}
	}
	slices.Sort(c.Groups)
	c.lookup()
	return c, nil
}

func (c *Caller) lookup() {
	c.Name, c.Home = "uid"+strconv.Itoa(int(c.UID)), "/"
	if u, err := user.LookupId(strconv.Itoa(int(c.UID))); err == nil {
		c.Name, c.Home = u.Username, u.HomeDir
	}
}

// IsRoot reports whether the caller is root.
func (c *Caller) IsRoot() bool { return c.UID == 0 }

// Trusted reports whether the caller is root or named in [callers] trusted.
func (p *Policy) Trusted(c *Caller) bool {
	return c.IsRoot() || slices.Contains(p.Callers.Trusted, c.Name)
}

// BecomeRoot turns a setuid-root process (real uid = caller, effective
// uid 0) fully into root, so that the container init libcontainer
// re-executes runs with root's credentials. Without the setuid split it
// does nothing. The caller's identity must have been read first.
func BecomeRoot() error {
	if unix.Geteuid() != 0 || unix.Getuid() == 0 {
		return nil
	}
	if err := unix.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := unix.Setgroups([]int{0}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := unix.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("setresuid: %w", err)
	}
	return nil
}

// GroupName names gid from the group database, or "g<N>".
func GroupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return "g" + strconv.Itoa(int(gid))
}
