package runtime

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// fakeProcess stands for the container's process: the copies of its stdio
// that its fork holds, taken before Attach closes dockless's own.
type fakeProcess struct {
	stdin, stdout, stderr *os.File
}

func startRelay(t *testing.T, stdio IO) (*relay, *fakeProcess) {
	t.Helper()
	p := &libcontainer.Process{}
	r, err := newRelay(p, stdio)
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakeProcess{stdout: dup(t, p.Stdout.(*os.File)), stderr: dup(t, p.Stderr.(*os.File))}
	if p.Stdin != nil {
		fp.stdin = dup(t, p.Stdin.(*os.File))
	}
	if err := r.Attach(); err != nil {
		t.Fatal(err)
	}
	return r, fp
}

func dup(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), f.Name())
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func openFds(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// readAll collects what r gives until EOF.
func readAll(r *os.File) <-chan []byte {
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	return got
}

func TestRelay_CopiesAllOutputAndLeavesNothingRunning(t *testing.T) {
	stdinR, stdinW := pipe(t) // the caller's stdin, open all along
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	out, errOut := readAll(outR), readAll(errR)
	before := openFds(t)

	r, p := startRelay(t, IO{Stdin: stdinR, Stdout: outW, Stderr: errW})
	want := bytes.Repeat([]byte("0123456789abcdef"), 20000) // more than a pipe holds
	if _, err := p.stdout.Write(want); err != nil {
		t.Fatal(err)
	}
	if _, err := p.stderr.Write([]byte("end\n")); err != nil {
		t.Fatal(err)
	}
	// The process exits; a child of it keeps its stdout open.
	p.stdin.Close()
	p.stderr.Close()
	r.Wait()
	r.Close()
	p.stdout.Close()

	for _, o := range r.outs {
		<-o.done
	}
	<-r.in.done
	if n := openFds(t); n != before {
		t.Errorf("%d descriptors open after Close, %d before the relay", n, before)
	}
	outW.Close()
	errW.Close()
	if got := <-out; !bytes.Equal(got, want) {
		t.Errorf("stdout: %d bytes, want %d", len(got), len(want))
	}
	if got := <-errOut; string(got) != "end\n" {
		t.Errorf("stderr: %q", got)
	}
	if _, err := stdinW.Write([]byte("x")); err != nil {
		t.Errorf("the caller's stdin was closed: %v", err)
	}
}

func TestRelay_InputEndsWithEOFAndIsNotReadAfterClose(t *testing.T) {
	stdinR, stdinW := pipe(t)
	_, outW := pipe(t)
	r, p := startRelay(t, IO{Stdin: stdinR, Stdout: outW, Stderr: outW})
	defer p.stdin.Close()
	defer p.stdout.Close()
	defer p.stderr.Close()
	if _, err := stdinW.Write([]byte("early\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := p.stdin.Read(buf); err != nil || string(buf[:n]) != "early\n" {
		t.Fatalf("the process read %q, %v", buf[:n], err)
	}
	r.Close()
	if n, err := p.stdin.Read(buf); err != io.EOF {
		t.Errorf("after Close the process reads %q, %v; want EOF", buf[:n], err)
	}
	if _, err := stdinW.Write([]byte("later\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := stdinR.Read(buf); err != nil || string(buf[:n]) != "later\n" {
		t.Errorf("the caller's input after Close: %q, %v; the relay took it", buf[:n], err)
	}
}

func TestRelay_StdoutAndStderrOfOneFileShareAPipe(t *testing.T) {
	_, outW := pipe(t)
	p := &libcontainer.Process{}
	r, err := newRelay(p, IO{Stdout: outW, Stderr: outW})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if p.Stdout != p.Stderr || len(r.outs) != 1 || p.Stdin != nil {
		t.Errorf("stdout %v, stderr %v, %d pipes, stdin %v", p.Stdout, p.Stderr, len(r.outs), p.Stdin)
	}
}
