package container

import (
	"errors"
	"fmt"
)

// ErrNoSuchContainer: no container of the caller's has that name or ID.
var ErrNoSuchContainer = errors.New("No such container")

// NameInUseError: another container of the node has the name.
type NameInUseError struct{ Name string }

func (e *NameInUseError) Error() string {
	return fmt.Sprintf("the container name %q is already in use", e.Name)
}

// InvalidNameError: the name is not one docker allows.
type InvalidNameError struct{ Name string }

func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", e.Name)
}

// CIDFileExistsError: the caller's --cidfile exists (docker refuses to
// overwrite one).
type CIDFileExistsError struct{ Path string }

func (e *CIDFileExistsError) Error() string { return "container ID file " + e.Path + " exists" }

// NotRunningError: the container has no process to exec in.
type NotRunningError struct{ Name string }

func (e *NotRunningError) Error() string { return "container " + e.Name + " is not running" }
