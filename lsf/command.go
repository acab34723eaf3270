package lsf

import (
	"fmt"
	"path/filepath"
	"strings"
)

// jobCommand decides what the container runs. The job file (or command) is
// run by /bin/sh whatever the image's ENTRYPOINT, unless
// LSF_DOCKER_ENTRYPOINT names another; LSB_DOCKER_PLACE_HOLDER and
// LSF_DOCKER_RUN_RAW_ARGS=1 run the image's own ENTRYPOINT and CMD.
func jobCommand(job *Job, env map[string]string, args []string) error {
	req := job.Req
	raw := env["LSF_DOCKER_RUN_RAW_ARGS"] == "1"
	switch {
	case len(args) == 1 && args[0] == PlaceHolder, raw && len(args) == 0:
		return nil
	case raw:
		req.Cmd = args
		return nil
	case len(args) == 0:
		return fmt.Errorf("no job command: give the job file or command, or %s to run the image's own ENTRYPOINT/CMD", PlaceHolder)
	}
	if ep := env["LSF_DOCKER_ENTRYPOINT"]; ep != "" {
		if !strings.HasPrefix(ep, "/") {
			return fmt.Errorf("LSF_DOCKER_ENTRYPOINT=%s: must be an absolute path in the image", ep)
		}
		req.EntrypointSet, req.Entrypoint, req.Cmd = true, []string{ep}, args
		return nil
	}
	req.EntrypointSet = true
	if filepath.IsAbs(args[0]) {
		job.JobFile = args[0]
		req.Cmd = append([]string{"/bin/sh"}, args...)
	} else {
		req.Cmd = []string{"/bin/sh", "-c", strings.Join(args, " ")}
	}
	return nil
}
