package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/dockless/dockless/lsf"
	"github.com/sirupsen/logrus"
)

// seedFormatter writes dockless's log lines as the site's wrapper did:
// "Jan 02 15:04:05 dockless[PID]: LEVEL: msg", with the wrapper's level
// names (lsf.LogLevels).
type seedFormatter struct{}

func (seedFormatter) Format(e *logrus.Entry) ([]byte, error) {
	b := fmt.Appendf(nil, "%s dockless[%d]: %s: %s", e.Time.Format("Jan 02 15:04:05"), os.Getpid(), lsf.LogLevelName(e.Level), e.Message)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = fmt.Appendf(b, " %s=%v", k, e.Data[k])
	}
	return append(b, '\n'), nil
}
