package deadarch

import (
	"bufio"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// x32Bit marks a system call of the x32 ABI (64-bit registers, 32-bit
// pointers) on x86_64.
const x32Bit = 0x40000000

// KernelTakesX32 reports whether this kernel runs x32 system calls. A
// kernel built without CONFIG_X86_X32_ABI, or booted with syscall.x32=n (a
// distribution kernel's default), answers every one with ENOSYS, and cannot
// run an x32 program at all: a seccomp filter for such a kernel needs no x32
// section. The probe is one x32 getpid. It is made only while this process
// runs under no seccomp filter of its own (a filter without x32 would kill
// it); under one, and on other architectures, the answer is true: keep the
// section.
var KernelTakesX32 = sync.OnceValue(func() bool {
	if !x32Probe || seccompFiltered() {
		return true
	}
	_, _, errno := unix.RawSyscall(x32Bit|unix.SYS_GETPID, 0, 0, 0)
	return errno != unix.ENOSYS
})

// seccompFiltered reports whether this process runs under a seccomp
// filter (or its status cannot be read).
func seccompFiltered() bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return true
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Seccomp:"); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return true
}
