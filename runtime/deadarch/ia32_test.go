package deadarch

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"testing"
)

// TestIA32Probe_IsAWhole32BitProgram: the probe program is what a kernel
// with 32-bit x86 loads and runs (so ENOEXEC can only mean the kernel has
// none): an i386 executable whose one loaded segment holds the whole file
// and its entry.
func TestIA32Probe_IsAWhole32BitProgram(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(ia32Exit0))
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS32 || f.Machine != elf.EM_386 || f.Type != elf.ET_EXEC || f.Data != elf.ELFDATA2LSB {
		t.Fatalf("class %v machine %v type %v data %v, want a 32-bit little-endian i386 executable", f.Class, f.Machine, f.Type, f.Data)
	}
	if len(f.Progs) != 1 {
		t.Fatalf("%d program headers, want 1", len(f.Progs))
	}
	p := f.Progs[0]
	if p.Type != elf.PT_LOAD || p.Off != 0 || p.Filesz != uint64(len(ia32Exit0)) || p.Memsz != p.Filesz || p.Flags != elf.PF_R|elf.PF_X {
		t.Fatalf("segment %+v, want the whole file loaded, read and execute", p.ProgHeader)
	}
	if code := f.Entry - p.Vaddr; code != 0x54 || !bytes.Equal(ia32Exit0[code:], []byte{0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80}) {
		t.Fatalf("the entry is not exit(0) at offset 0x54")
	}
}

// TestKernelRunsIA32_AgreesWithInt80: the probe's answer is what a 64-bit
// program making a 32-bit system call (int 0x80 getpid) finds: it returns
// where the kernel has 32-bit x86, it faults (SIGSEGV) where it has none.
func TestKernelRunsIA32_AgreesWithInt80(t *testing.T) {
	if goruntime.GOARCH != "amd64" {
		if !KernelRunsIA32() {
			t.Fatal("off x86_64 the answer must be the safe one: true")
		}
		return
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler for the int 0x80 program")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "int80.c")
	prog := `int main(void) { long r; __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory"); return r > 0 ? 0 : 3; }`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "int80")
	if out, err := exec.Command(cc, "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v %s", err, out)
	}
	err = exec.Command(bin).Run()
	var want bool
	switch ee, ok := err.(*exec.ExitError); {
	case err == nil:
		want = true
	case ok && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGSEGV:
		want = false
	default:
		t.Fatalf("the int 0x80 program: %v", err)
	}
	if got := KernelRunsIA32(); got != want {
		t.Errorf("KernelRunsIA32() = %v, but int 0x80 says %v", got, want)
	}
}
