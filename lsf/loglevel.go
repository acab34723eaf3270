package lsf

import (
	"fmt"
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
