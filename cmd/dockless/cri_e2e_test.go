package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestContainerd_CRIRuntimeWithBinaryName configures containerd as a
// Kubernetes node does: its CRI plugin's default runtime is the runc shim
// with options.BinaryName set to dockless-runc (through a wrapper that
// records the calls). A pod (host network, its sandbox a busybox that
// sleeps) runs a container that exits 7 and one that takes an exec and a
// stop, all through the CRI API as a kubelet would.
func TestContainerd_CRIRuntimeWithBinaryName(t *testing.T) {
	newEnv(t) // skips without root; checks that nothing is left behind
	dir := openTempDir(t)
	wrapper, calls := recordingRuntime(t, dir)
	const cgroupParent = "dockless-cri-test"
	removeCgroupParent(t, cgroupParent)
	img, err := testimage.Busybox(testimage.Options{Cmd: []string{"sleep", "1000000"}})
	if err != nil {
		t.Fatal(err)
	}
	pause, err := reg.Push("test/pause:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"cni-bin", "cni-conf", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const cri = `[plugins."io.containerd.grpc.v1.cri".%s]`
	// restrict_oom_score_adj: the test VM's root lacks CAP_SYS_RESOURCE,
	// which the sandbox's oom_score_adj of -998 needs (runc's init fails
	// the same way without it).
	sock := startContainerd(t, dir, fmt.Sprintf(`[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
%s
  bin_dir = %q
  conf_dir = %q
%s
  default_runtime_name = "dockless"
%s
  runtime_type = "io.containerd.runc.v2"
%s
  BinaryName = %q
  Root = %q
%s
  endpoint = ["http://%s"]
`, pause, fmt.Sprintf(cri, "cni"), filepath.Join(dir, "cni-bin"), filepath.Join(dir, "cni-conf"),
		fmt.Sprintf(cri, "containerd"), fmt.Sprintf(cri, "containerd.runtimes.dockless"),
		fmt.Sprintf(cri, "containerd.runtimes.dockless.options"), wrapper, filepath.Join(dir, "runc"),
		fmt.Sprintf(cri, fmt.Sprintf("registry.mirrors.%q", reg.Addr)), reg.Addr))

	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt, images := runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: busybox}}); err != nil {
		t.Fatalf("CRI PullImage: %v", err)
	}
	podConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "dltest", Uid: "dltest-uid", Namespace: "default"},
		LogDirectory: filepath.Join(dir, "logs"),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/" + cgroupParent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	pod, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig})
	if err != nil {
		t.Fatalf("CRI RunPodSandbox: %v\n%s", err, containerdLog(dir))
	}
	defer func() {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
			t.Errorf("CRI StopPodSandbox: %v", err)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.PodSandboxId}); err != nil {
			t.Errorf("CRI RemovePodSandbox: %v", err)
		}
		assertCalled(t, calls, "create", "start", "exec", "kill", "delete")
	}()

	start := func(name string, cmd ...string) string {
		t.Helper()
		c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: pod.PodSandboxId, SandboxConfig: podConfig,
			Config: &runtimeapi.ContainerConfig{
				Metadata: &runtimeapi.ContainerMetadata{Name: name},
				Image:    &runtimeapi.ImageSpec{Image: busybox},
				Command:  cmd,
				LogPath:  name + ".log",
			},
		})
		if err != nil {
			t.Fatalf("CRI CreateContainer %s: %v\n%s", name, err, containerdLog(dir))
		}
		if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
			t.Fatalf("CRI StartContainer %s: %v\n%s", name, err, containerdLog(dir))
		}
		return c.ContainerId
	}
	exitCode := func(id string) int32 {
		t.Helper()
		for range 100 {
			st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
			if err != nil {
				t.Fatalf("CRI ContainerStatus: %v", err)
			}
			if st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
				return st.Status.ExitCode
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("container %s did not exit", id)
		return -1
	}
	remove := func(id string) {
		t.Helper()
		if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
			t.Errorf("CRI RemoveContainer: %v", err)
		}
	}

	exits := start("exits", "sh", "-c", "echo from-dockless; exit 7")
	if code := exitCode(exits); code != 7 {
		t.Errorf("exit code through CRI: %d, want 7", code)
	}
	var log []byte
	for range 50 { // containerd writes the log as it copies the output
		if log, _ = os.ReadFile(filepath.Join(dir, "logs", "exits.log")); strings.Contains(string(log), "stdout F from-dockless") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(log), "stdout F from-dockless") {
		t.Errorf("container log: %q", log)
	}
	remove(exits)

	sleeper := start("sleeper", "sleep", "1000")
	ex, err := rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: sleeper, Cmd: []string{"sh", "-c", "echo exec-$((6*7)); exit 3"}, Timeout: 30})
	if err != nil || ex.ExitCode != 3 || string(ex.Stdout) != "exec-42\n" {
		t.Errorf("CRI ExecSync: %v %+v", err, ex)
	}
	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: sleeper, Timeout: 1}); err != nil {
		t.Errorf("CRI StopContainer: %v", err)
	}
	// The pod's containers share its pid namespace (CRI's default), so
	// sleep is not a pid 1 that ignores SIGTERM: the stop signal ends it.
	if code := exitCode(sleeper); code != 128+15 {
		t.Errorf("exit code of the stopped container: %d, want 143 (SIGTERM)", code)
	}
	remove(sleeper)
}

// containerdLog is the end of the test containerd's log, for failures.
func containerdLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
