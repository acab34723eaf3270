package deadarch

import (
	"compress/gzip"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestKernelTakesX32_AgreesWithTheKernelsConfig: on an x86_64 kernel whose
// configuration is readable, the probe says what the configuration and the
// boot line say.
func TestKernelTakesX32_AgreesWithTheKernelsConfig(t *testing.T) {
	if goruntime.GOARCH != "amd64" {
		if !KernelTakesX32() {
			t.Fatal("off x86_64 the answer must be the safe one: true")
		}
		return
	}
	if seccompFiltered() {
		if !KernelTakesX32() {
			t.Fatal("under a seccomp filter the probe is not made: the answer must be the safe one, true")
		}
		t.Skip("this test runs under a seccomp filter: the probe is not made")
	}
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		t.Skip("no /proc/config.gz: the kernel's configuration cannot be read here")
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	built := strings.Contains(string(cfg), "\nCONFIG_X86_X32_ABI=y\n")
	want := built && strings.Contains(string(cmdline), "syscall.x32=y")
	if built && !want && !strings.Contains(string(cmdline), "syscall.x32") {
		t.Skip("x32 built in with the distribution's boot default: the default is not in the configuration")
	}
	if got := KernelTakesX32(); got != want {
		t.Errorf("KernelTakesX32() = %v; the configuration says built=%v, boot line %q", got, built, strings.TrimSpace(string(cmdline)))
	}
}
