package lsf

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	"github.com/sirupsen/logrus"
)

// ReadFiles reads LSF_DOCKER_ENV_FILE and LSF_DOCKER_ADD_HOST_FILE with
// the user's rights; the env files' variables come after the job
// environment and before the site's (the policy's [job] env).
func (job *Job) ReadFiles(caller *policy.Caller, pol *policy.Policy) error {
	var fromFiles []string
	for _, f := range job.EnvFiles {
		vars, err := readEnvFile(caller, f)
		if err != nil {
			return err
		}
		fromFiles = append(fromFiles, vars...)
	}
	if len(fromFiles) > 0 {
		env, site := job.Req.Env, len(pol.Job.Env)
		job.Req.Env = append(append(append([]string{}, env[:len(env)-site]...), fromFiles...), env[len(env)-site:]...)
	}
	for _, f := range job.HostFiles {
		data, err := policy.ReadFile(caller, "LSF_DOCKER_ADD_HOST_FILE", f)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			h, err := spec.ParseAddHost(line)
			if err != nil {
				return fmt.Errorf("LSF_DOCKER_ADD_HOST_FILE %s: %s: %w", f, line, err)
			}
			job.Req.AddHosts = append(job.Req.AddHosts, h)
		}
	}
	return nil
}

// readEnvFile reads a docker env file with the user's rights; a bare KEY
// in it is dropped (the job environment is already passed whole).
func readEnvFile(caller *policy.Caller, path string) ([]string, error) {
	f, err := policy.OpenFile(caller, "LSF_DOCKER_ENV_FILE", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars, err := spec.ParseEnvFile(f, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("LSF_DOCKER_ENV_FILE %s: %w", path, err)
	}
	return vars, nil
}

// Open checks and opens the job's user paths as the user and adds them,
// handle and all, to the request's mounts: a later one replaces an earlier
// one at the same destination. Skipped paths are logged to log; a refusal
// says what the user can do (Source.Fix). On error every handle is closed;
// otherwise spec.CloseBinds closes them.
func (job *Job) Open(caller *policy.Caller, pol *policy.Policy, log logrus.FieldLogger) error {
	for _, s := range job.Sources {
		b, err := s.open(caller, pol)
		var pe *policy.PathError
		switch {
		case err == nil:
			job.Req.Mounts = replaceBind(job.Req.Mounts, b)
		case s.Optional && errors.As(err, &pe) && pe.Why == "does not exist":
			log.Warnf("%s: not mounted", err)
		case s.Skippable && errors.As(err, &pe):
			log.Warnf("%s: not mounted (LSF_DOCKER_WORKDIR starts the job elsewhere)", err)
		case s.Fix != "":
			spec.CloseBinds(job.Req.Mounts)
			return fmt.Errorf("%w: %s", err, s.Fix)
		default:
			spec.CloseBinds(job.Req.Mounts)
			return err
		}
	}
	return nil
}

// open checks and opens the source as the user, under its rules.
func (s Source) open(caller *policy.Caller, pol *policy.Policy) (spec.Bind, error) {
	var prefixes []string
	dirsOnly := s.Directory
	if s.VolumeRules {
		var volumeDirs bool
		prefixes, volumeDirs = pol.VolumeRules(caller)
		dirsOnly = dirsOnly || volumeDirs
	}
	opened := prefixes
	if s.OwnedOrPrefixed {
		opened = nil // checked below, with the owner
	}
	src, err := policy.OpenSource(caller, s.What, s.Bind.Source, opened, dirsOnly)
	if err != nil {
		return spec.Bind{}, err
	}
	if err := s.checkOwner(src, caller, prefixes); err != nil {
		src.File.Close()
		return spec.Bind{}, err
	}
	b := s.Bind
	b.Checked = src.File
	return b, nil
}

// checkOwner applies the source's ownership rule (Owned, OwnedOrPrefixed)
// to src, opened; prefixes are the ones that apply to the caller.
func (s Source) checkOwner(src *policy.Source, c *policy.Caller, prefixes []string) error {
	if !s.Owned && !s.OwnedOrPrefixed {
		return nil
	}
	st, err := src.File.Stat()
	if err != nil {
		return err
	}
	uid := st.Sys().(*syscall.Stat_t).Uid
	switch {
	case uid == c.UID:
		return nil
	case s.OwnedOrPrefixed && (len(prefixes) == 0 || policy.UnderPrefix(src.Real, prefixes)):
		return nil
	case s.OwnedOrPrefixed:
		return fmt.Errorf("%s %s: owned by uid %d, not by %s, and not under an allowed prefix (%s)", s.What, s.Bind.Source, uid, c.Name, strings.Join(prefixes, ", "))
	default:
		return fmt.Errorf("%s %s: owned by uid %d, not by %s (uid %d): refused by the trust model", s.What, s.Bind.Source, uid, c.Name, c.UID)
	}
}

// replaceBind adds b to binds, in place of a bind at the same destination
// (whose handle it closes).
func replaceBind(binds []spec.Bind, b spec.Bind) []spec.Bind {
	for i := range binds {
		if binds[i].Destination == b.Destination {
			if binds[i].Checked != nil {
				binds[i].Checked.Close()
			}
			binds[i] = b
			return binds
		}
	}
	return append(binds, b)
}

// PasswdFiles are the minimal /etc/passwd and /etc/group of a job
// container: root and the user, and the user's groups with the user as
// member, so that id and whoami print names.
func PasswdFiles(c *policy.Caller, groups []uint32) (passwd, group []byte) {
	var p, g strings.Builder
	p.WriteString("root:x:0:0:root:/root:/bin/sh\n")
	if c.UID != 0 {
		fmt.Fprintf(&p, "%s:x:%d:%d:%s:%s:/bin/sh\n", c.Name, c.UID, c.GID, c.Name, c.Home)
	}
	g.WriteString("root:x:0:\n")
	for _, gid := range groups {
		if gid == 0 {
			continue
		}
		fmt.Fprintf(&g, "%s:x:%d:%s\n", policy.GroupName(gid), gid, c.Name)
	}
	return []byte(p.String()), []byte(g.String())
}
