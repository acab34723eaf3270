package spec

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fakeDev makes a directory of character device nodes (needs root).
func fakeDev(t *testing.T, nodes map[string]uint32) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	dir := t.TempDir()
	for name, minor := range nodes {
		if err := unix.Mknod(filepath.Join(dir, name), unix.S_IFCHR|0o666, int(unix.Mkdev(195, minor))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestGPUs_SelectsOnlyWhatIsAsked(t *testing.T) {
	dev := fakeDev(t, map[string]uint32{"nvidia0": 0, "nvidia1": 1, "nvidia2": 2, "nvidiactl": 255})
	for _, tc := range []struct {
		value  string
		ids    []int
		errMsg string
	}{
		{"all", []int{0, 1, 2}, ""},
		{"2", []int{0, 1}, ""},
		{"count=1", []int{0}, ""},
		{`"device=2,0"`, []int{2, 0}, ""},
		{"device=1,capabilities=compute", []int{1}, ""},
		{"4", nil, "3 on this node"},
		{"device=7", nil, "not on this node"},
		{"sometimes", nil, "invalid --gpus"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			devs, ids, err := GPUs(dev, tc.value)
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("want error %q, got %v", tc.errMsg, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(ids, tc.ids) {
				t.Fatalf("want %v, got %v (%v)", tc.ids, ids, err)
			}
			if len(devs) != len(tc.ids)+1 || devs[len(devs)-1].Path != "/dev/nvidiactl" {
				t.Fatalf("GPUs plus the control node: %+v", devs)
			}
		})
	}
	if _, _, err := GPUs(t.TempDir(), "all"); err == nil || !strings.Contains(err.Error(), "no NVIDIA GPU") {
		t.Errorf("a node without GPUs: %v", err)
	}
}

func TestParseDevice_DockerForms(t *testing.T) {
	dev := fakeDev(t, map[string]uint32{"uverbs0": 192})
	host := filepath.Join(dev, "uverbs0")
	for _, tc := range []struct {
		arg, path, perms string
	}{
		{host, host, "rwm"},
		{host + ":/dev/infiniband/uverbs0", "/dev/infiniband/uverbs0", "rwm"},
		{host + ":r", host, "r"},
		{host + ":/dev/x:rw", "/dev/x", "rw"},
	} {
		d, err := ParseDevice(tc.arg)
		if err != nil || d.Path != tc.path || d.Permissions != tc.perms || d.Type != "c" || d.Major != 195 || d.Minor != 192 {
			t.Errorf("%s: got %+v (%v)", tc.arg, d, err)
		}
	}
	for _, bad := range []string{host + ":/dev/x:rwx", "relative", filepath.Join(dev, "missing"), dev} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("%s must be refused", bad)
		}
	}
	s, _ := New(WithDevices([]Device{{Path: "/dev/x", Type: "c", Major: 1, Minor: 2, Permissions: "rw", FileMode: 0o660}}))
	rules := s.Linux.Resources.Devices
	last := rules[len(rules)-1]
	if len(s.Linux.Devices) != 1 || len(rules) != len(defaultDeviceRules())+1 || !last.Allow || last.Access != "rw" || *last.Major != 1 || *last.Minor != 2 {
		t.Errorf("device node and cgroup rule: %+v %+v", s.Linux.Devices, rules)
	}
}

