package paths

import "errors"

// Lock is not supported on Plan 9, which has neither flock nor a portable way
// to tell whether a pid is alive, so a stale lock could never be recovered.
func Lock(stateDir string) (*InstanceLock, error) {
	return nil, errors.New("single-instance lock is not supported on plan9")
}

// Release does nothing on Plan 9, where Lock never succeeds.
func (l *InstanceLock) Release() error { return nil }
