package app

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

// findEntry returns the entry under o whose placeholder is placeholder.
func findEntry(t *testing.T, o fyne.CanvasObject, placeholder string) *widget.Entry {
	t.Helper()
	var found *widget.Entry
	walk(o, func(c fyne.CanvasObject) {
		if e, ok := c.(*widget.Entry); ok && e.PlaceHolder == placeholder {
			found = e
		}
	})
	if found == nil {
		t.Fatalf("no entry %q", placeholder)
	}
	return found
}

// trayAction runs the tray item labelled label as a click would.
func trayAction(t *testing.T, u *ui, a *trayApp, label string) {
	t.Helper()
	a.mu.Lock()
	var item *fyne.MenuItem
	for _, m := range a.menu.Items {
		if m.Label == label {
			item = m
		}
	}
	a.mu.Unlock()
	if item == nil {
		t.Fatalf("no tray item %q in %q", label, a.labels())
	}
	testUI.Locked(item.Action)
}

func TestUIStartsLockedAndUnlocks(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetVault(api.VaultStatus{State: api.VaultLocked, QueuedInbound: 2}, "")
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "unlock window shown at start", func() bool { return u.unlock != nil && u.unlock.Visible() })
	waitUI(t, u, "locked tray", func() bool { return slices.Contains(a.labels(), "Unlock…") })
	want := []string{"Genos — paused until you unlock", "Locked · 2 messages waiting", "---", "Open Chat", "Approvals", "Channels…",
		"---", "Unlock…", "Quit Genos"}
	if diff := cmp.Diff(want, a.labels()); diff != "" {
		t.Errorf("locked tray (-want +got):\n%s", diff)
	}

	// Open Chat while locked shows the unlock window, not a chat full of
	// errors.
	var w fyne.Window
	testUI.Locked(func() {
		u.unlock.Hide()
		w = u.unlock.Window()
	})
	trayAction(t, u, a, "Open Chat")
	testUI.Locked(func() {
		if u.chat != nil {
			t.Error("chat opened while locked")
		}
		if !u.unlock.Visible() {
			t.Error("Open Chat while locked did not show the unlock window")
		}
		if text := canvasText(w.Content()); !slices.Contains(splitLines(text), "2 messages arrived while Genos was locked. Genos answers them after you unlock.") {
			t.Errorf("unlock window does not mention the queued messages:\n%s", text)
		}
	})

	// A wrong passphrase keeps the window open with an inline error.
	testUI.Locked(func() {
		test.Type(findEntry(t, w.Content(), "Passphrase"), "guess")
		tapButton(t, w.Content(), "Unlock")
	})
	gw.WaitRequest(t, api.MethodVaultUnlock, 1)
	waitUI(t, u, "wrong passphrase error", func() bool {
		return slices.Contains(splitLines(canvasText(w.Content())), "That passphrase is not correct. Please try again.")
	})
	testUI.Locked(func() {
		if !u.unlock.Visible() {
			t.Error("unlock window closed after a wrong passphrase")
		}
	})

	// The right one closes it, the tray flips and the chat the user asked
	// for opens.
	testUI.Locked(func() {
		test.Type(findEntry(t, w.Content(), "Passphrase"), fakegw.Passphrase)
		tapButton(t, w.Content(), "Unlock")
	})
	waitUI(t, u, "unlocked tray", func() bool {
		l := a.labels()
		return len(l) > 1 && l[1] == "Unlocked" && slices.Contains(l, "Lock Now")
	})
	waitUI(t, u, "chat opened after unlocking", func() bool { return u.chat != nil && !u.unlock.Visible() })
	waitUI(t, u, "model known again", func() bool { return a.labels()[0] == "Genos — ready · test-model" })
}

