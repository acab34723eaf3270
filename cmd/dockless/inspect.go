package main

import (
	"encoding/json"
	"fmt"
	"text/template"
	"time"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// inspectInfo follows the shape of docker's container inspect where the
// fields mean the same, plus the cgroup usage.
type inspectInfo struct {
	ID      string    `json:"Id"`
	Created time.Time `json:"Created"`
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	State   struct {
		Status  string `json:"Status"`
		Running bool   `json:"Running"`
		Paused  bool   `json:"Paused"`
		Dead    bool   `json:"Dead"`
		Pid     int    `json:"Pid"`
	} `json:"State"`
	Image  string `json:"Image"`
	Name   string `json:"Name"`
	Config struct {
		Hostname    string            `json:"Hostname"`
		User        string            `json:"User"`
		Env         []string          `json:"Env"`
		Cmd         []string          `json:"Cmd"`
		Image       string            `json:"Image"`
		WorkingDir  string            `json:"WorkingDir"`
		Tty         bool              `json:"Tty"`
		Labels      map[string]string `json:"Labels"`
		StopSignal  string            `json:"StopSignal,omitempty"`
		StopTimeout *int              `json:"StopTimeout,omitempty"`
	} `json:"Config"`
	HostConfig struct {
		Memory         int64  `json:"Memory"`
		MemorySwap     int64  `json:"MemorySwap"`
		CPUShares      uint64 `json:"CpuShares"`
		CPUQuota       int64  `json:"CpuQuota"`
		CPUPeriod      uint64 `json:"CpuPeriod"`
		CpusetCpus     string `json:"CpusetCpus"`
		CpusetMems     string `json:"CpusetMems"`
		PidsLimit      *int64 `json:"PidsLimit"`
		OOMScoreAdj    int    `json:"OomScoreAdj"`
		CgroupParent   string `json:"CgroupParent"`
		NetworkMode    string `json:"NetworkMode"`
		ReadonlyRootfs bool   `json:"ReadonlyRootfs"`
	} `json:"HostConfig"`
	Cgroups map[string]string `json:"Cgroups,omitempty"`
	Usage   *runtime.Usage    `json:"Usage,omitempty"`
	Owner   uint32            `json:"Owner"`
}

func (a *app) inspectCommand() *cli.Command {
	return &cli.Command{
		Name:         "inspect",
		Usage:        "print containers' configuration and state as JSON",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		Flags:        []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template, e.g. {{.State.Pid}}"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return failuref(`"inspect" requires at least 1 argument: CONTAINER`)
			}
			var tmpl *template.Template
			if f := c.String("format"); f != "" {
				var err error
				if tmpl, err = template.New("inspect").Funcs(template.FuncMap{"json": func(v any) string {
					b, _ := json.Marshal(v)
					return string(b)
				}}).Parse(f); err != nil {
					return usagef("--format: %w", err)
				}
			}
			var out []inspectInfo
			for _, ref := range c.Args().Slice() {
				r, err := a.node.Find(ref)
				if err != nil {
					return err
				}
				info := a.inspectOne(r)
				if tmpl != nil {
					if err := tmpl.Execute(c.App.Writer, info); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer)
					continue
				}
				out = append(out, info)
			}
			if tmpl != nil {
				return nil
			}
			return spec.WriteJSON(c.App.Writer, out)
		},
	}
}

func (a *app) inspectOne(r *container.Record) inspectInfo {
	var info inspectInfo
	info.ID, info.Created, info.Image, info.Name, info.Owner = r.ID, r.Created, r.Image, "/"+r.Name, r.Owner
	info.Config.Labels, info.Config.StopTimeout = r.Labels, r.StopTimeout
	if r.StopSignal > 0 {
		info.Config.StopSignal = unix.SignalName(unix.Signal(r.StopSignal))
	}
	state, st := a.node.Status(r)
	info.State.Status, info.State.Running, info.State.Paused, info.State.Dead = state, state == "running", state == "paused", state == "dead"
	if st != nil {
		info.State.Pid, info.Cgroups = st.Pid, st.Cgroups
		if u, err := a.node.Measure(r, 100*time.Millisecond); err == nil {
			info.Usage = u
		}
	}
	if s, err := a.node.Config(r); err == nil {
		if len(s.Process.Args) > 0 {
			info.Path, info.Args = s.Process.Args[0], s.Process.Args[1:]
		}
		info.Config.Hostname, info.Config.Env, info.Config.Cmd, info.Config.WorkingDir, info.Config.Tty =
			s.Hostname, s.Process.Env, s.Process.Args, container.Workdir(s), s.Process.Terminal
		info.Config.User = fmt.Sprintf("%d:%d", s.Process.User.UID, s.Process.User.GID)
		info.Config.Image = r.Image
		info.HostConfig.NetworkMode = "host"
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				info.HostConfig.NetworkMode = "none"
			}
		}
		if s.Root != nil {
			info.HostConfig.ReadonlyRootfs = s.Root.Readonly
		}
		if s.Process.OOMScoreAdj != nil {
			info.HostConfig.OOMScoreAdj = *s.Process.OOMScoreAdj
		}
		info.hostResources(s.Linux.Resources)
		info.HostConfig.CgroupParent = spec.CgroupParent(s)
	}
	return info
}

// hostResources fills HostConfig's resources from the spec's.
func (info *inspectInfo) hostResources(res *specs.LinuxResources) {
	if res == nil {
		return
	}
	h := &info.HostConfig
	if res.Memory != nil && res.Memory.Limit != nil {
		h.Memory = *res.Memory.Limit
		h.MemorySwap = -1
		if res.Memory.Swap != nil {
			h.MemorySwap = *res.Memory.Swap
		}
	}
	if cpu := res.CPU; cpu != nil {
		if cpu.Shares != nil {
			h.CPUShares = *cpu.Shares
		}
		if cpu.Quota != nil {
			h.CPUQuota = *cpu.Quota
		}
		if cpu.Period != nil {
			h.CPUPeriod = *cpu.Period
		}
		h.CpusetCpus, h.CpusetMems = cpu.Cpus, cpu.Mems
	}
	if res.Pids != nil {
		h.PidsLimit = res.Pids.Limit
	}
}
