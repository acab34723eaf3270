package lsf

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
)

// jobMounts lays out the seed's mounts: the LSF tree, home, the job tmpdir
// at /tmp and at its own path, cwd, spool, the policy's forced mounts,
// then LSF_DOCKER_VOLUMES. The working directory is bound like a volume:
// under [volumes] allowed_prefixes unless the home or the job tmpdir holds
// it; the job file's directory must be the user's or under the prefixes.
func jobMounts(job *Job, env map[string]string, caller *policy.Caller, pol *policy.Policy, h Host) error {
	if err := lsfTree(job, pol, h); err != nil {
		return err
	}
	l := &layout{job: job}
	if err := l.add(Source{What: "home directory", Bind: spec.Bind{Source: caller.Home}, Directory: true, Optional: true}); err != nil {
		return err
	}
	if tmp := jobTmpdir(env); tmp != "" {
		if _, err := spec.Destination(tmp); err != nil {
			return fmt.Errorf("the job tmpdir %s: %v", tmp, err)
		}
		job.Sources = append(job.Sources,
			Source{What: "job tmpdir", Bind: spec.Bind{Source: tmp, Destination: "/tmp", User: true}, Directory: true, Owned: true},
			Source{What: "job tmpdir", Bind: spec.Bind{Source: tmp, Destination: tmp, User: true}, Directory: true, Owned: true})
		l.covered = append(l.covered, tmp)
	}
	if err := workingDirectory(l, env, pol, h); err != nil {
		return err
	}
	if job.JobFile != "" {
		if err := l.add(Source{What: "job spool directory", Bind: spec.Bind{Source: filepath.Dir(job.JobFile)}, VolumeRules: true, Directory: true, OwnedOrPrefixed: true,
			Fix: "the job file's directory is bound read-write: it must be yours (LSF's spool directories are) or under [volumes] allowed_prefixes in " + pol.Source()}); err != nil {
			return err
		}
	}
	if err := siteMounts(job, pol, h); err != nil {
		return err
	}
	for _, v := range strings.Fields(env["LSF_DOCKER_VOLUMES"]) {
		b, err := parseVolume(v, h.Cwd)
		if err != nil {
			return fmt.Errorf("LSF_DOCKER_VOLUMES %s: %w", v, err)
		}
		job.Sources = append(job.Sources, Source{What: "volume", Bind: b, VolumeRules: true})
	}
	return nil
}

// layout adds the user's directories that are not already inside one
// bound before (the working directory in the home is not bound again).
type layout struct {
	job     *Job
	covered []string
}

func (l *layout) add(src Source) error {
	p := src.Bind.Source
	if p == "" || p == "/" || l.isCovered(p) {
		return nil
	}
	dst, err := spec.Destination(p)
	if err != nil {
		return fmt.Errorf("%s %s: %v", src.What, p, err)
	}
	src.Bind.Destination, src.Bind.User = dst, true
	l.job.Sources = append(l.job.Sources, src)
	l.covered = append(l.covered, dst)
	return nil
}

func (l *layout) isCovered(p string) bool {
	for _, c := range l.covered {
		if p == c || strings.HasPrefix(p, strings.TrimSuffix(c, "/")+"/") {
			return true
		}
	}
	return false
}

// workingDirectory starts the job where it was submitted, or at
// LSF_DOCKER_WORKDIR, and binds the submission directory like a volume.
func workingDirectory(l *layout, env map[string]string, pol *policy.Policy, h Host) error {
	l.job.Req.Workdir = h.Cwd
	wd := env["LSF_DOCKER_WORKDIR"]
	if wd != "" {
		var err error
		if l.job.Req.Workdir, err = spec.ParseWorkdir(wd); err != nil {
			return fmt.Errorf("LSF_DOCKER_WORKDIR=%s: %w", wd, err)
		}
	}
	return l.add(Source{What: "working directory", Bind: spec.Bind{Source: h.Cwd}, VolumeRules: true, Directory: true, Skippable: wd != "",
		Fix: "the job's working directory is bound like a volume ([volumes] allowed_prefixes in " + pol.Source() +
			"): submit the job from your home, the job tmpdir or a directory under an allowed prefix, or set LSF_DOCKER_WORKDIR to start it elsewhere"})
}

// lsfTree binds the LSF installation ([job] lsf_top) where the node has it.
func lsfTree(job *Job, pol *policy.Policy, h Host) error {
	top := pol.Job.LSFTop
	if top == "" {
		return nil
	}
	dst, err := spec.Destination(top)
	if err != nil {
		return fmt.Errorf("policy [job] lsf_top: %w", err)
	}
	if !h.Exists(top) {
		job.Warnings = append(job.Warnings, "LSF tree "+top+" is not on this node: not mounted ([job] lsf_top)")
		return nil
	}
	job.Req.Mounts = append(job.Req.Mounts, spec.Bind{Source: top, Destination: dst})
	return nil
}

// siteMounts binds the policy's [job] mounts that the node has.
func siteMounts(job *Job, pol *policy.Policy, h Host) error {
	for _, m := range pol.Job.Mounts {
		b, err := parseVolume(m, "")
		if err != nil {
			return fmt.Errorf("policy [job] mounts %s: %w", m, err)
		}
		if !h.Exists(b.Source) {
			job.Warnings = append(job.Warnings, "mount "+b.Source+" is not on this node: skipped ([job] mounts)")
			continue
		}
		b.User = false
		job.Req.Mounts = append(job.Req.Mounts, b)
	}
	return nil
}

// parseVolume reads a volume as the seed's wrapper passed it to docker's
// -v (spec.ParseVolume), with the wrapper's shorthand: SRC alone, or
// SRC:OPTIONS, is bound at the same path. A relative SRC is taken in cwd,
// where docker's client ran for the wrapper (none: refused).
func parseVolume(v, cwd string) (spec.Bind, error) {
	src, rest, ok := strings.Cut(v, ":")
	switch {
	case !ok:
		v = src + ":" + src
	case !strings.Contains(rest, ":") && !strings.HasPrefix(rest, "/"):
		v = src + ":" + src + ":" + rest
	}
	return spec.ParseVolume(v, cwd)
}

// jobTmpdir is the job's tmpdir: $TMPDIR when LSF made it
// (<LSB_JOB_TMPDIR>/<jobid>[_<index>].tmpdir), else derived from
// LSB_JOB_TMPDIR.
func jobTmpdir(env map[string]string) string {
	name := env["LSB_JOBID"] + ".tmpdir"
	if idx := env["LSB_JOBINDEX"]; idx != "" && idx != "0" {
		name = env["LSB_JOBID"] + "_" + idx + ".tmpdir"
	}
	if t := env["TMPDIR"]; filepath.Base(t) == name {
		return filepath.Clean(t)
	}
	if base := env["LSB_JOB_TMPDIR"]; base != "" {
		if filepath.Base(base) == name {
			return filepath.Clean(base)
		}
		return filepath.Join(base, name)
	}
	return ""
}
