//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || plan9)

package paths

// Lock takes the single-instance lock on stateDir by creating
// stateDir/genos.lock exclusively and writing this process's pid into it. The
// directory must exist (see Ensure). If another live process holds it, the
// error wraps ErrAlreadyRunning and is an *AlreadyRunningError naming that
// process's pid. This platform has no flock, so a lock left by a crashed
// process is detected by its pid no longer running and replaced.
func Lock(stateDir string) (*InstanceLock, error) { return lockExcl(stateDir) }

// Release removes the lock file if it still names this process. It is safe to
// call more than once.
func (l *InstanceLock) Release() error { return l.releaseExcl() }
