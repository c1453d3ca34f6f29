//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package paths

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Lock takes the single-instance lock on stateDir (flock on stateDir/genos.lock)
// and writes this process's pid into the lock file. The directory must exist
// (see Ensure). If another process holds it, the error wraps ErrAlreadyRunning
// and is an *AlreadyRunningError naming that process's pid.
//
// flock is tied to the open file, so the OS releases it when the process dies,
// however it dies: there are no stale locks to clean up. The file is opened
// close-on-exec (Go's default), so commands the agent runs do not inherit it.
func Lock(stateDir string) (*InstanceLock, error) {
	path := LockFile(stateDir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
			b, _ := io.ReadAll(io.LimitReader(f, 64))
			f.Close()
			return nil, &AlreadyRunningError{StateDir: stateDir, PID: parsePID(b)}
		}
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	pid := os.Getpid()
	if err := writePID(f, pid); err != nil {
		// Unlocking is implied by Close.
		f.Close()
		return nil, fmt.Errorf("write pid to lock file %s: %w", path, err)
	}
	return &InstanceLock{path: path, file: f, pid: pid}, nil
}

// Release clears the pid and drops the lock. It is safe to call more than once.
// The file itself is left in place: deleting a flock'ed file lets a second
// process lock a fresh inode while a third still holds the old one.
func (l *InstanceLock) Release() error {
	if l == nil || l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	truncErr := f.Truncate(0)
	unlockErr := flock(f, syscall.LOCK_UN)
	closeErr := f.Close()
	if err := errors.Join(truncErr, unlockErr, closeErr); err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}

// flock retries on EINTR, which a signal arriving mid-call can cause.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// writePID replaces the file's content with pid so a second instance can name
// the holder in its error message.
func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(pidBytes(pid), 0); err != nil {
		return err
	}
	return f.Sync()
}
