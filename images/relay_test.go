package images

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRelay_WritesNeverWaitForTheCaller: a writer that does not take what
// it is given (a stopped terminal, a pipe nobody reads) holds up no
// Write; Close passes everything on in order once it does.
func TestRelay_WritesNeverWaitForTheCaller(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewRelay(pw)
	var want strings.Builder
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := range 1000 {
			line := strings.Repeat("x", i%50) + "\n"
			want.WriteString(line)
			if n, err := r.Write([]byte(line)); n != len(line) || err != nil {
				t.Errorf("write %d: %d %v", i, n, err)
			}
		}
	}()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("writes to a relay whose writer takes nothing did not return")
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(pr)
		got <- b
	}()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if b := <-got; !bytes.Equal(b, []byte(want.String())) {
		t.Fatalf("relayed %d bytes, want the %d written, in order", len(b), want.Len())
	}
	if _, err := r.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("a write after Close: %v", err)
	}
}

// TestRelay_DropsPastItsBound: what a writer that never takes anything is
// given is held up to relayLimit, not without end.
func TestRelay_DropsPastItsBound(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewRelay(pw)
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	for range 4 * relayLimit / len(chunk) {
		if _, err := r.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan int)
	go func() {
		b, _ := io.ReadAll(pr)
		got <- len(b)
	}()
	r.Close()
	pw.Close()
	// The copy may hold one batch it took before the bound filled.
	if n := <-got; n > 2*relayLimit {
		t.Fatalf("relayed %d bytes of %d written to a writer that took none: the bound is %d", n, 4*relayLimit, relayLimit)
	}
}
