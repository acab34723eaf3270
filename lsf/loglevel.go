package lsf

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
)

// LogLevels are the seed wrapper's log levels (LSF_DOCKER_RUN_LOGLEVEL,
// `dockless lsf run --log-level`), most severe first, and the logrus level
// each is.
var LogLevels = []struct {
	Name  string
	Level logrus.Level
}{
	{"CRITICAL", logrus.FatalLevel},
	{"ERROR", logrus.ErrorLevel},
	{"WARNING", logrus.WarnLevel},
	{"INFO", logrus.InfoLevel},
	{"DEBUG", logrus.DebugLevel},
}

// ParseLogLevel reads one of LogLevels' names, in any case.
func ParseLogLevel(name string) (logrus.Level, error) {
	var names []string
	for _, l := range LogLevels {
		if strings.EqualFold(l.Name, name) {
			return l.Level, nil
		}
		names = append(names, l.Name)
	}
	return 0, fmt.Errorf("invalid log level %q: use one of %s", name, strings.Join(names, " "))
}

// LogLevelName is the seed's name of a logrus level (logrus's Panic and
// Fatal are CRITICAL, Trace is DEBUG).
func LogLevelName(l logrus.Level) string {
	for _, ll := range LogLevels {
		if l <= ll.Level {
			return ll.Name
		}
	}
	return "DEBUG"
}

// LogFormatter writes dockless's log lines as the site's wrapper did:
// "Jan 02 15:04:05 dockless[PID]: LEVEL: msg", with the wrapper's level
// names (LogLevelName), then the entry's fields in order.
type LogFormatter struct{}

// Format is logrus's Formatter.
func (LogFormatter) Format(e *logrus.Entry) ([]byte, error) {
	b := fmt.Appendf(nil, "%s dockless[%d]: %s: %s", e.Time.Format("Jan 02 15:04:05"), os.Getpid(), LogLevelName(e.Level), e.Message)
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
