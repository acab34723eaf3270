package nvidia

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/NVIDIA/nvidia-container-toolkit/pkg/nvcdi"
	nvspec "github.com/NVIDIA/nvidia-container-toolkit/pkg/nvcdi/spec"
	"github.com/NVIDIA/nvidia-container-toolkit/pkg/nvcdi/transform"
)

// Logger receives what NVIDIA's spec generator says (a *logrus.Logger).
type Logger interface {
	Tracef(string, ...any)
	Debugf(string, ...any)
	Infof(string, ...any)
	Warningf(string, ...any)
	Errorf(string, ...any)
}

// GenerateOptions say where Generate writes and with which hook.
type GenerateOptions struct {
	// Output is the spec file to write (its extension, .json or .yaml,
	// is its format); "" writes YAML to the writer Generate is given.
	Output string
	// Hook is nvidia-cdi-hook, which the spec runs to make the driver
	// libraries' links and ld.so.cache in the container; where it is
	// absent the spec has no hooks.
	Hook string
	Log  Logger
}

// Generate makes the CDI spec of the node's NVIDIA GPUs, as
// `nvidia-ctk cdi generate` does with its defaults: kind nvidia.com/gpu,
// each GPU by index and by UUID, an "all" device, the driver's device
// nodes, libraries, binaries and IPC sockets. It loads the host's
// libnvidia-ml; without an NVIDIA driver it fails, naming why.
func Generate(o GenerateOptions, w io.Writer) error {
	opts := []nvcdi.Option{nvcdi.WithLogger(o.Log), nvcdi.WithMode(nvcdi.ModeAuto), nvcdi.WithNVIDIACDIHookPath(o.Hook)}
	var namers []nvcdi.DeviceNamer
	for _, strategy := range []string{nvcdi.DeviceNameStrategyIndex, nvcdi.DeviceNameStrategyUUID} {
		n, err := nvcdi.NewDeviceNamer(strategy)
		if err != nil {
			return err
		}
		namers = append(namers, n)
	}
	opts = append(opts, nvcdi.WithDeviceNamers(namers...))
	if _, err := os.Stat(o.Hook); err != nil {
		o.Log.Warningf("%s: %v: the spec gets no hooks (the driver's libraries are mounted, but their .so links and ld.so.cache are not made in the container): install the NVIDIA Container Toolkit's nvidia-cdi-hook for them", o.Hook, err)
		opts = append(opts, nvcdi.WithDisabledHooks(nvcdi.AllHooks))
	}
	lib, err := nvcdi.New(opts...)
	if err != nil {
		return fmt.Errorf("the NVIDIA CDI generator: %w", err)
	}
	devices, err := lib.GetDeviceSpecsByID("all")
	if err != nil {
		return fmt.Errorf("the node's NVIDIA GPUs (needs the NVIDIA driver and its libnvidia-ml): %w", err)
	}
	common, err := lib.GetCommonEdits()
	if err != nil {
		return fmt.Errorf("the NVIDIA driver's files: %w", err)
	}
	format := nvspec.FormatYAML
	if strings.EqualFold(filepath.Ext(o.Output), ".json") {
		format = nvspec.FormatJSON
	}
	s, err := nvspec.New(
		nvspec.WithVendor("nvidia.com"), nvspec.WithClass("gpu"),
		nvspec.WithEdits(*common.ContainerEdits), nvspec.WithDeviceSpecs(devices),
		nvspec.WithMergedDeviceOptions(transform.WithName("all"), transform.WithSkipIfExists(true)),
		nvspec.WithFormat(format), nvspec.WithPermissions(0o644),
	)
	if err != nil {
		return err
	}
	if o.Output == "" {
		_, err = s.WriteTo(w)
		return err
	}
	if err := s.Save(o.Output); err != nil {
		return fmt.Errorf("writing %s: %w", o.Output, err)
	}
	return nil
}
