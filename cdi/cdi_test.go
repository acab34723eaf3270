package cdi

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// node is a root-owned directory with a fake GPU node (195:1, owned by
// uid 1234, mode 0660), a control node, a hook and a spec naming them.
type node struct {
	dir, specs, hook string
}

func newNode(t *testing.T) *node {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("root-owned specs and mknod need root")
	}
	n := &node{dir: t.TempDir()}
	n.specs, n.hook = filepath.Join(n.dir, "cdi"), filepath.Join(n.dir, "hook")
	must(t, os.Mkdir(n.specs, 0o755))
	must(t, unix.Mknod(filepath.Join(n.dir, "nvidia1"), unix.S_IFCHR|0o660, int(unix.Mkdev(195, 1))))
	must(t, os.Chown(filepath.Join(n.dir, "nvidia1"), 1234, 1234))
	must(t, os.Chmod(filepath.Join(n.dir, "nvidia1"), 0o660))
	must(t, unix.Mknod(filepath.Join(n.dir, "nvidiactl"), unix.S_IFCHR|0o666, int(unix.Mkdev(195, 255))))
	must(t, os.WriteFile(n.hook, []byte("#!/bin/sh\n"), 0o755))
	n.write(t, "nvidia.yaml", "", 0o644)
	return n
}

// write writes the spec, with extra spec-level edits, with mode.
func (n *node) write(t *testing.T, name, extra string, mode os.FileMode) {
	t.Helper()
	body := `cdiVersion: 0.7.0
kind: nvidia.com/gpu
devices:
- name: "1"
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia1
      hostPath: ` + n.dir + `/nvidia1
containerEdits:
  env: [NVIDIA_VISIBLE_DEVICES=void, FROM_SPEC=1]
  deviceNodes:
  - path: /dev/nvidiactl
    hostPath: ` + n.dir + `/nvidiactl
  mounts:
  - {hostPath: ` + n.hook + `, containerPath: /usr/bin/nvidia-smi, options: [ro, bind]}
  hooks:
  - {hookName: createContainer, path: ` + n.hook + `, args: [nvidia-cdi-hook, update-ldcache]}
` + extra
	p := filepath.Join(n.specs, name)
	must(t, os.WriteFile(p, []byte(body), mode))
	must(t, os.Chmod(p, mode))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoad_RefusesSpecsSomeoneButRootCanChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, n *node)
		want  string
	}{
		{"a trusted directory", func(*testing.T, *node) {}, ""},
		{"a directory others may write", func(t *testing.T, n *node) { must(t, os.Chmod(n.specs, 0o757)) }, "writable by group or others"},
		{"a group-writable spec", func(t *testing.T, n *node) { n.write(t, "nvidia.yaml", "", 0o664) }, "chmod go-w"},
		{"a spec a user owns", func(t *testing.T, n *node) { must(t, os.Chown(filepath.Join(n.specs, "nvidia.yaml"), 1234, 0)) }, "not owned by root"},
		{"a link to a spec in a directory others may write", func(t *testing.T, n *node) {
			open := filepath.Join(n.dir, "open")
			must(t, os.Mkdir(open, 0o777))
			must(t, os.Chmod(open, 0o777))
			must(t, os.Rename(filepath.Join(n.specs, "nvidia.yaml"), filepath.Join(open, "nvidia.yaml")))
			must(t, os.Symlink(filepath.Join(open, "nvidia.yaml"), filepath.Join(n.specs, "nvidia.yaml")))
		}, "writable by group or others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			tc.setup(t, n)
			s, err := Load([]string{filepath.Join(n.dir, "absent"), n.specs}, []string{n.hook})
			if tc.want == "" {
				if err != nil || !slices.Equal(s.List(), []string{"nvidia.com/gpu=1"}) {
					t.Fatalf("%v %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "[gpu] cdi_spec_dirs") {
				t.Fatalf("want a refusal naming %q and the rule, got %v", tc.want, err)
			}
		})
	}
	n := newNode(t)
	must(t, os.WriteFile(filepath.Join(n.specs, "broken.json"), []byte("{"), 0o644))
	if s, err := Load([]string{n.specs}, nil); err != nil || len(s.Problems) != 1 || len(s.List()) != 1 {
		t.Errorf("a spec that does not parse is a problem, not a refusal: %+v %v", s, err)
	}
	if s, err := Load(nil, nil); err != nil || s.List() != nil {
		t.Errorf("no directory, no device: %v", err)
	}
}

