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

// grown holds what TestHeap_FirstChunksAdvisedHuge allocates.
var grown [][]byte

// TestHeap_FirstChunksAdvisedHuge: this test binary links the package, so
// the first two chunks the Go runtime mapped for its heap (8 MiB) carry
// the kernel's huge-page advice ("hg" in their VmFlags), and no other
// mapping of the program does, however far the heap grew. The heap grows
// upwards from its first chunk, one read-write mapping after another: the
// first chunk is the lowest of the read-write mappings that run without a
// gap up to the one holding what package initialisation allocated (which
// may be the second chunk, in the next 64 MiB arena: the heap's base is
// random). The kernel shows two adjacent mappings with the same advice as
// one.
func TestHeap_FirstChunksAdvisedHuge(t *testing.T) {
	for range 12 << 4 {
		grown = append(grown, make([]byte, 64<<10))
	}
	addr := uint64(uintptr(unsafe.Pointer(early)))
	all := mappings(t)
	at := -1
	for i, m := range all {
		if m.lo <= addr && addr < m.hi {
			at = i
		}
	}
	if at < 0 || all[at].perms != "rw-p" {
		t.Fatalf("no read-write mapping holds the heap's %#x", addr)
	}
	for at > 0 && all[at-1].hi == all[at].lo && all[at-1].perms == "rw-p" {
		at--
	}
	first := all[at]
	if !first.huge {
		t.Fatalf("the heap's first chunk %#x-%#x is not advised huge", first.lo, first.hi)
	}
	var advised, fromFirst uint64
	for _, m := range all {
		if m.huge {
			advised += m.hi - m.lo
		}
	}
	for i := at; i < len(all) && all[i].perms == "rw-p" && (i == at || all[i-1].hi == all[i].lo); i++ {
		if all[i].huge {
			fromFirst += all[i].hi - all[i].lo
		}
	}
	if advised != 8<<20 || fromFirst != advised {
		t.Errorf("%d MiB advised huge, %d MiB of it in the heap's first chunks; want the first 8 MiB of the heap only", advised>>20, fromFirst>>20)
	}
}
