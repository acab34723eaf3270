package main

import (
	"errors"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/dockless/dockless/build"
	"github.com/urfave/cli/v2"
)

func (a *app) buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build an image from a Dockerfile, as you, in a user namespace (BuildKit in dockless-build)",
		ArgsUsage: "PATH | URL | -",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "name the image (repeatable)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the Dockerfile (default: PATH/Dockerfile; with a URL, a file in it)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "KEY=VALUE build-time variable"},
			&cli.StringSliceFlag{Name: "label", Usage: "KEY=VALUE image label"},
			&cli.StringFlag{Name: "target", Usage: "the stage to build"},
			&cli.BoolFlag{Name: "no-cache", Usage: "do not use the build cache"},
			&cli.BoolFlag{Name: "pull", Usage: "always ask the registry for newer base images"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "auto, plain, tty or quiet"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image ID"},
			&cli.StringFlag{Name: "iidfile", Usage: "write the image ID to this file"},
			&cli.StringSliceFlag{Name: "output", Aliases: []string{"o"}, Usage: "type=oci|tar|local|image[,dest=PATH]"},
			&cli.BoolFlag{Name: "push", Usage: "push every tag after the build (your credentials)"},
			&cli.BoolFlag{Name: "load", Usage: "record the image in the node store (the default with -t)"},
			&cli.StringFlag{Name: "network", Value: "host", Usage: "RUN's network: host or none"},
			&cli.StringFlag{Name: "platform", Usage: "the node's platform only"},
			&cli.StringSliceFlag{Name: "secret", Usage: "id=ID,src=FILE or id=ID,env=VARIABLE for RUN --mount=type=secret"},
			&cli.StringSliceFlag{Name: "cache-from", Usage: "type=local,src=DIR or type=registry,ref=REF (or REF)"},
			&cli.StringSliceFlag{Name: "cache-to", Usage: "type=local,dest=DIR, type=registry,ref=REF or type=inline"},
			&cli.StringSliceFlag{Name: "ssh", Usage: "default (your SSH_AUTH_SOCK) or ID=SOCKET|KEY[,KEY] for RUN --mount=type=ssh"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return failuref(`"build" requires exactly 1 argument: PATH | URL | -`)
			}
			req, err := a.buildRequest(c)
			if err != nil {
				return err
			}
			return a.build(c, req)
		},
	}
}

// buildRequest is the request of the build flags, paths made absolute
// (dockless-build opens them as the caller, in the caller's directory).
func (a *app) buildRequest(c *cli.Context) (build.Request, error) {
	req := build.Request{
		Context: c.Args().First(), Dockerfile: c.String("file"), Tags: c.StringSlice("tag"),
		Target: c.String("target"), NoCache: c.Bool("no-cache"), Pull: c.Bool("pull"),
		Network: c.String("network"), Progress: c.String("progress"), Quiet: c.Bool("quiet"),
		IIDFile: c.String("iidfile"), Push: c.Bool("push"),
		Load: c.Bool("load") || len(c.StringSlice("tag")) > 0,
	}
	if req.Quiet {
		req.Progress = "quiet"
	}
	if p := c.String("platform"); p != "" && p != "linux/"+goruntime.GOARCH {
		return req, usagef("--platform %s: only this node's platform (linux/%s) is built", p, goruntime.GOARCH)
	}
	var err error
	if req.BuildArgs, err = keyValues("--build-arg", c.StringSlice("build-arg"), a.caller.LookupEnv); err != nil {
		return req, err
	}
	if req.Labels, err = keyValues("--label", c.StringSlice("label"), nil); err != nil {
		return req, err
	}
	if err := a.buildSession(c, &req); err != nil {
		return req, err
	}
	for _, o := range c.StringSlice("output") {
		entry, err := keyValues("--output", strings.Split(o, ","), nil)
		if err != nil {
			return req, err
		}
		if entry["dest"] != "" && entry["dest"] != "-" {
			entry["dest"], _ = filepath.Abs(entry["dest"])
		}
		req.Outputs = append(req.Outputs, entry)
	}
	paths := []*string{&req.IIDFile}
	if _, remote := build.ContextURL(req.Context); !remote {
		// With a URL, -f names a file of the fetched context, as docker's.
		paths = append(paths, &req.Dockerfile)
		if req.Context != "-" {
			paths = append(paths, &req.Context)
		}
	}
	for _, p := range paths {
		if *p != "" {
			*p, _ = filepath.Abs(*p)
		}
	}
	return req, nil
}