func TestResolveUser_AgainstTheImage(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/group"), []byte("users:x:100:\nlab:x:2000:alice\n"), 0o644))
	for _, tc := range []struct {
		spec     string
		groupAdd []string
		want     specs.User
	}{
		// The primary group is a supplementary group too, as docker's.
		{"", nil, specs.User{AdditionalGids: []uint32{0}}},
		{"alice", nil, specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{100, 2000}}},
		{"1000:100", nil, specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{100}}},
		{"1000:2000", []string{"lab", "3000"}, specs.User{UID: 1000, GID: 2000, AdditionalGids: []uint32{2000, 3000}}},
		{"5000", nil, specs.User{UID: 5000, AdditionalGids: []uint32{0}}},
	} {
		u, err := ResolveUser(root, tc.spec, tc.groupAdd)
		if err != nil || !reflect.DeepEqual(u, tc.want) {
			t.Errorf("%q %v: got %+v (%v)", tc.spec, tc.groupAdd, u, err)
		}
	}
	if _, err := ResolveUser(root, "bob", nil); err == nil {
		t.Error("an unknown user name must be refused")
	}
	// An image whose /etc/passwd links to a host file is read inside the
	// rootfs: the host's users stay invisible.
	hostFile := filepath.Join(t.TempDir(), "passwd")
	must(os.WriteFile(hostFile, []byte("mallory:x:7:7::/h:/bin/sh\n"), 0o644))
	evil := t.TempDir()
	must(os.MkdirAll(filepath.Join(evil, "etc"), 0o755))
	must(os.Symlink(hostFile, filepath.Join(evil, "etc/passwd")))
	if u, err := ResolveUser(evil, "mallory", nil); err == nil {
		t.Errorf("a passwd symlink escaping the rootfs was followed to the host: %+v", u)
	}
	// An image whose /etc/passwd is a FIFO would hold the setup up, with
	// nobody to write to it: refused at once.
	fifo := t.TempDir()
	must(os.MkdirAll(filepath.Join(fifo, "etc"), 0o755))
	must(unix.Mkfifo(filepath.Join(fifo, "etc/passwd"), 0o644))
	if _, err := ResolveUser(fifo, "alice", nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO as the image's /etc/passwd: %v", err)
	}
}

// TestOpenInRoot_ASwappedLinkNeverLeadsOutOfTheRoot: a running container's
// processes change its rootfs while dockless reads its /etc/passwd (exec
// -u NAME): a link swapped in between a check and the open must never lead
// root to a file outside the root.
func TestOpenInRoot_ASwappedLinkNeverLeadsOutOfTheRoot(t *testing.T) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	etc := filepath.Join(rootfs, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside")
	if err := os.WriteFile(outside, []byte("outside:x:1:1::/:/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte("inside:x:2:2::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(etc, "lnk")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = unix.Renameat2(unix.AT_FDCWD, filepath.Join(etc, "lnk"), unix.AT_FDCWD, filepath.Join(etc, "passwd"), unix.RENAME_EXCHANGE)
		}
	}()
	defer func() { close(stop); <-swapped }()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		f, err := openInRoot(rootfs, "/etc/passwd")
		if err != nil || f == nil {
			continue // a link inside the root is refused or names nothing there
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if strings.HasPrefix(string(b), "outside") {
			t.Fatalf("openInRoot followed a swapped link out of the root: %q", b)
		}
	}
}

// TestParseGPURequest_DockerForms: --gpus has one parser, for the bare
// device nodes and for CDI; CDINames maps it as docker and nerdctl do.
func TestParseGPURequest_DockerForms(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  GPURequest
		names string
		err   string
	}{
		{"all", GPURequest{All: true}, "nvidia.com/gpu=all", ""},
		{"count=all", GPURequest{All: true}, "nvidia.com/gpu=all", ""},
		{"2", GPURequest{Count: 2}, "nvidia.com/gpu=0 nvidia.com/gpu=1", ""},
		{"count=1,driver=nvidia", GPURequest{Count: 1}, "nvidia.com/gpu=0", ""},
		{`"device=2,GPU-0000-1",capabilities=compute`, GPURequest{IDs: []string{"2", "GPU-0000-1"}}, "nvidia.com/gpu=2 nvidia.com/gpu=GPU-0000-1", ""},
		{"device=", GPURequest{}, "", "is not a GPU index or UUID"},
		{"device=a/b", GPURequest{}, "", "is not a GPU index or UUID"},
		{"count=0", GPURequest{}, "", "positive number"},
		{"capabilities=compute", GPURequest{}, "", "no GPUs selected"},
		{"sometimes", GPURequest{}, "", "unknown option"},
	} {
		got, err := ParseGPURequest(tc.value)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: want error %q, got %v", tc.value, tc.err, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v %v, want %+v", tc.value, got, err, tc.want)
		}
		if names := strings.Join(got.CDINames(NVIDIAGPU), " "); names != tc.names {
			t.Errorf("%s: CDI names %q, want %q", tc.value, names, tc.names)
		}
	}
}

func TestCDIDevice_OnlyQualifiedNames(t *testing.T) {
	for in, want := range map[string]bool{
		"nvidia.com/gpu=0": true, "nvidia.com/gpu=all": true, "vendor.example/class=GPU-1:2": true,
		"/dev/nvidia0": false, "nvidia.com/gpu": false, "gpu=0": false, "/dev/x/y=1": false,
	} {
		if got := CDIDevice(in); got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
}
