package images

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// layerDir makes an unpacked layer in overlay's form: files, a setuid
// file, a symlink, a whiteout (0:0 device), an opaque directory, a user
// xattr, a fifo, a hard link, an unlisted owner.
func layerDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (owners, devices, trusted xattrs)")
	}
	d := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d, "etc/opq"), 0o750))
	must(os.WriteFile(filepath.Join(d, "etc/a"), []byte("alpha\n"), 0o644))
	must(os.WriteFile(filepath.Join(d, "etc/suid"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(d, "etc/suid"), 0o4755))
	must(os.Symlink("a", filepath.Join(d, "etc/link")))
	must(unix.Mknod(filepath.Join(d, "etc/gone"), unix.S_IFCHR, 0))
	must(unix.Mkfifo(filepath.Join(d, "etc/fifo"), 0o600))
	must(unix.Lsetxattr(filepath.Join(d, "etc/opq"), "trusted.overlay.opaque", []byte("y"), 0))
	must(unix.Lsetxattr(filepath.Join(d, "etc/a"), "user.note", []byte("kept"), 0))
	must(os.Link(filepath.Join(d, "etc/a"), filepath.Join(d, "etc/hard")))
	must(os.WriteFile(filepath.Join(d, "etc/opq/new"), []byte("new\n"), 0o640))
	must(os.Lchown(filepath.Join(d, "etc/opq/new"), 1000, 70000))
	return d
}

// TestWriteErofs_Deterministic: the same directory gives the same bytes,
// hard links included.
func TestWriteErofs_Deterministic(t *testing.T) {
	for _, d := range []string{layerDir(t), linkedLayer(t)} {
		var images [2][]byte
		for i := range images {
			var err error
			if images[i], err = os.ReadFile(convert(t, d)); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(images[0], images[1]) {
			t.Fatalf("two conversions of %s differ", d)
		}
	}
}

// TestWriteErofs_MountsAsTheDirectory: the image, mounted, holds the
// directory's entries (in its layer directory) with their types, modes,
// owners, devices and xattrs; the layer directory's inode number is not 0
// (glibc < 2.37 hides entries numbered 0); a hard link reads the same
// (TestWriteErofs_HardLinksShareAnInode: and is the same inode).
func TestWriteErofs_MountsAsTheDirectory(t *testing.T) {
	d := layerDir(t)
	if !erofsKernel() {
		t.Skip("the kernel has no EROFS")
	}
	img := filepath.Join(t.TempDir(), "layer.erofs")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeErofs(f, d); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mnt := t.TempDir()
	if err := unix.Mount(img, mnt, "erofs", unix.MS_RDONLY, ""); err != nil {
		t.Skipf("mounting EROFS: %v", err)
	}
	defer unix.Unmount(mnt, 0)
	for _, name := range []string{"etc", "etc/a", "etc/suid", "etc/link", "etc/gone", "etc/fifo", "etc/opq", "etc/opq/new", "etc/hard"} {
		if want, got := describe(t, filepath.Join(d, name)), describe(t, filepath.Join(mnt, imageLayerDir, name)); got != want {
			t.Errorf("%s: %s in the image, %s in the directory", name, got, want)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(mnt, imageLayerDir), &st); err != nil || st.Ino == 0 {
		t.Errorf("the layer's directory has inode number %d (%v)", st.Ino, err)
	}
}

// describe is what the conversion must keep of a file.
func describe(t *testing.T, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(strings.Join([]string{
		"mode=" + itoa(int64(st.Mode)), "uid=" + itoa(int64(st.Uid)), "gid=" + itoa(int64(st.Gid)),
		"rdev=" + itoa(int64(st.Rdev)), "mtime=" + itoa(st.Mtim.Nano()),
	}, " "))
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		body, _ := os.ReadFile(p)
		b.WriteString(" body=" + string(body))
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		target, _ := os.Readlink(p)
		b.WriteString(" -> " + target)
	}
	for _, x := range []string{"trusted.overlay.opaque", "user.note"} {
		buf := make([]byte, 64)
		if n, err := unix.Lgetxattr(p, x, buf); err == nil {
			b.WriteString(" " + x + "=" + string(buf[:n]))
		}
	}
	return b.String()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestListsErofs: the kernel's file system list decides whether cached
// layers are used (a kernel without EROFS pulls as before).
func TestListsErofs(t *testing.T) {
	for _, tc := range []struct {
		list string
		want bool
	}{
		{"nodev\tsysfs\n\text4\n\terofs\nnodev\toverlay\n", true},
		{"nodev\tsysfs\n\text4\nnodev\toverlay\n\tsquashfs\n", false},
		{"nodev\terofsx\n", false},
	} {
		p := filepath.Join(t.TempDir(), "filesystems")
		if err := os.WriteFile(p, []byte(tc.list), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := listsErofs(p); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.list, got, tc.want)
		}
	}
	if listsErofs(filepath.Join(t.TempDir(), "none")) {
		t.Error("an unreadable list names erofs")
	}
}

// TestErofsModule: a kernel whose erofs is a module not loaded yet (not
// in /proc/filesystems: the first mount loads it) mounts the cache's
// files too; another kernel's module, or another file system's, does not
// count.
func TestErofsModule(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	for _, tc := range []struct {
		module string
		want   bool
	}{
		{release + "/kernel/fs/erofs/erofs.ko", true},
		{release + "/kernel/fs/erofs/erofs.ko.zst", true},
		{"0.0.0-other/kernel/fs/erofs/erofs.ko", false},
		{release + "/kernel/fs/squashfs/squashfs.ko", false},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, tc.module)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := erofsModule(dir); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.module, got, tc.want)
		}
	}
}
