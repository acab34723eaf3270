package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"
)

func ociSpecCommand() *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "write a starting config.json (docker's defaults, running sh on a terminal)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "directory to write config.json in"},
			&cli.BoolFlag{Name: "rootless", Usage: "not supported"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("rootless") {
				return errors.New("spec --rootless is not supported")
			}
			path := filepath.Join(c.String("bundle"), "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("file %s exists: remove it first", path)
			}
			s, err := spec.New(spec.WithArgs([]string{"sh"}), spec.WithTTY(true), spec.WithHostname("dockless"),
				spec.WithSeccomp(""), func(s *specs.Spec) error {
					s.Root = &specs.Root{Path: "rootfs", Readonly: true}
					return nil
				})
			if err != nil {
				return err
			}
			return writeJSON(path, s)
		},
	}
}

func ociFeaturesCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "print the runtime's features (runtime-spec features JSON)",
		Action: func(c *cli.Context) error {
			yes, no := true, false
			f := features.Features{
				OCIVersionMin: "1.0.0",
				OCIVersionMax: specs.Version,
				Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
				MountOptions: []string{"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "mand",
					"noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime", "nosuid",
					"private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable",
					"rw", "shared", "slave", "strictatime", "suid", "sync", "unbindable"},
				Linux: &features.Linux{
					Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"},
					Capabilities: spec.AllCapabilities(),
					Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no},
					Seccomp:      &features.Seccomp{Enabled: &yes},
					Apparmor:     &features.Apparmor{Enabled: &no},
					Selinux:      &features.Selinux{Enabled: &yes},
				},
				Annotations: map[string]string{"org.opencontainers.runc.version": "v1.5.3 (libcontainer, in dockless)"},
			}
			return spec.WriteJSON(c.App.Writer, f)
		},
	}
}
