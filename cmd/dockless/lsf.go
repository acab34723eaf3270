package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/lsf"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

func (a *app) lsfCommand() *cli.Command {
	return &cli.Command{
		Name:  "lsf",
		Usage: "run LSF job containers (the JOB_STARTER of an application profile)",
		Subcommands: []*cli.Command{
			{
				Name:         "run",
				Usage:        "run the job's container in the foreground and exit with its status",
				ArgsUsage:    "[JOB_FILE | COMMAND [ARG...] | " + lsf.PlaceHolder + "]",
				Flags:        lsfFlags(),
				OnUsageError: onUsageError,
				Action:       func(c *cli.Context) error { return exited(a.lsfRun(c, nil)) },
			},
			{
				Name:            "task",
				Usage:           "run a task of a parallel job (blaunch, an MPI launcher) in the job's container on this host, creating it if it does not exist, and exit with its status",
				ArgsUsage:       "[--] COMMAND [ARG...]",
				SkipFlagParsing: true,
				OnUsageError:    onUsageError,
				Action:          func(c *cli.Context) error { return exited(a.lsfRun(c, nil)) },
			},
			{
				Name:            "build",
				Usage:           "the docker_build application's job starter: build the job's context as docker build with its arguments, tagged $LSB_CONTAINER_IMAGE too, and push every tag",
				ArgsUsage:       "[--] [DOCKER BUILD OPTIONS] CONTEXT",
				SkipFlagParsing: true,
				Action:          a.lsfBuild,
			},
			{
				Name:         "exec",
				Usage:        "run a command (default: a shell) in the running container of one of your jobs (battach, docker_exec)",
				ArgsUsage:    "JOBID [COMMAND [ARG...]]",
				OnUsageError: onUsageError,
				Action:       a.lsfExec,
			},
			{
				Name:         "gpus",
				Usage:        "show the GPUs a job with this environment gets: LSF's allocation, the CDI devices, the container's GPU variables, device nodes, mounts and hooks",
				OnUsageError: onUsageError,
				Action:       a.lsfGPUs,
			},
			{
				Name:         "spec",
				Usage:        "print the OCI config.json the job would run, starting nothing",
				ArgsUsage:    "[JOB_FILE | COMMAND [ARG...] | " + lsf.PlaceHolder + "]",
				Flags:        lsfFlags(),
				OnUsageError: onUsageError,
				Action: func(c *cli.Context) error {
					_, err := a.lsfRun(c, c.App.Writer)
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

// lsfRun builds the job's container from the environment (lsf) and runs
// it (or, with specOut, prints its config).
func (a *app) lsfRun(c *cli.Context, specOut io.Writer) (int, error) {
	h, err := jobHost()
	if err != nil {
		return -1, err
	}
	pol := a.node.Policy
	h.GPUs = a.jobGPUs
	task := c.Command.Name == "task"
	from, args := lsf.FromEnv, c.Args().Slice()
	if task {
		from = lsf.TaskFromEnv
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
	}
	job, err := from(a.caller.Env, args, pol, a.caller, h)
	if err != nil {
		return -1, usageError{err}
	}
	if job.LoginOnly {
		return 0, a.login(c, job.LoginServer, "", "", false, os.Stdin)
	}
	level := job.LogLevel
	if c.IsSet("log-level") {
		level = c.String("log-level")
	}
	if level != "" {
		l, err := lsf.ParseLogLevel(level)
		if err != nil {
			return -1, usageError{err}
		}
		a.log.SetLevel(l)
	}
	for _, w := range job.Warnings {
		a.log.Warnf("%s", w)
	}
	if g := job.GPUs; g != nil {
		a.log.Infof("GPUs: %s=%s, CDI devices %s; in the container %s", g.From, g.Value, strings.Join(g.Names(), " "), strings.Join(g.Env, " "))
	}
	a.log.Debugf("job container %s for %s (uid %d, gid %d, groups %v), image %s, policy %s",
		job.Name, a.caller.Name, a.caller.UID, a.caller.GID, a.caller.Groups, job.Req.Image, pol.Source())
	if err := job.ReadFiles(a.caller, pol); err != nil {
		return -1, usageError{err}
	}
	if job.JobFile != "" {
		if _, err := policy.Stat(a.caller, "job file", job.JobFile); err != nil {
			return -1, &runtime.StartError{Code: exitNotFound, Err: err}
		}
	}
	if err := job.Open(a.caller, pol, a.log); err != nil {
		return -1, usageError{err}
	}
	defer spec.CloseBinds(job.Req.Mounts)
	passwd, group := lsf.PasswdFiles(a.caller, job.Req.User.AdditionalGids)
	opts := container.Options{
		Name:         job.Name,
		StateCIDFile: true,
		Pull:         images.PullMissing,
		Etc:          map[string][]byte{"passwd": passwd, "group": group},
		SpecOnly:     specOut,
	}
	opts.Progress, opts.Bars = progress(a.log.GetLevel() < logrus.ErrorLevel)
	stdio := runtime.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, SigProxy: true}
	if task || (specOut == nil && lsf.Parallel(a.caller.Env)) {
		return a.lsfMember(c, job, opts, stdio)
	}
	return a.node.Run(c.Context, job.Req, opts, stdio)
}

// lsfMember runs the job's process (a task, or the job script of a
// parallel job) in the job's container on this host, shared by all of its
// tasks here.
func (a *app) lsfMember(c *cli.Context, job *lsf.Job, opts container.Options, stdio runtime.IO) (int, error) {
	key, err := lsf.JobKey(a.caller.Env)
	if err != nil {
		return -1, usageError{err}
	}
	m, err := container.CurrentMember(key)
	if err != nil {
		return -1, err
	}
	return a.node.RunMember(c.Context, job.Req, opts, m, stdio)
}

// jobHost reads what the LSF translation needs of the node.
func jobHost() (lsf.Host, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return lsf.Host{}, fmt.Errorf("the job's working directory: %w", err)
	}
	hostname, err := os.Hostname()
	if err != nil {
		return lsf.Host{}, err
	}
	return lsf.Host{
		Hostname: hostname,
		Cwd:      cwd,
		Pid:      os.Getpid(),
		StdinTTY: isTerminal(os.Stdin),
		Exists:   func(p string) bool { _, err := os.Stat(p); return err == nil },
		Device:   spec.ParseDevice,
	}, nil
}

// lsfExec runs a command in the caller's container of an LSF job (named
// lsf_<jobid>_<pid>).
func (a *app) lsfExec(c *cli.Context) error {
	if c.NArg() < 1 {
		return usagef(`"lsf exec" requires at least 1 argument: JOBID`)
	}
	jobID := c.Args().First()
	all, err := a.node.Containers()
	if err != nil {
		return err
	}
	for _, r := range all {
		if strings.HasPrefix(r.Name, lsf.ContainerPrefix(jobID)) && r.Owner == a.caller.UID {
			args := c.Args().Slice()[1:]
			if len(args) == 0 {
				args = []string{"/bin/sh"}
			}
			return exited(a.exec(r, container.ExecOptions{Args: args, Tty: isTerminal(os.Stdin)}, true))
		}
	}
	return fmt.Errorf("%w: no running container of job %s belongs to %s on this host", container.ErrNoSuchContainer, jobID, a.caller.Name)
}
