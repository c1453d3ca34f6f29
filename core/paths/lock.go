package paths

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrAlreadyRunning is wrapped by the error Lock returns when another process
// holds the state directory's lock. Callers branch on it with errors.Is and
// can read the holder's pid with errors.As into *AlreadyRunningError.
var ErrAlreadyRunning = errors.New("another Genos is already running")

// AlreadyRunningError says which state directory is taken and by whom.
type AlreadyRunningError struct {
	// StateDir is the directory whose lock is held.
	StateDir string
	// PID is the holder's process id as written in the lock file, or 0 when
	// it could not be read (the holder may be between taking the lock and
	// writing its pid).
	PID int
}

// Error tells the user what to do, since it is usually shown as is.
func (e *AlreadyRunningError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("another Genos is already running on state dir %s (%s); quit it first or set %s to use another state dir",
		e.StateDir, pid, EnvStateDir)
}

// Unwrap makes errors.Is(err, ErrAlreadyRunning) hold.
func (e *AlreadyRunningError) Unwrap() error { return ErrAlreadyRunning }

// InstanceLock is a held single-instance lock on a state directory. Release it
// on shutdown; if the process dies instead, the lock is freed by the OS (flock)
// or detected as stale on the next Lock (platforms without flock).
type InstanceLock struct {
	path string
	file *os.File // open lock file while held (flock platforms); nil after Release
	pid  int
	// released marks a Release on platforms that lock by exclusive create.
	released bool
}

// Path returns the lock file's path.
func (l *InstanceLock) Path() string { return l.path }

// parsePID reads the pid a holder wrote into the lock file. Anything that is
// not a positive decimal integer yields 0 (unknown).
func parsePID(b []byte) int {
	s := strings.TrimSpace(string(b))
	if len(s) > 20 {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// pidBytes is what a holder writes into the lock file.
func pidBytes(pid int) []byte { return []byte(strconv.Itoa(pid) + "\n") }
