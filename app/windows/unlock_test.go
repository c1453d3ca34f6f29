package windows

import (
	"encoding/json"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

// newTestUnlock opens the unlock window on a fake gateway whose vault is
// locked with fakegw.Passphrase. Unlocks are reported on the returned
// channel.
func newTestUnlock(t *testing.T) (*Unlock, *fakegw.Server, chan api.VaultStatus) {
	t.Helper()
	a := test.NewTempApp(t)
	gw := fakegw.New(t)
	gw.SetVault(api.VaultStatus{State: api.VaultLocked, IdleLockMinutes: 30}, "")
	unlocked := make(chan api.VaultStatus, 1)
	w := NewUnlock(t.Context(), a, gw.Dial(t), UnlockOptions{UI: testUI, OnUnlocked: func(st api.VaultStatus) { unlocked <- st }})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	w.ui.Locked(w.Show)
	return w, gw, unlocked
}

func TestUnlockWrongPassphrase(t *testing.T) {
	w, gw, unlocked := newTestUnlock(t)
	w.ui.Locked(func() {
		test.Type(w.pass, "not it at all")
		w.pass.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	gw.WaitRequest(t, api.MethodVaultUnlock, 1)
	waitFor(t, w.ui, "wrong passphrase error", func() bool { return w.errLabel.Visible() && !w.busy })
	w.ui.Locked(func() {
		if want := "That passphrase is not correct. Please try again."; w.errLabel.Text != want {
			t.Errorf("error = %q, want %q", w.errLabel.Text, want)
		}
		if w.pass.Text != "" {
			t.Errorf("field keeps %q after a wrong passphrase, want it cleared", w.pass.Text)
		}
		if f := w.win.Canvas().Focused(); f != w.pass {
			t.Errorf("focus is on %T, want the passphrase field", f)
		}
		if !w.Visible() || w.button.Disabled() {
			t.Errorf("window visible %v, button disabled %v; want it open and ready to retry", w.Visible(), w.button.Disabled())
		}
	})
	if got := gw.Vault().State; got != api.VaultLocked {
		t.Errorf("vault state = %q after a wrong passphrase", got)
	}
	select {
	case st := <-unlocked:
		t.Errorf("OnUnlocked called after a wrong passphrase: %+v", st)
	default:
	}
}

func TestUnlockRightPassphraseCloses(t *testing.T) {
	w, gw, unlocked := newTestUnlock(t)
	w.ui.Locked(func() {
		test.Type(w.pass, fakegw.Passphrase)
		test.Tap(w.remember)
		test.Tap(w.button)
	})
	st := <-unlocked
	if st.State != api.VaultUnlocked {
		t.Errorf("OnUnlocked got state %q", st.State)
	}
	var p api.VaultUnlockParams
	if err := gw.WaitRequest(t, api.MethodVaultUnlock, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.VaultUnlockParams{Passphrase: fakegw.Passphrase, Remember: true}, p); diff != "" {
		t.Errorf("vault.unlock params (-want +got):\n%s", diff)
	}
	w.ui.Locked(func() {
		if w.Visible() {
			t.Error("window still shown after unlocking")
		}
		if w.pass.Text != "" {
			t.Error("passphrase left in the field after unlocking")
		}
	})
}

func TestUnlockButtonDisabledWhileInFlight(t *testing.T) {
	w, gw, unlocked := newTestUnlock(t)
	release := make(chan struct{})
	gw.Handle(api.MethodVaultUnlock, func(json.RawMessage) (any, *api.ErrorShape) {
		<-release
		return api.VaultStatus{State: api.VaultUnlocked}, nil
	})
	w.ui.Locked(func() {
		test.Type(w.pass, fakegw.Passphrase)
		test.Tap(w.button)
	})
	gw.WaitRequest(t, api.MethodVaultUnlock, 1)
	w.ui.Locked(func() {
		if !w.button.Disabled() {
			t.Error("Unlock button enabled while the unlock is in flight")
		}
		w.pass.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // a second submit must not send again
	})
	close(release)
	<-unlocked
	if n := len(gw.Requests(api.MethodVaultUnlock)); n != 1 {
		t.Errorf("sent %d unlock requests, want 1", n)
	}
}

func TestUnlockOtherErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*fakegw.Server)
		text  string // typed passphrase
		want  string
		calls int
	}{
		{"empty passphrase is not sent", func(*fakegw.Server) {}, "", "Enter your passphrase.", 0},
		{"daemon failure is explained", func(gw *fakegw.Server) {
			gw.Handle(api.MethodVaultUnlock, func(json.RawMessage) (any, *api.ErrorShape) {
				return nil, api.Errorf(api.CodeInternal, "keychain unavailable")
			})
		}, "whatever it is", "Genos could not unlock. Keychain unavailable.", 1},
		{"an invalid request is not a wrong passphrase", func(gw *fakegw.Server) {
			gw.Handle(api.MethodVaultUnlock, func(json.RawMessage) (any, *api.ErrorShape) {
				return nil, api.Errorf(api.CodeInvalidRequest, "passphrase is required")
			})
		}, "   ", "Genos could not unlock. Passphrase is required.", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, _ := newTestUnlock(t)
			tt.setup(gw)
			w.ui.Locked(func() {
				test.Type(w.pass, tt.text)
				test.Tap(w.button)
			})
			waitFor(t, w.ui, "error", func() bool { return w.errLabel.Visible() && !w.busy })
			w.ui.Locked(func() {
				if w.errLabel.Text != tt.want {
					t.Errorf("error = %q, want %q", w.errLabel.Text, tt.want)
				}
			})
			if n := len(gw.Requests(api.MethodVaultUnlock)); n != tt.calls {
				t.Errorf("%d unlock requests, want %d", n, tt.calls)
			}
		})
	}
}

func TestUnlockShowsQueuedMessages(t *testing.T) {
	w, _, _ := newTestUnlock(t)
	w.ui.Locked(func() {
		w.SetStatus(api.VaultStatus{State: api.VaultLocked, QueuedInbound: 3})
		if !w.queued.Visible() || !strings.HasPrefix(w.queued.Text, "3 messages arrived") {
			t.Errorf("queued line visible %v, %q", w.queued.Visible(), w.queued.Text)
		}
		w.SetStatus(api.VaultStatus{State: api.VaultLocked})
		if w.queued.Visible() {
			t.Error("queued line still shown with nothing queued")
		}
	})
}
