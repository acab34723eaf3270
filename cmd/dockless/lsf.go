package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/opencontainers/selinux/go-selinux"
	"github.com/urfave/cli/v2"
)

func lsfCommand() *cli.Command {
	return &cli.Command{
		Name:  "lsf",
		Usage: "run LSF job containers (the JOB_STARTER of an application profile)",
		Subcommands: []*cli.Command{
			{
				Name:         "run",
				Usage:        "run the job's container in the foreground and exit with its status",
				ArgsUsage:    "[JOB_FILE | COMMAND [ARG...] | " + placeHolder + "]",
				Flags:        lsfFlags(),
				OnUsageError: onUsageError,
				Action: func(c *cli.Context) error {
					code, err := lsfAction(c, nil)
					if err != nil {
						return err
					}
					return exitStatus{code}
				},
			},
			{
				Name:         "exec",
				Usage:        "run a command (default: a shell) in the running container of one of your jobs (battach, docker_exec)",
				ArgsUsage:    "JOBID [COMMAND [ARG...]]",
				OnUsageError: onUsageError,
				Action: func(c *cli.Context) error {
					if c.NArg() < 1 {
						return usagef(`"lsf exec" requires at least 1 argument: JOBID`)
					}
					n := nodeOf(c)
					r, err := jobContainer(n, c.Args().First())
					if err != nil {
						return err
					}
					args := c.Args().Slice()[1:]
					if len(args) == 0 {
						args = []string{"/bin/sh"}
					}
					tty := isTerminal(os.Stdin)
					code, err := execIn(n, r, execOptions{Args: args, Tty: tty, Interactive: true})
					if err != nil {
						return err
					}
					return exitStatus{code}
				},
			},
			{
				Name:         "spec",
				Usage:        "print the OCI config.json the job would run, starting nothing",
				ArgsUsage:    "[JOB_FILE | COMMAND [ARG...] | " + placeHolder + "]",
				Flags:        lsfFlags(),
				OnUsageError: onUsageError,
				Action: func(c *cli.Context) error {
					_, err := lsfAction(c, c.App.Writer)
					return err
				},
			},
		},
	}
}

func lsfFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Usage: "CRITICAL, ERROR, WARNING, INFO or DEBUG (default: $LSF_DOCKER_RUN_LOGLEVEL, else WARNING)"},
	}
}

// lsfAction builds the job's container from the environment and runs it
// (or, with specOut, prints its config).
func lsfAction(c *cli.Context, specOut io.Writer) (int, error) {
	n := nodeOf(c)
	cwd, err := os.Getwd()
	if err != nil {
		return -1, fmt.Errorf("the job's working directory: %w", err)
	}
	hostname, err := os.Hostname()
	if err != nil {
		return -1, err
	}
	h := jobHost{
		Hostname:       hostname,
		Cwd:            cwd,
		StdinTTY:       isTerminal(os.Stdin),
		CgroupV2:       cgroupV2(),
		SELinuxEnabled: selinux.GetEnabled(),
		Exists:         func(p string) bool { _, err := os.Stat(p); return err == nil },
		Device:         spec.ParseDevice,
	}
	job, err := lsfJobFromEnv(n.caller.Env, c.Args().Slice(), n, h)
	if err != nil {
		return -1, err
	}
	if job.LoginOnly {
		return 0, login(c, job.LoginServer, "", "", false, os.Stdin)
	}
	level := job.LogLevel
	if c.IsSet("log-level") {
		level = c.String("log-level")
	}
	if level != "" {
		if err := n.log.SetLevel(level); err != nil {
			return -1, err
		}
	}
	for _, w := range job.Warnings {
		n.log.Warnf("%s", w)
	}
	n.log.Debugf("job container %s for %s (uid %d, gid %d, groups %v), image %s, policy %s",
		job.Name, n.caller.Name, n.caller.UID, n.caller.GID, n.caller.Groups, job.Req.Image, n.policy.Source())
	if err := readJobFiles(n, job); err != nil {
		return -1, err
	}
	if job.JobFile != "" {
		if _, err := policy.Stat(n.caller, "job file", job.JobFile); err != nil {
			return -1, &runtime.StartError{Code: exitNotFound, Err: err}
		}
	}
	if err := openJobSources(n, job); err != nil {
		return -1, err
	}
	defer closeBinds(job.Req.Mounts)
	passwd, group := passwdFiles(n.caller, job.Req.User.AdditionalGids)
	stdio := runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, SigProxy: true}
	opts := launchOptions{
		Name:         job.Name,
		StateCIDFile: true,
		Pull:         "missing",
		Quiet:        levelIndex(level) == levelIndex("CRITICAL"),
		Etc:          map[string][]byte{"passwd": passwd, "group": group},
	}
	if specOut != nil {
		opts.SpecOnly = specOut
	}
	return launch(c, job.Req, opts, stdio)
}

