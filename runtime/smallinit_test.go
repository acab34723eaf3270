package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// TestSmallInit_HandsTheInitASealedCopy: the init gets the small init as
// its last extra file, named in its log level after the level itself, and
// the copy cannot be written, even by root reopening it through /proc (an
// overlay without an upper layer, mounted nowhere); no small init, or one
// that cannot be opened, leaves the init dockless's own.
func TestSmallInit_HandsTheInitASealedCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fsmount needs root")
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "bin", "dockless-runinit")
	if err := os.MkdirAll(filepath.Dir(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "state")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	extra, _ := os.Open(os.DevNull)
	defer extra.Close()
	p := &libcontainer.Process{LogLevel: jobLogLevel, ExtraFiles: []*os.File{extra}}
	done := smallInit(prog, other, p)
	defer done()
	if len(p.ExtraFiles) != 2 || p.LogLevel != jobLogLevel+":fd=4" {
		t.Fatalf("extra files %d, log level %q; want 2 and %q", len(p.ExtraFiles), p.LogLevel, jobLogLevel+":fd=4")
	}
	sealed := p.ExtraFiles[1]
	var got, want unix.Stat_t
	if err := unix.Fstat(int(sealed.Fd()), &got); err != nil || unix.Stat(prog, &want) != nil || got.Size != want.Size {
		t.Fatalf("the copy is not the program: %v", err)
	}
	_, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(sealed.Fd())), os.O_WRONLY, 0)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("reopening the copy for writing: %v, want EROFS", err)
	}
	for _, path := range []string{"", filepath.Join(dir, "missing")} {
		q := &libcontainer.Process{LogLevel: jobLogLevel}
		smallInit(path, other, q)()
		if len(q.ExtraFiles) != 0 || q.LogLevel != jobLogLevel {
			t.Errorf("small init %q: extra files %d, log level %q", path, len(q.ExtraFiles), q.LogLevel)
		}
	}
}
