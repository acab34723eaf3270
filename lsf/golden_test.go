package lsf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// oneImage is an image store that holds one image and is never asked to
// mount it (spec-only runs).
type oneImage struct{ config ocispec.ImageConfig }

func (s oneImage) Ensure(_ context.Context, ref string, _ images.PullPolicy, _ images.PullOptions) (*images.Image, error) {
	return &images.Image{Name: ref, Config: ocispec.Image{Config: s.config}}, nil
}

func (oneImage) Prepare(context.Context, string, *images.Image) ([]mount.Mount, error) {
	return nil, errors.New("a spec-only run mounts nothing")
}
func (oneImage) Release(context.Context, string) error { return nil }
func (oneImage) Unhold(context.Context, *images.Image) error {
	return errors.New("a spec-only run holds nothing")
}
func (oneImage) EnforceCap(context.Context, int64) ([]string, int, error) {
	return nil, 0, nil
}

// specOnly is the config.json the lifecycle writes for job (its
// spec-only mode, as `dockless lsf spec`) on a node with SELinux and
// cgroup v1, with the container's state directory and ID spelled
// /run/dockless/containers/ID and docker's seccomp profile (pinned by its
// own module, too long for a golden file) left out.
func specOnly(t *testing.T, job *Job, img ocispec.ImageConfig) []byte {
	t.Helper()
	state := t.TempDir()
	n := &container.Node{Caller: seedCaller(), Policy: policy.Default(), State: state, Images: oneImage{img},
		Facts: spec.Host{SELinux: true}, Log: logrus.New()}
	passwd, group := PasswdFiles(n.Caller, job.Req.User.AdditionalGids)
	var out bytes.Buffer
	opts := container.Options{Name: job.Name, Pull: images.PullMissing, Etc: map[string][]byte{"passwd": passwd, "group": group}, SpecOnly: &out}
	if _, err := n.Run(context.Background(), job.Req, opts, runtime.IO{}); err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	s.Linux.Seccomp = nil
	b, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(s.Root.Path, state+"/containers/"), "/rootfs")
	if len(id) != 64 {
		t.Fatalf("rootfs %s is not in the state directory %s", s.Root.Path, state)
	}
	r := strings.NewReplacer(state, "/run/dockless", id, "ID", id[:12], "ID")
	return []byte(r.Replace(string(b)) + "\n")
}

// Whatever the spelling of a destination and whichever front end parsed
// it (docker's -v through spec.ParseVolume, LSF_DOCKER_VOLUMES through
// FromEnv), the lifecycle's spec mounts a user's bind from its staged path
// only: never from the path the user named.
func TestUserBinds_MountOnlyTheirStagedPath(t *testing.T) {
	img := ocispec.ImageConfig{Cmd: []string{"sh"}}
	for _, dst := range []string{"/data", "/data/", "/data/.", "//data//", "/x/../data"} {
		run, err := spec.ParseVolume("/scratch1/me:"+dst, "/cwd")
		if err != nil {
			t.Fatal(err)
		}
		runJob, err := seedJob(nil, []string{"true"})
		if err != nil {
			t.Fatal(err)
		}
		runJob.Req.Mounts = append(runJob.Req.Mounts, run)
		lsfJob, err := seedJob(map[string]string{"LSF_DOCKER_VOLUMES": "/storage1/lab:" + dst}, []string{"true"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range lsfJob.Sources {
			lsfJob.Req.Mounts = append(lsfJob.Req.Mounts, s.Bind)
		}
		for front, job := range map[string]*Job{"run": runJob, "lsf": lsfJob} {
			var s specs.Spec
			if err := json.Unmarshal(specOnly(t, job, img), &s); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range s.Mounts {
				if m.Destination == "/data" {
					n++
					if !strings.HasPrefix(m.Source, "/run/dockless/containers/ID/binds/") {
						t.Errorf("%s %s: /data mounted from %s, not from its staged path", front, dst, m.Source)
					}
				}
				if m.Source == "/scratch1/me" || m.Source == "/storage1/lab" || strings.HasPrefix(m.Source, "/home/joe.user") {
					t.Errorf("%s %s: a user's path reaches the spec: %+v", front, dst, m)
				}
			}
			if n != 1 {
				t.Errorf("%s %s: %d mounts at /data", front, dst, n)
			}
		}
	}
}
