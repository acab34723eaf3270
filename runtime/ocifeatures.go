package runtime

import (
	"github.com/opencontainers/runc/libcontainer/capabilities"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	runcfeatures "github.com/opencontainers/runc/types/features"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// Features is what runc features prints, for the libcontainer dockless
// embeds, less what dockless-runc refuses: the systemd cgroup driver and
// checkpoint/restore. Tools read it to decide what to ask for (runc's
// seccomp tests read the seccomp flags libcontainer sets by default).
func Features(version string) features.Features {
	yes, no := true, false
	f := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Annotations: map[string]string{
			runcfeatures.AnnotationRuncVersion:           RuncVersion() + " (libcontainer, in dockless " + version + ")",
			runcfeatures.AnnotationRuncCheckpointEnabled: "false",
		},
		Hooks:        configs.KnownHookNames(),
		MountOptions: specconv.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces:      specconv.KnownNamespaces(),
			Capabilities:    capabilities.KnownCapabilities(),
			Cgroup:          &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes},
			Apparmor:        &features.Apparmor{Enabled: &yes},
			Selinux:         &features.Selinux{Enabled: &yes},
			IntelRdt:        &features.IntelRdt{Enabled: &yes, Schemata: &yes, Monitoring: &yes},
			MemoryPolicy:    &features.MemoryPolicy{Modes: specconv.KnownMemoryPolicyModes(), Flags: specconv.KnownMemoryPolicyFlags()},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
			NetDevices:      &features.NetDevices{Enabled: &yes},
		},
		PotentiallyUnsafeConfigAnnotations: []string{"bundle", "org.systemd.property.", "org.criu.config"},
	}
	if seccomp.Enabled {
		f.Linux.Seccomp = &features.Seccomp{
			Enabled: &yes, Actions: seccomp.KnownActions(), Operators: seccomp.KnownOperators(),
			Archs: seccomp.KnownArchs(), KnownFlags: seccomp.KnownFlags(), SupportedFlags: seccomp.SupportedFlags(),
		}
		f.Annotations[runcfeatures.AnnotationLibseccompVersion] = SeccompVersion()
	}
	return f
}
