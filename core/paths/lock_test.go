package paths

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Environment variables that turn this test binary into a lock-holding child.
const (
	envLockChild = "GENOS_PATHS_TEST_LOCK_CHILD"
	envLockDir   = "GENOS_PATHS_TEST_LOCK_DIR"
)

// TestMain lets the test binary double as the child process of
// TestLockAcrossProcesses: the child takes the lock, says so on stdout and
// then blocks until it is killed (or its stdin closes), never releasing the
// lock itself. It blocks in a read rather than select{}, which the runtime
// would report as a deadlock.
func TestMain(m *testing.M) {
	if os.Getenv(envLockChild) == "1" {
		l, err := Lock(os.Getenv(envLockDir))
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(2)
		}
		_ = l // held until the process dies
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLockInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	b, err := os.ReadFile(LockFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := parsePID(b); got != os.Getpid() {
		t.Errorf("lock file pid = %d, want %d", got, os.Getpid())
	}

	_, err = Lock(dir)
	assertAlreadyRunning(t, err, dir, os.Getpid())

	if err := l.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func TestLockMissingDir(t *testing.T) {
	t.Parallel()
	_, err := Lock(t.TempDir() + "/does-not-exist")
	if err == nil {
		t.Fatal("Lock on a missing dir succeeded")
	}
	if errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("Lock on a missing dir = %v, must not claim another instance", err)
	}
}

func TestLockAcrossProcesses(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find test binary: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envLockChild+"=1", envLockDir+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // kept open: the child waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read child status: %v", err)
	}
	if line != "locked\n" {
		t.Fatalf("child said %q, want \"locked\"", line)
	}

	_, err = Lock(dir)
	assertAlreadyRunning(t, err, dir, cmd.Process.Pid)

	// The child never calls Release: its death alone must free the lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	cmd.Wait()
	killed = true

	l, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after child died: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func assertAlreadyRunning(t *testing.T, err error, dir string, pid int) {
	t.Helper()
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("Lock = %v, want ErrAlreadyRunning", err)
	}
	var are *AlreadyRunningError
	if !errors.As(err, &are) {
		t.Fatalf("Lock error %T is not *AlreadyRunningError", err)
	}
	if are.PID != pid || are.StateDir != dir {
		t.Errorf("AlreadyRunningError = %+v, want pid %d dir %s", are, pid, dir)
	}
	for _, want := range []string{dir, "pid " + strconv.Itoa(pid), "quit it first", EnvStateDir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestParsePID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"1234\n", 1234},
		{" 42 ", 42},
		{"", 0},
		{"-5", 0},
		{"0", 0},
		{"abc", 0},
		{"99999999999999999999999", 0},
	}
	for _, tt := range tests {
		if got := parsePID([]byte(tt.in)); got != tt.want {
			t.Errorf("parsePID(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestAlreadyRunningErrorUnknownPID(t *testing.T) {
	t.Parallel()
	err := &AlreadyRunningError{StateDir: "/x"}
	if !strings.Contains(err.Error(), "pid unknown") {
		t.Errorf("error %q does not say the pid is unknown", err)
	}
}