// buildSession reads the flags whose values the build's session serves,
// as the caller: --secret and --ssh (from the caller's environment;
// without --ssh, a git context over SSH is fetched with their agent, as
// docker's), --cache-from and --cache-to.
func (a *app) buildSession(c *cli.Context, req *build.Request) error {
	for _, v := range c.StringSlice("secret") {
		sec, err := build.ParseSecret(v, a.caller.LookupEnv)
		if err != nil {
			return usagef("%v", err)
		}
		req.Secrets = append(req.Secrets, sec)
	}
	sshs := c.StringSlice("ssh")
	if len(sshs) == 0 && build.SSHContext(req.Context) {
		if sock, _ := a.caller.LookupEnv("SSH_AUTH_SOCK"); sock == "" {
			return usagef("the build context is a git repository over SSH, fetched with your SSH agent, and SSH_AUTH_SOCK is not set: start an agent (eval $(ssh-agent); ssh-add), or name a key: --ssh default=$HOME/.ssh/id_ed25519")
		}
		sshs = []string{"default"}
	}
	for _, v := range sshs {
		ssh, err := build.ParseSSH(v, a.caller.LookupEnv)
		if err != nil {
			return usagef("%v", err)
		}
		req.SSH = append(req.SSH, ssh)
	}
	for _, to := range []bool{false, true} {
		flag, list := "cache-from", &req.CacheFrom
		if to {
			flag, list = "cache-to", &req.CacheTo
		}
		for _, v := range c.StringSlice(flag) {
			entry, err := build.ParseCache(v, to)
			if err != nil {
				return usagef("%v", err)
			}
			*list = append(*list, entry)
		}
	}
	return nil
}

// keyValues reads KEY=VALUE values; a bare KEY takes the caller's
// variable where lookup is given (--build-arg, as docker's client does).
func keyValues(flag string, values []string, lookup func(string) (string, bool)) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		switch {
		case k == "" || (!ok && lookup == nil):
			return nil, usagef("%s %q: want KEY=VALUE", flag, v)
		case !ok:
			if val, ok = lookup(k); !ok {
				continue
			}
		}
		m[k] = val
	}
	return m, nil
}

// build checks the request against the policy and runs it in
// dockless-build; the build's failure is its exit status (docker's 1).
func (a *app) build(c *cli.Context, req build.Request) error {
	pol := a.node.Policy
	if err := pol.CheckBuild(req.Network); err != nil {
		return err
	}
	if host, remote := build.ContextURL(req.Context); remote {
		if err := pol.CheckContextURL(req.Context, host); err != nil {
			return err
		}
	}
	for _, t := range req.Tags {
		if err := pol.CheckPush(t); err != nil && req.Push {
			return err
		}
	}
	// A registry cache is pulled as an image, and pushed as one.
	for _, c := range req.CacheFrom {
		if err := pol.CheckImage(c["ref"]); err != nil && c["type"] == "registry" {
			return err
		}
	}
	for _, c := range req.CacheTo {
		if err := pol.CheckPush(c["ref"]); err != nil && c["type"] == "registry" {
			return err
		}
	}
	helper, err := build.Helper()
	if err != nil {
		return err
	}
	r := &build.Runner{Caller: a.caller, Policy: pol, Store: a.store, Helper: helper, Init: a.node.Facts.InitPath, Stdout: c.App.Writer, Stderr: os.Stderr}
	err = r.Run(c.Context, req)
	var exit build.ExitError
	if errors.As(err, &exit) {
		return exitStatus{exit.Code}
	}
	return err
}

// lsfBuild is the docker_build application: the job's arguments (after
// "--") are docker build's, the context last; the image the application
// names (LSB_CONTAINER_IMAGE) is the first tag, and every tag is pushed
// after the build; the job's exit status is the build's. An
// LSB_DOCKER_LOGIN_ONLY job only logs in, as with lsf run.
func (a *app) lsfBuild(c *cli.Context) error {
	if v, _ := a.caller.LookupEnv("LSB_DOCKER_LOGIN_ONLY"); v != "" {
		server, _ := a.caller.LookupEnv("LSB_DOCKER_LOGIN_SERVER")
		return a.login(c, server, "", "", false, os.Stdin)
	}
	image, _ := a.caller.LookupEnv("LSB_CONTAINER_IMAGE")
	if image == "" {
		return usagef("lsf build: LSB_CONTAINER_IMAGE is not set: submit with bsub -a 'docker_build(REPOSITORY:TAG)'")
	}
	args := c.Args().Slice()
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	sub := &cli.App{
		Name: "dockless", Writer: c.App.Writer, ErrWriter: c.App.ErrWriter,
		HideHelp: true, ExitErrHandler: func(*cli.Context, error) {}, OnUsageError: onUsageError,
		Commands: []*cli.Command{a.buildCommand()},
	}
	return sub.RunContext(c.Context, append([]string{"dockless", "build", "--tag", image, "--push"}, args...))
}