// TestInject_AppliesTheSpecAsCDIDoesButNoMore: the spec's and the
// device's edits are applied once; the nodes keep the host's owner, the
// request's environment wins, the device cgroup gains just the nodes.
func TestInject_AppliesTheSpecAsCDIDoesButNoMore(t *testing.T) {
	n := newNode(t)
	s, err := Load([]string{n.specs}, []string{n.hook})
	must(t, err)
	oci := spec.Default()
	oci.Process.User.UID, oci.Process.User.GID = 1000, 1000
	oci.Process.Env = append(oci.Process.Env, "NVIDIA_VISIBLE_DEVICES=0")
	rules := len(oci.Linux.Resources.Devices)
	must(t, s.Inject(oci, []string{"nvidia.com/gpu=1"}, []string{"NVIDIA_VISIBLE_DEVICES=0"}, Caller{Groups: []uint32{1000}}))
	var nodes []string
	for _, d := range oci.Linux.Devices {
		nodes = append(nodes, d.Path)
		if d.Path == "/dev/nvidia1" && (*d.UID != 1234 || *d.GID != 1234 || *d.FileMode != 0o660) {
			t.Errorf("the node is not the host's: uid %d gid %d mode %o", *d.UID, *d.GID, *d.FileMode)
		}
	}
	if !slices.Equal(nodes, []string{"/dev/nvidiactl", "/dev/nvidia1"}) {
		t.Errorf("device nodes %v", nodes)
	}
	var added []string
	for _, r := range oci.Linux.Resources.Devices[rules:] {
		added = append(added, fmt.Sprintf("%v %s %d:%d %s", r.Allow, r.Type, *r.Major, *r.Minor, r.Access))
	}
	if !slices.Equal(added, []string{"true c 195:255 rwm", "true c 195:1 rwm"}) {
		t.Errorf("device cgroup rules added: %v", added)
	}
	env := strings.Join(oci.Process.Env, " ")
	if !strings.Contains(env, "NVIDIA_VISIBLE_DEVICES=0") || strings.Contains(env, "void") || !strings.Contains(env, "FROM_SPEC=1") {
		t.Errorf("the request's environment wins, the spec's fills in: %s", env)
	}
	if oci.Hooks == nil || len(oci.Hooks.CreateContainer) != 1 || !slices.ContainsFunc(oci.Mounts, func(m specs.Mount) bool { return m.Destination == "/usr/bin/nvidia-smi" }) {
		t.Errorf("hooks %+v, mounts %+v", oci.Hooks, oci.Mounts)
	}
}

func TestInject_Refusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  string
		hooks  func(n *node) []string
		caller Caller
		names  []string
		want   string
	}{
		{"a device no spec defines", "", nil, Caller{}, []string{"nvidia.com/gpu=7"}, "unresolvable CDI devices nvidia.com/gpu=7"},
		{"a hook outside allowed_hooks", "", func(*node) []string { return []string{"/usr/bin/nvidia-cdi-hook"} }, Caller{}, nil, "refused by [gpu] allowed_hooks"},
		{"a group the caller is not in", "  additionalGids: [44]\n", nil, Caller{Groups: []uint32{1000}}, nil, "adds group 44"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			n.write(t, "nvidia.yaml", tc.extra, 0o644)
			hooks := []string{n.hook}
			if tc.hooks != nil {
				hooks = tc.hooks(n)
			}
			s, err := Load([]string{n.specs}, hooks)
			must(t, err)
			names := tc.names
			if names == nil {
				names = []string{"nvidia.com/gpu=1"}
			}
			oci := spec.Default()
			err = s.Inject(oci, names, nil, tc.caller)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if len(oci.Linux.Devices) != 0 || oci.Hooks != nil {
				t.Errorf("a refusal changed the spec: %+v %+v", oci.Linux.Devices, oci.Hooks)
			}
		})
	}
	n := newNode(t)
	n.write(t, "nvidia.yaml", "  additionalGids: [44]\n", 0o644)
	s, _ := Load([]string{n.specs}, []string{n.hook})
	if err := s.Inject(spec.Default(), []string{"nvidia.com/gpu=1"}, nil, Caller{Trusted: true}); err != nil {
		t.Errorf("a trusted caller may have the spec's groups: %v", err)
	}
	must(t, os.Chmod(n.hook, 0o775))
	if err := s.Inject(spec.Default(), []string{"nvidia.com/gpu=1"}, nil, Caller{Trusted: true}); err == nil || !strings.Contains(err.Error(), "writable by group") {
		t.Errorf("a hook others may change: %v", err)
	}
}
