package testimage

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// StartContainerd runs Debian's containerd with its root, state and
// sockets in dir (nothing but a unix socket) and returns the socket and a
// stop function. cri is the configuration of its CRI plugin (TOML under
// [plugins."io.containerd.grpc.v1.cri"]); "" turns CRI off. Its log is
// dir/containerd.log.
func StartContainerd(dir, cri string) (string, func(), error) {
	sock := filepath.Join(dir, "containerd.sock")
	disabled := ""
	if cri == "" {
		disabled = `disabled_plugins = ["io.containerd.grpc.v1.cri"]`
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
%s
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = ""
%s
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), disabled, sock, sock+".ttrpc", cri)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		return "", nil, err
	}
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		return "", nil, err
	}
	d := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	d.Stdout, d.Stderr = log, log
	if err := d.Start(); err != nil {
		log.Close()
		return "", nil, err
	}
	stop := func() { _ = d.Process.Kill(); _ = d.Wait(); log.Close() }
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	b, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
	return "", nil, fmt.Errorf("containerd did not start:\n%s", b)
}
