package lsf

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dockless/dockless/policy"
)

// minimalEnv are the variables kept when LSF_DOCKER_PRESERVE_ENVIRONMENT
// is false, besides every LSB_*, LSF_* and LC_* variable.
var minimalEnv = []string{"HOME", "USER", "LOGNAME", "TERM", "LANG", "TZ", "TMPDIR", "DISPLAY"}

// jobEnvironment passes the job environment as the seed's wrapper did,
// with one change: the node's PATH is not passed (it would hide the image's
// ENV PATH, the users' top complaint); the image's PATH is kept and LSF's
// bin directory appended, so bsub and friends still work. The policy's
// [job] env comes last (ReadFiles puts the env files before it).
func jobEnvironment(job *Job, env map[string]string, pol *policy.Policy, caller *policy.Caller) error {
	preserve := true
	switch v := strings.ToLower(env["LSF_DOCKER_PRESERVE_ENVIRONMENT"]); v {
	case "", "true", "1", "yes", "y":
	case "false", "0", "no", "n":
		preserve = false
	default:
		return fmt.Errorf("LSF_DOCKER_PRESERVE_ENVIRONMENT=%s: use true or false", v)
	}
	req := job.Req
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if passes(k, env[k], preserve) {
			req.Env = append(req.Env, k+"="+env[k])
		}
	}
	if _, ok := env["HOME"]; !ok || !preserve {
		req.Env = append(req.Env, "HOME="+caller.Home)
	}
	if bin := env["LSF_BINDIR"]; bin != "" {
		req.PathAppend = []string{bin}
	}
	job.EnvFiles = strings.Fields(env["LSF_DOCKER_ENV_FILE"])
	req.Env = append(req.Env, pol.Job.Env...)
	return nil
}

// passes reports whether the job variable k=v goes into the container.
func passes(k, v string, preserve bool) bool {
	switch {
	case k == "HOSTNAME", k == "LSB_INTERACTIVE", k == "PATH", k == "",
		strings.HasPrefix(k, "BASH_FUNC_"), strings.ContainsAny(v, "\n"), strings.ContainsAny(k, "= \t\n"):
		return false
	case preserve:
		return true
	}
	return slices.Contains(minimalEnv, k) || strings.HasPrefix(k, "LSB_") || strings.HasPrefix(k, "LSF_") || strings.HasPrefix(k, "LC_")
}
