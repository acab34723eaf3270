package hugeheap

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// early is allocated by package initialisation, in the Go heap's arena.
var early = new([64]byte)

// vma is one mapping of /proc/self/smaps.
type vma struct {
	lo, hi uint64
	perms  string
	huge   bool
}

func mappings(t *testing.T) []vma {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var out []vma
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		fields := strings.Fields(line)
		if len(fields) > 1 && !strings.HasSuffix(fields[0], ":") && strings.Contains(fields[0], "-") {
			a, b, _ := strings.Cut(fields[0], "-")
			lo, _ := strconv.ParseUint(a, 16, 64)
			hi, _ := strconv.ParseUint(b, 16, 64)
			out = append(out, vma{lo: lo, hi: hi, perms: fields[1]})
			continue
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && len(out) > 0 {
			out[len(out)-1].huge = strings.Contains(flags, " hg")
		}
	}
	return out
}

// TestHeap_FirstChunkAdvisedHuge: this test binary links the package, so
// the first chunk the Go runtime mapped in its heap arena (the lowest
// read-write mapping of the 64 MiB arena holding what package
// initialisation allocated; the heap grows upwards from it) carries the
// kernel's huge-page advice ("hg" in its VmFlags) over 4 MiB, and no other
// mapping of the program does.
func TestHeap_FirstChunkAdvisedHuge(t *testing.T) {
	addr := uint64(uintptr(unsafe.Pointer(early)))
	arena := addr &^ (64<<20 - 1)
	var first *vma
	advised := 0
	all := mappings(t)
	for i, m := range all {
		if m.huge {
			advised++
		}
		if m.lo >= arena && m.hi <= arena+64<<20 && m.perms == "rw-p" && first == nil {
			first = &all[i]
		}
	}
	if first == nil {
		t.Fatalf("no read-write mapping in the heap arena at %#x", arena)
	}
	if !first.huge || first.hi-first.lo != 4<<20 {
		t.Fatalf("the heap's first chunk %#x-%#x (huge advice: %v) is not the 4 MiB advised huge", first.lo, first.hi, first.huge)
	}
	if advised != 1 {
		t.Errorf("%d mappings advised huge, want the heap's first chunk only", advised)
	}
}
