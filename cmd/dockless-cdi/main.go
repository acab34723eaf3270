// dockless-cdi writes the CDI spec of the node's NVIDIA GPUs for
// `dockless cdi generate`, which checks the caller (root only) and its
// flags and runs it: NVIDIA's generator is linked here, never into the
// setuid dockless (package cdi/nvidia says why). It is found at
// ../libexec/dockless/dockless-cdi from dockless, never through PATH.
//
//	dockless-cdi [-output FILE] [-hook PATH] [-log-level LEVEL]
//
// It exits 0 once the spec is written, and 125 with the reason on
// standard error when it is not.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dockless/dockless/cdi/nvidia"
	"github.com/dockless/dockless/lsf"
	"github.com/sirupsen/logrus"
)

func main() {
	output := flag.String("output", "", "the spec file (.yaml or .json); default: standard output")
	hook := flag.String("hook", "/usr/bin/nvidia-cdi-hook", "the NVIDIA Container Toolkit's nvidia-cdi-hook")
	level := flag.String("log-level", "error", "what of NVIDIA's generator's log to show (a logrus level: dockless's own)")
	flag.Parse()
	log := logrus.New()
	log.SetFormatter(lsf.LogFormatter{})
	log.SetOutput(os.Stderr)
	if l, err := logrus.ParseLevel(*level); err == nil {
		log.SetLevel(l)
	}
	if err := nvidia.Generate(nvidia.GenerateOptions{Output: *output, Hook: *hook, Log: log}, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "dockless: %v\n", err)
		os.Exit(125)
	}
}
