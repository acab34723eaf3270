package deadarch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"
)

// KernelRunsIA32 reports whether this kernel runs 32-bit x86 programs and
// their system calls. A kernel built without CONFIG_IA32_EMULATION, booted
// with ia32_emulation=false (Linux 6.7 and later), or a guest that does not
// offer it (as here) neither loads a 32-bit program nor takes a 32-bit
// system call from any process (int 0x80 faults; sysenter and the 32-bit
// syscall entry are off with it): a seccomp filter for such a kernel needs
// no x86 section. The probe starts a 93-byte 32-bit program that exits 0,
// from a sealed memory file: the kernel refusing its format (ENOEXEC) is
// the answer no. Anything else, and other architectures, answer yes: keep
// the section.
var KernelRunsIA32 = sync.OnceValue(func() bool {
	if !x32Probe {
		return true
	}
	err := runIA32Probe()
	return !errors.Is(err, unix.ENOEXEC)
})

// ia32Exit0 is a whole 32-bit x86 ELF executable: one program header
// loading itself at 0x08048000, and at its entry (offset 0x54)
// mov eax, 1; xor ebx, ebx; int 0x80 (exit(0)).
var ia32Exit0 = []byte{
	// ELF header
	0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	2, 0, 3, 0, 1, 0, 0, 0, // ET_EXEC, EM_386, EV_CURRENT
	0x54, 0x80, 0x04, 0x08, // e_entry
	0x34, 0, 0, 0, // e_phoff
	0, 0, 0, 0, // e_shoff
	0, 0, 0, 0, // e_flags
	0x34, 0, 0x20, 0, 1, 0, // e_ehsize, e_phentsize, e_phnum
	0, 0, 0, 0, 0, 0, // e_shentsize, e_shnum, e_shstrndx
	// program header: PT_LOAD of the whole file, read and execute
	1, 0, 0, 0, 0, 0, 0, 0,
	0x00, 0x80, 0x04, 0x08, 0x00, 0x80, 0x04, 0x08,
	0x5d, 0, 0, 0, 0x5d, 0, 0, 0,
	5, 0, 0, 0, 0, 0x10, 0, 0,
	// code
	0xb8, 1, 0, 0, 0, // mov eax, 1
	0x31, 0xdb, // xor ebx, ebx
	0xcd, 0x80, // int 0x80
}

// runIA32Probe runs ia32Exit0 with no environment and no descriptors.
func runIA32Probe() error {
	fd, err := unix.MemfdCreate("dockless-ia32-probe", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "dockless-ia32-probe")
	defer f.Close()
	if _, err := f.Write(ia32Exit0); err != nil {
		return err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		return err
	}
	cmd := exec.Command(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	cmd.Env = []string{}
	return cmd.Run()
}
