package windows

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

// tapUnder taps the button labelled label inside o.
func tapUnder(t *testing.T, o fyne.CanvasObject, label string) {
	t.Helper()
	var found *widget.Button
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Button:
			if x.Text == label {
				found = x
			}
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		}
	}
	walk(o)
	if found == nil {
		t.Fatalf("no button %q", label)
	}
	test.Tap(found)
}

func TestChatLockedHistoryShowsUnlock(t *testing.T) {
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	gw.SetHistory(testSession, sampleHistory())
	gw.SetVault(api.VaultStatus{State: api.VaultLocked}, "")
	unlocks := 0
	w := NewChat(t.Context(), a, gw.Dial(t), ChatOptions{SessionKey: testSession, UI: testUI, OnUnlock: func() { unlocks++ }})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "locked line", func() bool { return w.Locked() })
	w.ui.Locked(func() {
		if !w.lockBar.Visible() {
			t.Error("locked line hidden")
		}
		if strings.Contains(w.status.Text, "VAULT_LOCKED") || strings.Contains(w.status.Text, "Could not load") {
			t.Errorf("status shows a raw error: %q", w.status.Text)
		}
		tapUnder(t, w.lockBar, "Unlock…")
		if unlocks != 1 {
			t.Errorf("OnUnlock called %d times", unlocks)
		}
	})

	// The app learns of the unlock from vault.changed and tells the window,
	// which loads the conversation.
	gw.SetVault(api.VaultStatus{State: api.VaultUnlocked}, "")
	w.ui.Locked(func() { w.SetLocked(false) })
	waitFor(t, w.ui, "history after unlocking", func() bool { return w.hasText("notes folder") })
	w.ui.Locked(func() {
		if w.lockBar.Visible() {
			t.Error("locked line still shown after unlocking")
		}
	})
}

func TestChatSendWhileLocked(t *testing.T) {
	w, gw := newTestChat(t, ChatOptions{})
	gw.SetVault(api.VaultStatus{State: api.VaultLocked}, "") // locked after the history loaded
	w.ui.Locked(func() {
		test.Type(w.input, "Are you there?")
		test.Tap(w.send)
	})
	waitFor(t, w.ui, "locked notice", func() bool { return w.hasText("not sent because Genos is locked") })
	w.ui.Locked(func() {
		if !w.Locked() {
			t.Error("locked line not shown after a VAULT_LOCKED answer")
		}
		if w.input.Text != "Are you there?" {
			t.Errorf("composer = %q, want the unsent text back", w.input.Text)
		}
		for _, s := range w.texts() {
			if strings.Contains(s, "⚠") {
				t.Errorf("a lock shows as an error row: %q", s)
			}
		}
	})
}
