package windows

import (
	"strings"
	"testing"
	"time"
)

// testUI is shared by every window the tests open, so that a window left
// over from an earlier test is serialised with the current one.
var testUI = new(UI)

// waitFor polls cond, which runs under the window's UI lock, until it holds.
// The deadline only guards against hangs; nothing asserts on timing.
func waitFor(t *testing.T, ui *UI, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		ui.Locked(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// texts returns the visible text of every transcript row.
func (w *Chat) texts() []string {
	out := make([]string, 0, len(w.items))
	for _, it := range w.items {
		out = append(out, it.text())
	}
	return out
}

func (w *Chat) hasText(want string) bool {
	for _, s := range w.texts() {
		if strings.Contains(s, want) {
			return true
		}
	}
	return false
}
