//go:build !plan9

package paths

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// This file is the lock for platforms without flock (see lock_other.go). It
// builds everywhere but Plan 9 so that its tests run on the CI's Linux too.

// unknownPIDGrace is how long an empty or unreadable lock file is trusted: a
// holder writes its pid right after creating the file, so an older file
// without a pid was left by a process that died in between.
const unknownPIDGrace = 10 * time.Second

// lockExcl takes the lock by creating stateDir/genos.lock exclusively and
// writing this process's pid into it. Without flock a crashed holder leaves
// its file behind, so a file whose pid is no longer running is treated as
// stale and replaced. Two processes replacing the same stale file at the same
// instant can race; that window is accepted because the flock path is what
// supported desktops use.
func lockExcl(stateDir string) (*InstanceLock, error) {
	path := LockFile(stateDir)
	pid := os.Getpid()
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.Write(pidBytes(pid))
			serr := f.Sync()
			cerr := f.Close()
			if err := errors.Join(werr, serr, cerr); err != nil {
				os.Remove(path)
				return nil, fmt.Errorf("write pid to lock file %s: %w", path, err)
			}
			return &InstanceLock{path: path, pid: pid}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create lock file %s: %w", path, err)
		}
		holder, stale, err := inspectLock(path)
		if err != nil {
			return nil, err
		}
		if !stale || attempt > 0 {
			return nil, &AlreadyRunningError{StateDir: stateDir, PID: holder}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove stale lock file %s: %w", path, err)
		}
	}
}

// inspectLock reads an existing lock file and reports its holder's pid and
// whether the file is stale (its holder is gone).
func inspectLock(path string) (pid int, stale bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, true, nil // released between our create and read: retry
	}
	if err != nil {
		return 0, false, fmt.Errorf("read lock file %s: %w", path, err)
	}
	pid = parsePID(b)
	if pid == 0 {
		fi, err := os.Stat(path)
		if err != nil {
			return 0, errors.Is(err, fs.ErrNotExist), nil
		}
		return 0, time.Since(fi.ModTime()) > unknownPIDGrace, nil
	}
	return pid, !processAlive(pid), nil
}

// releaseExcl removes the lock file if it still names this process. It is safe
// to call more than once.
func (l *InstanceLock) releaseExcl() error {
	if l == nil || l.released {
		return nil
	}
	l.released = true
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	if parsePID(b) != l.pid {
		return nil // someone judged us stale and took over: not ours to delete
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}
