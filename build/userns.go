package build

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/dockless/dockless/policy"
	"golang.org/x/sys/unix"
)

// maxUserNamespaces is the sysctl that turns user namespaces off at 0.
const maxUserNamespaces = "/proc/sys/user/max_user_namespaces"

// CheckUserNamespaces refuses a build on a node without user namespaces:
// a build runs only as its caller, never as root on the node.
func CheckUserNamespaces() error {
	b, err := os.ReadFile(maxUserNamespaces)
	if err != nil {
		return fmt.Errorf("dockless build needs user namespaces: %w", err)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return errors.New("dockless build needs user namespaces, and this node turns them off (sysctl user.max_user_namespaces = 0): a build runs as you in a user namespace, never as root on the node; ask the node's admin to set user.max_user_namespaces above 0")
	}
	return nil
}

// Range is a caller's subordinate ids: Count ids from Start.
type Range struct{ Start, Count uint32 }

// Subordinate reads the caller's first range (by name or id) from an
// /etc/subuid-style file; none is an empty Range, and a missing file none.
func Subordinate(file, name string, id uint32) (Range, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Range{}, nil
	}
	if err != nil {
		return Range{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != strconv.FormatUint(uint64(id), 10)) {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start == 0 || start+count > 1<<32-1 {
			return Range{}, fmt.Errorf("%s: bad line for %s: %q", file, name, sc.Text())
		}
		return Range{Start: uint32(start), Count: uint32(count)}, nil
	}
	return Range{}, sc.Err()
}

// Mappings map 0 to the caller's id and 1.. to their subordinate range.
func Mappings(id uint32, sub Range) []syscall.SysProcIDMap {
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(id), Size: 1}}
	if sub.Count > 0 {
		m = append(m, syscall.SysProcIDMap{ContainerID: 1, HostID: int(sub.Start), Size: int(sub.Count)})
	}
	return m
}

// Namespaced makes cmd start in a new user namespace (and mount
// namespace, and with pid a PID namespace whose PID 1 it is) where uid and
// gid 0 are the caller and 1.. their subordinate ids, as that root, with
// no supplementary group: root on the node writes the maps, as newuidmap
// would, and the program keeps no privilege of the node. It dies with its
// parent.
func Namespaced(cmd *exec.Cmd, uids, gids []syscall.SysProcIDMap, pid bool) {
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS)
	if pid {
		flags |= unix.CLONE_NEWPID
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 flags,
		UidMappings:                uids,
		GidMappings:                gids,
		GidMappingsEnableSetgroups: true,
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}},
		Pdeathsig:                  syscall.SIGKILL,
		Setpgid:                    true,
	}
}

// Helper is dockless-build (policy.Libexec).
func Helper() (string, error) {
	return policy.Libexec("dockless-build")
}
