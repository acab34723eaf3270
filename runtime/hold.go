package runtime

import (
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hold creates container id from spec and starts its process, the holder
// of a container that processes join with Exec (spec.WithHolder), and
// returns the holder's host pid. Unlike Run's, the container outlives the
// dockless that made it (no parent-death signal): whoever leaves it last
// removes it with Destroy. The holder reads and writes /dev/null. On a
// cgroup v2 host the container is placed below the job cgroup as Run
// places one, and the placement is given back once it runs.
func Hold(root, id string, spec *specs.Spec) (int, error) {
	if spec.Process == nil {
		return 0, errors.New("spec has no process")
	}
	placement, err := placeV2(spec)
	defer placement.Restore()
	if err != nil {
		return 0, err
	}
	cfg, err := convert(id, spec, false, true)
	if err != nil {
		return 0, err
	}
	hooks := takeHooks(cfg)
	cfg.Rlimits, _ = takeLateRlimits(cfg.Rlimits)
	container, err := libcontainer.Create(root, id, cfg)
	if err != nil {
		return 0, fmt.Errorf("unable to create container: %w", err)
	}
	pid, err := startHolder(root, id, container, cfg, spec.Process, hooks)
	if err != nil {
		_ = destroy(root, id, container)
		return 0, err
	}
	return pid, nil
}

// startHolder starts the holder and runs the poststart hooks.
func startHolder(root, id string, container *libcontainer.Container, cfg *configs.Config, p *specs.Process, hooks configs.Hooks) (int, error) {
	if err := saveCgroupPaths(root, id, cfg.Cgroups); err != nil {
		return 0, err
	}
	if err := saveHooks(root, id, hooks); err != nil {
		return 0, err
	}
	process, err := newProcess(p, true)
	if err != nil {
		return 0, err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close()
	process.Stdin, process.Stdout, process.Stderr = null, null, null
	if err := startThenExec(container, process, true); err != nil {
		return 0, err
	}
	if err := runPoststart(container, hooks); err != nil {
		return 0, err
	}
	return process.Pid()
}
