//go:build !windows && !plan9

package paths

import (
	"errors"
	"os"
	"syscall"
)

// processAlive reports whether pid names a running process, using signal 0,
// which checks existence and permission without delivering anything.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	// EPERM: the process exists but belongs to another user.
	return err == nil || errors.Is(err, syscall.EPERM)
}
