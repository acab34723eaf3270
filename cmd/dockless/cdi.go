package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dockless/dockless/cdi"
	"github.com/dockless/dockless/lsf"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func (a *app) cdiCommand() *cli.Command {
	return &cli.Command{
		Name:  "cdi",
		Usage: "the node's CDI devices (GPUs): what dockless sees, and a spec for the NVIDIA GPUs",
		Subcommands: []*cli.Command{
			{
				Name:  "generate",
				Usage: "write a CDI spec for the node's NVIDIA GPUs, as nvidia-ctk cdi generate does (root only)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output", Usage: "the spec file (.yaml or .json), e.g. /etc/cdi/nvidia.yaml; default: standard output"},
					&cli.StringFlag{Name: "hook", Value: "/usr/bin/nvidia-cdi-hook", Usage: "the NVIDIA Container Toolkit's nvidia-cdi-hook (no hooks where absent)"},
				},
				OnUsageError: onUsageError,
				Action:       a.cdiGenerate,
			},
			{
				Name:         "list",
				Usage:        "list the CDI devices of the specs in [gpu] cdi_spec_dirs",
				OnUsageError: onUsageError,
				Action:       a.cdiList,
			},
		},
	}
}

func (a *app) cdiGenerate(c *cli.Context) error {
	if !a.caller.IsRoot() {
		return usagef("dockless cdi generate: only root writes the node's CDI specs (you are %s)", a.caller.Name)
	}
	out := c.String("output")
	if out != "" && !filepath.IsAbs(out) {
		return usagef("--output %s: must be an absolute path", out)
	}
	if err := a.runCDIHelper(c, out); err != nil {
		return err
	}
	if dirs := a.node.Policy.GPU.CDISpecDirs; out != "" && !slices.Contains(dirs, filepath.Dir(out)) {
		a.log.Warnf("%s: dockless reads specs only from [gpu] cdi_spec_dirs (%s) in %s", out, strings.Join(dirs, ", "), a.node.Policy.Source())
	}
	return nil
}

// runCDIHelper runs dockless-cdi (NVIDIA's generator, never linked into
// the setuid dockless) with the command's flags: the spec goes to out, or
// to the command's output; a failure is the helper's, already said on
// standard error.
func (a *app) runCDIHelper(c *cli.Context, out string) error {
	helper, err := policy.Libexec("dockless-cdi")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(c.Context, helper, "-output", out, "-hook", c.String("hook"), "-log-level", a.log.GetLevel().String())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, c.App.Writer, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() > 0 {
		return exitStatus{exit.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", helper, err)
	}
	return nil
}

func (a *app) cdiList(c *cli.Context) error {
	specs, err := a.cdiSpecs()
	if err != nil {
		return err
	}
	for _, name := range specs.List() {
		fmt.Fprintln(c.App.Writer, name)
	}
	return nil
}

// lsfGPUs shows an admin what an LSF job with this environment gets of
// the node's GPUs: the allocation, each GPU and its CDI device, the
// container's GPU variables, and what the CDI spec adds for them (device
// nodes and their cgroup rules, mounts, hooks).
func (a *app) lsfGPUs(c *cli.Context) error {
	cs, err := a.cdiSpecs()
	if err != nil {
		return err
	}
	alloc, err := a.allocation(cs)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if alloc == nil {
		fmt.Fprintln(w, "no GPU allocation (CUDA_VISIBLE_DEVICES, _ORIG, CUDA_VISIBLE_DEVICES<n>, CUDA_MPS_PIPE_DIRECTORY): the container gets no GPU")
		return nil
	}
	fmt.Fprintf(w, "allocation: %s=%s\n", alloc.From, alloc.Value)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LSF\tNODE\tINDEX\tUUID\tCDI DEVICE")
	for _, s := range alloc.Slots {
		fmt.Fprintln(tw, slotLine(s))
	}
	tw.Flush()
	fmt.Fprintln(w, "container environment:")
	for _, kv := range alloc.Env {
		fmt.Fprintln(w, "  "+kv)
	}
	oci := spec.Default()
	c0 := a.caller
	if err := cs.Inject(oci, alloc.Names(), alloc.Env, cdi.Caller{Trusted: a.node.Policy.Trusted(c0), Groups: append([]uint32{c0.GID}, c0.Groups...)}); err != nil {
		return err
	}
	printEdits(w, oci)
	return nil
}

func slotLine(s lsf.Slot) string {
	if s.MIG != nil {
		return fmt.Sprintf("%s\t/dev/nvidia%d (MIG, caps %v)\t-\t%s\t%s", s.ID.Raw, s.MIG.Parent, s.MIG.Caps, s.MIG.UUID, s.MIG.Name)
	}
	return fmt.Sprintf("%s\t/dev/nvidia%d\t%d\t%s\t%s", s.ID.Raw, s.GPU.Minor, s.GPU.Index, s.GPU.UUID, s.GPU.Name)
}

// printEdits lists what the CDI devices add to a default container.
func printEdits(w io.Writer, oci *specs.Spec) {
	fmt.Fprintln(w, "device nodes:")
	for _, d := range oci.Linux.Devices {
		fmt.Fprintf(w, "  %s (%s %d:%d)\n", d.Path, d.Type, d.Major, d.Minor)
	}
	fmt.Fprintln(w, "device cgroup rules added:")
	for _, r := range oci.Linux.Resources.Devices[len(spec.Default().Linux.Resources.Devices):] {
		fmt.Fprintf(w, "  allow %s %d:%d %s\n", r.Type, *r.Major, *r.Minor, r.Access)
	}
	fmt.Fprintln(w, "mounts:")
	for _, m := range oci.Mounts {
		if slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind") {
			fmt.Fprintf(w, "  %s from %s (%s)\n", m.Destination, m.Source, strings.Join(m.Options, ","))
		}
	}
	fmt.Fprintln(w, "hooks, run as root:")
	if h := oci.Hooks; h != nil {
		for _, stage := range []struct {
			name  string
			hooks []specs.Hook
		}{{"prestart", h.Prestart}, {"createRuntime", h.CreateRuntime}, {"createContainer", h.CreateContainer}, {"startContainer", h.StartContainer}, {"poststart", h.Poststart}, {"poststop", h.Poststop}} {
			for _, hk := range stage.hooks {
				fmt.Fprintf(w, "  %s: %s\n", stage.name, strings.Join(hk.Args, " "))
			}
		}
	}
}
