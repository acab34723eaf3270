package lsf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/dockless/dockless/policy"
)

// Parallel reports whether the job has more than one slot (LSB_DJOB_NUMPROC
// above 1, or several slots in LSB_MCPU_HOSTS): its tasks on this host share
// one container, which its job script's dockless lsf run creates or joins.
func Parallel(env map[string]string) bool {
	if n, err := strconv.Atoi(env["LSB_DJOB_NUMPROC"]); err == nil && n > 1 {
		return true
	}
	f := strings.Fields(env["LSB_MCPU_HOSTS"])
	slots := 0
	for i := 1; i < len(f); i += 2 {
		n, err := strconv.Atoi(f[i])
		if err != nil {
			return false
		}
		slots += n
	}
	return slots > 1
}

var (
	jobIDPattern   = lazyRegexp(`^[0-9]{1,20}$`)
	clusterPattern = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// JobKey names the job on the node: [LSB_EXEC_CLUSTER.]job.LSB_JOBID.LSB_JOBINDEX
// (index 0 when unset). It is only a name to look the job's container up
// by: who may join that container is decided by the caller's uid and
// cgroup, never by these variables.
func JobKey(env map[string]string) (string, error) {
	id, index := env["LSB_JOBID"], env["LSB_JOBINDEX"]
	if index == "" {
		index = "0"
	}
	if !jobIDPattern().MatchString(id) || !jobIDPattern().MatchString(index) {
		return "", fmt.Errorf("LSB_JOBID=%q LSB_JOBINDEX=%q: not an LSF job id and array index (digits): dockless lsf task runs inside an LSF job, started by blaunch", id, index)
	}
	key := "job." + id + "." + index
	if c := env["LSB_EXEC_CLUSTER"]; c != "" {
		if !clusterPattern().MatchString(c) {
			return "", fmt.Errorf("LSB_EXEC_CLUSTER=%q: not a cluster name (letters, digits, '.', '_', '-')", c)
		}
		key = c + "." + key
	}
	return key, nil
}

// TaskFromEnv is the job container of FromEnv running one task: args, as
// given, instead of the job file (dockless lsf task -- CMD [ARG...]).
func TaskFromEnv(env map[string]string, args []string, pol *policy.Policy, caller *policy.Caller, h Host) (*Job, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no task command: dockless lsf task [--] COMMAND [ARG...]")
	}
	job, err := FromEnv(env, []string{PlaceHolder}, pol, caller, h)
	if err != nil {
		return nil, err
	}
	if job.LoginOnly {
		return nil, fmt.Errorf("LSB_DOCKER_LOGIN_ONLY=1: a login job runs no tasks")
	}
	job.Req.EntrypointSet, job.Req.Entrypoint, job.Req.Cmd = true, nil, args
	return job, nil
}

// lazyRegexp compiles expr on first use, not in the package's
// initialisation: dockless's binary starts twice per container (the
// command and the container's init), and the init never needs it.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
