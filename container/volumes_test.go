package container

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dockless/dockless/spec"
	"golang.org/x/sys/unix"
)

func TestVolumeBinds_TheImagesVolumesNoMountCovers(t *testing.T) {
	vols := map[string]struct{}{"/var/lib/db": {}, "/data/": {}, "/home/x/cache": {}, "/scratch": {}, "/logs": {}}
	req := &spec.Request{
		Mounts: []spec.Bind{{Destination: "/data"}, {Destination: "/home"}},
		Tmpfs:  []spec.Tmpfs{{Destination: "/scratch"}},
	}
	got, err := volumeBinds("/state/c1", vols, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.Bind{
		{Source: "/state/c1/volumes/0", Destination: "/logs"},
		{Source: "/state/c1/volumes/1", Destination: "/var/lib/db"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := volumeBinds("/state/c1", map[string]struct{}{"relative": {}}, req); err == nil {
		t.Fatal("a relative VOLUME must be refused")
	}
}

// seedVolume copies the image's content at the volume's path with its
// owners and modes, links as links (never followed out of the rootfs),
// and follows the image's own symlinks to the path inside the rootfs.
func TestSeedVolume_CopiesTheImagesTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("copies owners: needs root")
	}
	rootfs := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(rootfs, "srv/data/sub"), 0o750))
	must(os.WriteFile(filepath.Join(rootfs, "srv/data/sub/f"), []byte("seed"), 0o640))
	must(os.Chown(filepath.Join(rootfs, "srv/data/sub/f"), 1000, 100))
	must(os.Chown(filepath.Join(rootfs, "srv/data"), 1000, 100))
	must(unix.Chmod(filepath.Join(rootfs, "srv/data"), 0o1770))
	must(os.Symlink("/etc/shadow", filepath.Join(rootfs, "srv/data/link")))
	must(unix.Mkfifo(filepath.Join(rootfs, "srv/data/fifo"), 0o600))
	must(os.Symlink("/srv/data", filepath.Join(rootfs, "data")))

	dir := filepath.Join(t.TempDir(), "volumes", "0")
	must(seedVolume(rootfs, "/data", dir))
	var st unix.Stat_t
	must(unix.Stat(dir, &st))
	if st.Uid != 1000 || st.Gid != 100 || st.Mode&0o7777 != 0o1770 {
		t.Errorf("the volume's root: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub/f")); err != nil || string(b) != "seed" {
		t.Errorf("sub/f: %q %v", b, err)
	}
	must(unix.Stat(filepath.Join(dir, "sub/f"), &st))
	if st.Uid != 1000 || st.Gid != 100 || st.Mode&0o777 != 0o640 {
		t.Errorf("sub/f: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o777)
	}
	if target, err := os.Readlink(filepath.Join(dir, "link")); err != nil || target != "/etc/shadow" {
		t.Errorf("the link is copied as a link: %q %v", target, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v %v", fi, err)
	}

	empty := filepath.Join(t.TempDir(), "v")
	must(seedVolume(rootfs, "/not/in/the/image", empty))
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Errorf("a path the image lacks is an empty volume: %v %v", entries, err)
	}
	must(os.Symlink("/../../..", filepath.Join(rootfs, "escape")))
	out := filepath.Join(t.TempDir(), "v")
	must(seedVolume(rootfs, "/escape/etc", out))
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a link out of the rootfs stays in it: copied %v", entries)
	}
}
