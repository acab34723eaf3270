// Command registry serves a test registry on 127.0.0.1 holding the busybox
// images of hack/testimage, for `make demo` and `make bench`. It prints the
// registry address on stdout (and to -addr-file) once the images are pushed,
// then serves until it is killed.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/dockless/dockless/hack/testimage"
)

func main() {
	addrFile := flag.String("addr-file", "", "write the registry address to this file")
	flag.StringVar(&testimage.BusyboxPath, "busybox", testimage.BusyboxPath, "static busybox the image is built from")
	flag.Parse()
	reg, err := testimage.StartRegistry()
	if err != nil {
		log.Fatal(err)
	}
	img, err := testimage.Busybox(testimage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := reg.Push("demo/busybox:latest", img); err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile+".tmp", []byte(reg.Addr+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(*addrFile+".tmp", *addrFile); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(reg.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	reg.Close()
}
