package policy

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

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
	// Env is the caller's environment as exec'd: data (the job's
	// environment, -e KEY, DOCKER_CONFIG) that dockless reads and never
	// acts on. A setuid dockless's own environment is not the caller's
	// (see runtime.SecureExec).
	Env map[string]string
	// Rlimits are the caller's resource limits where dockless's own
	// differ (the setuid entry lifted them, see runtime.CallerRlimits);
	// for the others the caller's are dockless's.
	Rlimits map[int]unix.Rlimit
	// OOMScoreAdj is the caller's OOM score adjustment (dockless's own,
	// inherited): what a caller may not lower without privilege.
	OOMScoreAdj int
}

// LookupEnv looks key up in the caller's environment.
func (c *Caller) LookupEnv(key string) (string, bool) {
	v, ok := c.Env[key]
	return v, ok
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
	if c.Env, err = callerEnviron(); err != nil {
		return nil, err
	}
	if adj, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
		c.OOMScoreAdj, _ = strconv.Atoi(strings.TrimSpace(string(adj)))
	}
	c.lookup()
	return c, nil
}

// callerEnviron reads the environment the process was exec'd with from
// /proc/self/environ: the kernel keeps those strings as they were, while
// the process's own environment is cut down (by the loader for a setuid
// program, and by dockless's setuid entry to a fixed PATH).
func callerEnviron() (map[string]string, error) {
	raw, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		return nil, fmt.Errorf("reading the caller's environment: %w", err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(raw), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			if _, seen := env[k]; !seen {
				env[k] = v
			}
		}
	}
	return env, nil
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
//
// Credentials are per thread in Linux; the syscall package changes every
// thread of the process (libc's set*id broadcast in a cgo binary, else
// AllThreadsSyscall). x/sys/unix's Setgroups is the raw, one-thread call.
func BecomeRoot() error {
	if unix.Geteuid() != 0 || unix.Getuid() == 0 {
		return nil
	}
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("setresgid: %w", err)
	}
	if err := syscall.Setgroups([]int{0}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresuid(0, 0, 0); err != nil {
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