// readJobFiles reads LSF_DOCKER_ENV_FILE and LSF_DOCKER_ADD_HOST_FILE with
// the user's rights; the env files come after the job environment and
// before the site's variables.
func readJobFiles(n *node, job *lsfJob) error {
	var fromFiles []string
	for _, f := range job.EnvFiles {
		vars, err := readEnvFile(n.caller, f, func(string) (string, bool) { return "", false })
		if err != nil {
			return usagef("LSF_DOCKER_ENV_FILE: %w", err)
		}
		fromFiles = append(fromFiles, vars...)
	}
	if len(fromFiles) > 0 {
		site := len(n.policy.Job.Env)
		env := job.Req.Env
		job.Req.Env = append(append(append([]string{}, env[:len(env)-site]...), fromFiles...), env[len(env)-site:]...)
	}
	for _, f := range job.HostFiles {
		data, err := policy.ReadFile(n.caller, "LSF_DOCKER_ADD_HOST_FILE", f)
		if err != nil {
			return usageError{err}
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			hosts, err := addHosts([]string{line})
			if err != nil {
				return usagef("LSF_DOCKER_ADD_HOST_FILE %s: %w", f, err)
			}
			job.Req.AddHosts = append(job.Req.AddHosts, hosts...)
		}
	}
	return nil
}

// openJobSources checks and opens the job's user paths as the user and
// adds them, handle and all, to the job's mounts: a later one replaces an
// earlier one at the same destination. On error every handle is closed;
// otherwise closeBinds closes them.
func openJobSources(n *node, job *lsfJob) error {
	for _, s := range job.Sources {
		prefixes, dirsOnly := s.Prefixes, s.DirsOnly
		if n.policy.Trusted(n.caller) && !n.caller.IsRoot() {
			prefixes, dirsOnly = nil, false
		}
		opened := prefixes
		if s.OwnedOrPrefixed {
			opened = nil // checked below, with the owner
		}
		src, err := policy.OpenSource(n.caller, s.What, s.Bind.Source, opened, dirsOnly || s.What != "volume")
		var pe *policy.PathError
		switch {
		case s.Optional && errors.As(err, &pe) && pe.Why == "does not exist":
			n.log.Warnf("%s: not mounted", err)
			continue
		case s.Skippable && errors.As(err, &pe):
			n.log.Warnf("%s: not mounted (LSF_DOCKER_WORKDIR starts the job elsewhere)", err)
			continue
		case err != nil && s.Fix != "":
			closeBinds(job.Req.Mounts)
			return usagef("%v: %s", err, s.Fix)
		case err != nil:
			closeBinds(job.Req.Mounts)
			return usageError{err}
		}
		if err := s.checkOwner(src, n.caller, prefixes); err != nil {
			src.File.Close()
			closeBinds(job.Req.Mounts)
			return err
		}
		b := s.Bind
		b.Checked = src.File
		job.Req.Mounts = replaceBind(job.Req.Mounts, b)
	}
	return nil
}

// checkOwner applies the source's ownership rule (Owned, OwnedOrPrefixed)
// to src, opened; prefixes are the ones that apply to the caller.
func (s jobSource) checkOwner(src *policy.Source, c *policy.Caller, prefixes []string) error {
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
		return usagef("%s %s: owned by uid %d, not by %s, and not under an allowed prefix (%s): %s", s.What, s.Bind.Source, uid, c.Name, strings.Join(prefixes, ", "), s.Fix)
	default:
		return usagef("%s %s: owned by uid %d, not by %s (uid %d): refused by the trust model", s.What, s.Bind.Source, uid, c.Name, c.UID)
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

// passwdFiles are the minimal /etc/passwd and /etc/group of a job
// container: root and the user, and the user's groups with the user as
// member, so that id and whoami print names.
func passwdFiles(c *policy.Caller, groups []uint32) (passwd, group []byte) {
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

// jobContainer finds the caller's container of LSF job jobID (named
// lsf_<jobid>_<pid>).
func jobContainer(n *node, jobID string) (*record, error) {
	all, err := records(n)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if strings.HasPrefix(r.Name, "lsf_"+jobID+"_") && r.Owner == n.caller.UID {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: no running container of job %s belongs to %s on this host", errNoSuchContainer, jobID, n.caller.Name)
}
