package hugeheap

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// early is allocated by package initialisation, in the heap's first chunk.
var early = new([64]byte)

// TestHeap_FirstChunkAdvisedHuge: this test binary links the package, so
// the mapping holding what package initialisation allocated carries the
// kernel's huge-page advice ("hg" in its VmFlags), and it is the heap's
// 4 MiB chunk: no other mapping of the program is advised by it.
func TestHeap_FirstChunkAdvisedHuge(t *testing.T) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	addr := uint64(uintptr(unsafe.Pointer(early)))
	var lo, hi uint64
	inEarly, found, advised := false, false, 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			a, b, _ := strings.Cut(fields[0], "-")
			lo, _ = strconv.ParseUint(a, 16, 64)
			hi, _ = strconv.ParseUint(b, 16, 64)
			inEarly = lo <= addr && addr < hi
			continue
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && strings.Contains(flags, " hg") {
			advised++
			if inEarly {
				found = true
				if hi-lo > 4<<20 {
					t.Errorf("the advised mapping is %d bytes, more than the first chunk", hi-lo)
				}
			}
		}
	}
	if !found {
		t.Fatalf("the mapping of the heap's first chunk (%#x) is not advised huge", addr)
	}
	if advised != 1 {
		t.Errorf("%d mappings advised huge, want the heap's first chunk only", advised)
	}
}
