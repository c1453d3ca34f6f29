package windows

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

func TestValidateNewPassphrase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		pass, confirm string
		wants         []string // substrings of the joined error; none means valid
	}{
		{"valid", "correct horse", "correct horse", nil},
		{"exactly eight characters", "12345678", "12345678", nil},
		{"eight runes of multibyte text", "éééééééé", "éééééééé", nil},
		{"spaces are kept as typed", " padded passphrase ", " padded passphrase ", nil},
		{"empty", "", "", []string{"Choose a passphrase."}},
		{"only spaces", "         ", "         ", []string{"Choose a passphrase."}},
		{"too short", "short", "short", []string{"at least 8 characters"}},
		{"mismatch", "correct horse", "correct horse!", []string{"do not match"}},
		{"confirmation differs by a trailing space", "correct horse", "correct horse ", []string{"do not match"}},
		{"too short and mismatched", "short", "shirt", []string{"at least 8 characters", "do not match"}},
		{"line break", "correct\nhorse", "correct\nhorse", []string{"line breaks"}},
		{"too long", strings.Repeat("a", maxPassphraseLen+1), strings.Repeat("a", maxPassphraseLen+1), []string{"too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := validateNewPassphrase(tt.pass, tt.confirm)
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("validateNewPassphrase = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validateNewPassphrase = nil, want %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestPassphraseStrength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pass  string
		level int
		hint  string
	}{
		{"", strengthNone, "At least 8 characters"},
		{"abc", strengthTooShort, "Too short: 5 more characters needed."},
		{"abcdefg", strengthTooShort, "Too short: 1 more character needed."},
		{"abcdefgh", strengthFair, "Fair"},
		{"abcdefghijk", strengthFair, "Fair"},
		{"abcdefghijkl", strengthGood, "Good."},
		{strings.Repeat("é", 19), strengthGood, "Good."},
		{"correct horse battery staple", strengthStrong, "Strong."},
	}
	for _, tt := range tests {
		level, hint := passphraseStrength(tt.pass)
		if level != tt.level || !strings.HasPrefix(hint, tt.hint) {
			t.Errorf("passphraseStrength(%q) = %d, %q; want %d, %q…", tt.pass, level, hint, tt.level, tt.hint)
		}
	}
}

// newVaultOnboarding opens onboarding with the vault step on a fake gateway
// in the given vault state.
func newVaultOnboarding(t *testing.T, state string) (*Onboarding, *fakegw.Server, chan api.VaultStatus) {
	t.Helper()
	gw := fakegw.New(t)
	gw.SetVault(api.VaultStatus{State: state}, "")
	created := make(chan api.VaultStatus, 1)
	rec := &saveRecorder{calls: make(chan Setup, 1)}
	w := NewOnboarding(t.Context(), test.NewTempApp(t), OnboardingOptions{
		UI: testUI, Save: rec.save, Vault: gw.Dial(t),
		OnVaultCreated: func(st api.VaultStatus) { created <- st },
	})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	w.ui.Locked(w.Show)
	return w, gw, created
}

func TestOnboardingVaultStepValidation(t *testing.T) {
	w, gw, _ := newVaultOnboarding(t, api.VaultNone)
	waitFor(t, w.ui, "vault step", func() bool { return w.page == w.vault.page })
	tests := []struct {
		name, pass, confirm, want string
	}{
		{"mismatch", "correct horse", "correct hose", "The two passphrases do not match."},
		{"too short", "horse", "horse", "Use at least 8 characters for the passphrase."},
		{"empty", "", "", "Choose a passphrase."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.ui.Locked(func() {
				w.vault.pass.SetText(tt.pass)
				w.vault.confirm.SetText(tt.confirm)
				test.Tap(w.vault.create)
				if !w.vault.errLabel.Visible() || w.vault.errLabel.Text != tt.want {
					t.Errorf("error shown %v: %q, want %q", w.vault.errLabel.Visible(), w.vault.errLabel.Text, tt.want)
				}
				if w.page != w.vault.page {
					t.Error("left the vault step with an invalid passphrase")
				}
			})
		})
	}
	w.ui.Locked(func() {
		w.vault.pass.SetText("horse")
		if w.vault.strength.Text != "Too short: 3 more characters needed." {
			t.Errorf("strength hint = %q", w.vault.strength.Text)
		}
	})
	if n := len(gw.Requests(api.MethodVaultCreate)); n != 0 {
		t.Errorf("vault.create called %d times with invalid input", n)
	}
}

func TestOnboardingCreatesVault(t *testing.T) {
	w, gw, created := newVaultOnboarding(t, api.VaultNone)
	waitFor(t, w.ui, "vault step", func() bool { return w.page == w.vault.page })
	w.ui.Locked(func() {
		if !w.vault.remember.Checked {
			t.Error("remember is off by default")
		}
		test.Type(w.vault.pass, "a long and secret phrase")
		test.Type(w.vault.confirm, "a long and secret phrase")
		test.Tap(w.vault.create)
	})
	if st := <-created; st.State != api.VaultUnlocked {
		t.Errorf("OnVaultCreated got %+v", st)
	}
	var p api.VaultUnlockParams
	if err := gw.WaitRequest(t, api.MethodVaultCreate, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(api.VaultUnlockParams{Passphrase: "a long and secret phrase", Remember: true}, p); diff != "" {
		t.Errorf("vault.create params (-want +got):\n%s", diff)
	}
	waitFor(t, w.ui, "model step", func() bool { return w.page == w.modelPage })
	w.ui.Locked(func() {
		if w.vault.pass.Text != "" || w.vault.confirm.Text != "" {
			t.Error("passphrase left in the fields after creating the vault")
		}
		if !w.step.Visible() || w.title.Text != "Choose a model" {
			t.Errorf("model step: step label visible %v, title %q", w.step.Visible(), w.title.Text)
		}
	})
	if got := gw.Vault().State; got != api.VaultUnlocked {
		t.Errorf("fake vault state = %q", got)
	}
}

func TestOnboardingVaultCreateError(t *testing.T) {
	w, gw, created := newVaultOnboarding(t, api.VaultNone)
	gw.Handle(api.MethodVaultCreate, func(json.RawMessage) (any, *api.ErrorShape) {
		return nil, api.Errorf(api.CodeInternal, "disk full")
	})
	waitFor(t, w.ui, "vault step", func() bool { return w.page == w.vault.page })
	w.ui.Locked(func() {
		w.vault.remember.SetChecked(false)
		w.vault.pass.SetText("a long and secret phrase")
		w.vault.confirm.SetText("a long and secret phrase")
		test.Tap(w.vault.create)
	})
	waitFor(t, w.ui, "create error", func() bool { return w.vault.errLabel.Visible() && !w.vault.create.Disabled() })
	w.ui.Locked(func() {
		if want := "Genos could not protect your data. Disk full."; w.vault.errLabel.Text != want {
			t.Errorf("error = %q, want %q", w.vault.errLabel.Text, want)
		}
		if w.page != w.vault.page || w.vault.pass.Text == "" {
			t.Error("a failed create left the step or cleared the passphrase")
		}
	})
	var p api.VaultUnlockParams
	if err := gw.WaitRequest(t, api.MethodVaultCreate, 1).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Remember {
		t.Error("remember sent although unchecked")
	}
	select {
	case st := <-created:
		t.Errorf("OnVaultCreated after a failure: %+v", st)
	default:
	}
}

func TestOnboardingSkipsVaultStepWhenOneExists(t *testing.T) {
	for _, state := range []string{api.VaultUnlocked, api.VaultLocked} {
		t.Run(state, func(t *testing.T) {
			w, _, _ := newVaultOnboarding(t, state)
			waitFor(t, w.ui, "model step", func() bool { return w.page == w.modelPage })
			w.ui.Locked(func() {
				if w.vault.shown || w.step.Visible() || w.title.Text != "Welcome to Genos" {
					t.Errorf("vault step shown %v, step label %v, title %q", w.vault.shown, w.step.Visible(), w.title.Text)
				}
			})
		})
	}
}

// slowVault answers vault.status with api.ErrClosed a few times, as the
// app's hub does until it has connected.
type slowVault struct {
	mu    sync.Mutex
	calls int
}

func (v *slowVault) VaultStatus(context.Context) (api.VaultStatus, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	if v.calls < 3 {
		return api.VaultStatus{}, api.ErrClosed
	}
	return api.VaultStatus{State: api.VaultNone}, nil
}

func (v *slowVault) VaultCreate(context.Context, api.VaultUnlockParams) (api.VaultStatus, error) {
	return api.VaultStatus{State: api.VaultUnlocked}, nil
}

func TestOnboardingWaitsForConnection(t *testing.T) {
	v := &slowVault{}
	rec := &saveRecorder{calls: make(chan Setup, 1)}
	w := NewOnboarding(t.Context(), test.NewTempApp(t), OnboardingOptions{UI: testUI, Save: rec.save, Vault: v})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	waitFor(t, w.ui, "vault step after connecting", func() bool { return w.page == w.vault.page })
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.calls != 3 {
		t.Errorf("vault.status asked %d times, want 3 (two while not connected)", v.calls)
	}
}