func TestUILockNowAndVaultEvents(t *testing.T) {
	gw := fakegw.New(t)
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "unlocked tray", func() bool { return slices.Contains(a.labels(), "Lock Now") })
	waitUI(t, u, "chat open", func() bool { return u.chat != nil })

	trayAction(t, u, a, "Lock Now")
	gw.WaitRequest(t, api.MethodVaultLock, 1)
	waitUI(t, u, "locked tray", func() bool { return slices.Contains(a.labels(), "Unlock…") })
	testUI.Locked(func() {
		if u.unlock != nil && u.unlock.Visible() {
			t.Error("locking from the tray popped up the unlock window")
		}
		if !u.chat.Locked() {
			t.Error("the open chat does not show that Genos is locked")
		}
	})

	// Unlocked elsewhere (the CLI): only the vault.changed event tells.
	gw.SetVault(api.VaultStatus{State: api.VaultUnlocked}, "")
	gw.Emit(api.EventVaultChanged, api.VaultStatus{State: api.VaultUnlocked})
	waitUI(t, u, "unlocked by event", func() bool { return slices.Contains(a.labels(), "Lock Now") })
	waitUI(t, u, "chat unlocked", func() bool { return !u.chat.Locked() })

	// An idle auto-lock arrives as an event too, and does not pop up a
	// window while the user is away.
	gw.LockVault()
	waitUI(t, u, "auto-locked tray", func() bool { return slices.Contains(a.labels(), "Locked") })
	testUI.Locked(func() {
		if u.unlock != nil && u.unlock.Visible() {
			t.Error("an auto-lock popped up the unlock window")
		}
	})
	trayAction(t, u, a, "Unlock…")
	testUI.Locked(func() {
		if u.unlock == nil || !u.unlock.Visible() {
			t.Error("Unlock… did not show the unlock window")
		}
	})
}

func TestUIAsksVaultAfterReconnect(t *testing.T) {
	gw := fakegw.New(t)
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "unlocked tray", func() bool { return slices.Contains(a.labels(), "Unlocked") })
	before := len(gw.Requests(api.MethodVaultStatus))
	// The vault locks while the connection is down, so no event reaches
	// the app.
	gw.SetVault(api.VaultStatus{State: api.VaultLocked, QueuedInbound: 1}, "")
	gw.DropConnections()
	waitUI(t, u, "locked after reconnecting", func() bool { return slices.Contains(a.labels(), "Locked · 1 message waiting") })
	if after := len(gw.Requests(api.MethodVaultStatus)); after <= before {
		t.Error("no vault.status call after reconnecting")
	}
}

func TestUIOnboardingCreatesVaultFirst(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetStatus(api.StatusResult{DefaultAgent: api.Agent{ID: "main"}})
	gw.SetVault(api.VaultStatus{State: api.VaultNone}, "")
	u, a := startUI(t, gw, Options{NeedsOnboarding: true})
	waitUI(t, u, "onboarding", func() bool { return u.onboarding != nil })
	var w fyne.Window
	testUI.Locked(func() { w = u.onboarding.Window() })
	waitUI(t, u, "vault step", func() bool { return slices.Contains(splitLines(canvasText(w.Content())), "Protect your data") })
	if slices.Contains(a.labels(), "Lock Now") || slices.Contains(a.labels(), "Unlock…") {
		t.Errorf("tray shows vault items before a vault exists: %q", a.labels())
	}
	testUI.Locked(func() {
		test.Type(findEntry(t, w.Content(), "Passphrase"), "a long and secret phrase")
		test.Type(findEntry(t, w.Content(), "The same passphrase again"), "a long and secret phrase")
		tapButton(t, w.Content(), "Create and Continue")
	})
	gw.WaitRequest(t, api.MethodVaultCreate, 1)
	waitUI(t, u, "model step", func() bool { return slices.Contains(splitLines(canvasText(w.Content())), "Choose a model") })
	waitUI(t, u, "tray shows the new vault", func() bool { return slices.Contains(a.labels(), "Lock Now") })
}

// splitLines splits canvasText's output into labels.
func splitLines(s string) []string { return strings.Split(s, "\n") }
