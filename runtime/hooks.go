package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// dockless runs two kinds of a container's hooks itself, not libcontainer,
// to keep the runtime-spec's lifecycle: libcontainer runs poststart hooks
// as soon as the init is set up, which for an OCI create is before start
// (they belong after the user's process is executed, before start
// returns), and stops at the first failing poststop hook (a failure there
// is a warning and the remaining hooks still run). They are taken out of
// libcontainer's config and kept next to its state, which is removed with
// it.

// hooksFile holds a created container's poststart and poststop hooks.
const hooksFile = "dockless-hooks.json"

// takeHooks removes the poststart and poststop hooks from cfg and returns
// them.
func takeHooks(cfg *configs.Config) configs.Hooks {
	own := configs.Hooks{configs.Poststart: cfg.Hooks[configs.Poststart], configs.Poststop: cfg.Hooks[configs.Poststop]}
	delete(cfg.Hooks, configs.Poststart)
	delete(cfg.Hooks, configs.Poststop)
	return own
}

// saveHooks keeps hooks with container id's state.
func saveHooks(root, id string, hooks configs.Hooks) error {
	if len(hooks[configs.Poststart])+len(hooks[configs.Poststop]) == 0 {
		return nil
	}
	raw, err := json.Marshal(&hooks)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, id, hooksFile), raw, 0o600)
}

// loadHooks returns the hooks saveHooks kept (none if it kept none).
func loadHooks(root, id string) (configs.Hooks, error) {
	raw, err := os.ReadFile(filepath.Join(root, id, hooksFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var hooks configs.Hooks
	if err := json.Unmarshal(raw, &hooks); err != nil {
		return nil, fmt.Errorf("%s: %w", hooksFile, err)
	}
	return hooks, nil
}

// runPoststart runs the poststart hooks with the container's state
// (running) and, if one fails, kills the container's process: the
// lifecycle then continues at the container's destruction.
func runPoststart(c *libcontainer.Container, hooks configs.Hooks) error {
	if len(hooks[configs.Poststart]) == 0 {
		return nil
	}
	st, err := c.OCIState()
	if err == nil {
		err = hooks.Run(configs.Poststart, st)
	}
	if err != nil {
		_ = c.Signal(unix.SIGKILL)
		return fmt.Errorf("poststart hook: %w", err)
	}
	return nil
}

// destroy removes container id and then runs its poststop hooks, each of
// them even if one before it failed; a failure is a warning.
func destroy(root, id string, c *libcontainer.Container) error {
	hooks, err := loadHooks(root, id)
	if err != nil {
		return err
	}
	st, stateErr := c.OCIState()
	if err := c.Destroy(); err != nil {
		return err
	}
	if stateErr != nil {
		st = &specs.State{Version: specs.Version, ID: id}
	}
	runPoststop(st, hooks)
	return nil
}

// runPoststop runs the poststop hooks with the state st of a container
// that is gone.
func runPoststop(st *specs.State, hooks configs.Hooks) {
	st.Status, st.Pid = specs.StateStopped, 0
	for i, h := range hooks[configs.Poststop] {
		if err := h.Run(st); err != nil {
			logrus.Warnf("container %s: poststop hook #%d: %v", st.ID, i, err)
		}
	}
}
