package daemon

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNewMarksProcessNotDumpable(t *testing.T) {
	newDaemon(t, t.TempDir())
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d != 0 {
		t.Fatalf("dumpable = %d after daemon.New; commands could read its environment", d)
	}
}
