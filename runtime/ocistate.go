package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ContainerState is what runc's state and list print of a container:
// runtime-spec's State, the rootfs, when it was created and, for list,
// who owns its state.
type ContainerState struct {
	Version        string            `json:"ociVersion"`
	ID             string            `json:"id"`
	InitProcessPid int               `json:"pid"`
	Status         string            `json:"status"`
	Bundle         string            `json:"bundle"`
	Rootfs         string            `json:"rootfs"`
	Created        time.Time         `json:"created"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Owner          string            `json:"owner"`
}

// OCIState is container id's state (no owner, as runc state).
func OCIState(root, id string) (*ContainerState, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return containerState(c)
}

func containerState(c *libcontainer.Container) (*ContainerState, error) {
	status, err := c.Status()
	if err != nil {
		return nil, err
	}
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	pid := st.BaseState.InitProcessPid
	if status == libcontainer.Stopped {
		pid = 0
	}
	bundle, annotations := utils.Annotations(st.Config.Labels)
	delete(annotations, strings.TrimSuffix(seccompLabel, "="))
	delete(annotations, strings.TrimSuffix(seccompLoaderLabel, "="))
	return &ContainerState{
		Version: st.BaseState.Config.Version, ID: st.BaseState.ID, InitProcessPid: pid, Status: status.String(),
		Bundle: bundle, Rootfs: st.BaseState.Config.Rootfs, Created: st.BaseState.Created, Annotations: annotations,
	}, nil
}

// List is the state of every container under root, as runc list: a
// container whose state cannot be read is reported on stderr and left
// out. A root that does not exist is an error (os.ErrNotExist).
func List(root string) ([]ContainerState, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var list []ContainerState
	for _, e := range entries {
		if !e.IsDir() || e.Name() == OCISeccompCache {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		uid := strconv.Itoa(int(info.Sys().(*syscall.Stat_t).Uid))
		owner := "#" + uid
		if u, err := user.LookupId(uid); err == nil {
			owner = u.Username
		}
		c, err := libcontainer.Load(root, e.Name())
		if err != nil {
			fmt.Fprintf(os.Stderr, "load container %s: %v\n", e.Name(), err)
			continue
		}
		st, err := containerState(c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "state of %s: %v\n", e.Name(), err)
			continue
		}
		st.Owner = owner
		list = append(list, *st)
	}
	return list, nil
}

// ExampleSpec is runc spec's starting config.json (runc's template,
// libcontainer's own): sh on a terminal in a read-only rootfs, a few
// capabilities, no new privileges. rootless makes it runc's rootless one.
func ExampleSpec(rootless bool) *specs.Spec {
	s := specconv.Example()
	if rootless {
		specconv.ToRootless(s)
	}
	return s
}

// RuncVersion is the version of runc whose libcontainer dockless embeds
// ("1.5.3"), from the build's module list.
func RuncVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "github.com/opencontainers/runc" {
				return strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return "unknown"
}

// SeccompVersion is the version of libseccomp linked in ("" without).
func SeccompVersion() string {
	major, minor, micro := seccomp.Version()
	if major+minor+micro == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
