//go:build !plan9

package paths

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// The exclusive-create lock is what non-flock platforms use; it is tested
// here on every platform so it does not rot where CI cannot run it.

func TestLockExcl(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := lockExcl(dir)
	if err != nil {
		t.Fatalf("lockExcl: %v", err)
	}
	_, err = lockExcl(dir)
	assertAlreadyRunning(t, err, dir, os.Getpid())
	if err := l.releaseExcl(); err != nil {
		t.Fatalf("releaseExcl: %v", err)
	}
	if _, err := os.Stat(LockFile(dir)); !os.IsNotExist(err) {
		t.Fatalf("lock file still there after release: %v", err)
	}
	if err := l.releaseExcl(); err != nil {
		t.Fatalf("second releaseExcl: %v", err)
	}
	l2, err := lockExcl(dir)
	if err != nil {
		t.Fatalf("lockExcl after release: %v", err)
	}
	if err := l2.releaseExcl(); err != nil {
		t.Fatal(err)
	}
}

func TestLockExclStalePID(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find test binary: %v", err)
	}
	// A child that has exited and been reaped gives a pid that is not running.
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run child: %v", err)
	}
	dead := cmd.Process.Pid
	if processAlive(dead) {
		t.Skipf("pid %d was reused already", dead)
	}
	dir := t.TempDir()
	if err := os.WriteFile(LockFile(dir), pidBytes(dead), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := lockExcl(dir)
	if err != nil {
		t.Fatalf("lockExcl over a stale lock: %v", err)
	}
	b, err := os.ReadFile(LockFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := parsePID(b); got != os.Getpid() {
		t.Errorf("lock file pid = %d, want ours %d", got, os.Getpid())
	}
	if err := l.releaseExcl(); err != nil {
		t.Fatal(err)
	}
}

func TestLockExclUnknownPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := LockFile(dir)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A fresh file without a pid may belong to a holder that is about to
	// write it: respect it.
	_, err := lockExcl(dir)
	assertAlreadyRunningUnknown(t, err)

	// An old one was left by a holder that died before writing its pid.
	old := time.Now().Add(-2 * unknownPIDGrace)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	l, err := lockExcl(dir)
	if err != nil {
		t.Fatalf("lockExcl over an old pid-less lock: %v", err)
	}
	if err := l.releaseExcl(); err != nil {
		t.Fatal(err)
	}
}

func TestReleaseExclKeepsForeignLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := lockExcl(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Another process judged us stale and took over the file.
	if err := os.WriteFile(LockFile(dir), pidBytes(os.Getpid()+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.releaseExcl(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(LockFile(dir)); err != nil {
		t.Fatalf("release removed a lock that was not ours: %v", err)
	}
}

func TestProcessAlive(t *testing.T) {
	t.Parallel()
	if !processAlive(os.Getpid()) {
		t.Error("processAlive(self) = false")
	}
}

func assertAlreadyRunningUnknown(t *testing.T, err error) {
	t.Helper()
	are, ok := err.(*AlreadyRunningError)
	if !ok {
		t.Fatalf("lockExcl = %v, want *AlreadyRunningError", err)
	}
	if are.PID != 0 {
		t.Errorf("PID = %d, want 0 (unknown)", are.PID)
	}
}
