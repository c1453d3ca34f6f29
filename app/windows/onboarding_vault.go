package windows

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/api"
)

// vaultRetry is how often onboarding asks again for the vault state while
// the app is still connecting to the daemon.
const vaultRetry = 250 * time.Millisecond

// onboardingWidth is the width of every onboarding step.
const onboardingWidth = 560

// vaultStep holds the widgets of onboarding's first step, which creates
// the vault when the daemon has none.
type vaultStep struct {
	checking   fyne.CanvasObject // shown until the vault state is known
	checkLabel *widget.Label
	page       fyne.CanvasObject
	pass       *widget.Entry
	confirm    *widget.Entry
	strength   *widget.Label
	remember   *widget.Check
	errLabel   *widget.Label
	progress   *widget.ProgressBarInfinite
	create     *widget.Button
	// shown reports whether the step was part of this onboarding, so the
	// model step is numbered.
	shown bool
}

func newTitle(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// newCaption is a line of small secondary text. The placeholder colour
// stays readable in both theme variants, unlike the disabled colour a
// low-importance label uses.
func newCaption(text string) *widget.RichText {
	rt := widget.NewRichText(&widget.TextSegment{Text: text, Style: widget.RichTextStyle{
		ColorName: theme.ColorNamePlaceHolder,
		SizeName:  theme.SizeNameCaptionText,
	}})
	rt.Wrapping = fyne.TextWrapWord
	return rt
}

func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func (w *Onboarding) buildVaultStep() {
	v := &w.vault
	v.checkLabel = wrapped("Checking how your data is stored…")
	bar := widget.NewProgressBarInfinite()
	v.checking = container.NewVBox(newTitle("Welcome to Genos"), v.checkLabel, bar)

	v.pass = widget.NewPasswordEntry()
	v.pass.SetPlaceHolder("Passphrase")
	v.pass.OnChanged = func(string) { w.showStrength() }
	v.confirm = widget.NewPasswordEntry()
	v.confirm.SetPlaceHolder("The same passphrase again")
	v.pass.OnSubmitted = func(string) { w.win.Canvas().Focus(v.confirm) }
	v.confirm.OnSubmitted = func(string) { w.createVault() }
	v.strength = widget.NewLabel("")
	v.strength.Wrapping = fyne.TextWrapWord
	v.strength.SizeName = theme.SizeNameCaptionText
	v.remember = widget.NewCheck(rememberLabel(), nil)
	v.remember.SetChecked(true)
	hint := newCaption(rememberHint())

	v.errLabel = widget.NewLabel("")
	v.errLabel.Wrapping = fyne.TextWrapWord
	v.errLabel.Importance = widget.DangerImportance
	v.errLabel.Hide()
	v.progress = widget.NewProgressBarInfinite()
	v.progress.Stop()
	v.progress.Hide()
	v.create = widget.NewButtonWithIcon("Create and Continue", theme.ConfirmIcon(), w.createVault)
	v.create.Importance = widget.HighImportance

	intro := wrapped("Genos encrypts what it keeps on this computer (conversations, memory and keys) " +
		"with a passphrase that only you know.")
	warning := wrapped("If you forget the passphrase, your data cannot be recovered: nobody, not even Genos, can reset it.")
	warning.Importance = widget.WarningImportance
	form := widget.NewForm(
		&widget.FormItem{Text: "Passphrase", Widget: v.pass},
		&widget.FormItem{Text: "", Widget: v.strength},
		&widget.FormItem{Text: "Confirm", Widget: v.confirm},
	)
	v.page = container.NewVBox(newCaption("Step 1 of 2"), newTitle("Protect your data"), intro, warning, form,
		v.remember, hint, v.errLabel, v.progress, container.NewHBox(layout.NewSpacer(), v.create))
	w.showStrength()
}

// showPage makes page the window's content, sized to fit it.
func (w *Onboarding) showPage(page fyne.CanvasObject) {
	w.page = page
	content := container.NewPadded(page)
	w.win.SetContent(content)
	// Lay the page out at the window's width first: wrapped labels report
	// the height they need at the width they last had, which would leave
	// the window too tall.
	content.Resize(fyne.NewSize(onboardingWidth, content.MinSize().Height))
	w.win.Resize(fyne.NewSize(onboardingWidth, content.MinSize().Height))
}

// checkVault asks the daemon whether a vault exists, retrying while the app
// is still connecting, and then shows the first step that applies.
func (w *Onboarding) checkVault() {
	for {
		ctx, cancel := context.WithTimeout(w.ctx, probeTimeout)
		st, err := w.opts.Vault.VaultStatus(ctx)
		cancel()
		switch {
		case err == nil:
			w.ui.post(w.ctx, func() { w.vaultKnown(st.State) })
			return
		case w.ctx.Err() != nil:
			return
		case errors.Is(err, api.ErrClosed) || errors.Is(err, context.DeadlineExceeded):
			// The app dials the daemon while this window opens; wait for it
			// rather than skip the step and leave the data unencrypted.
			w.ui.post(w.ctx, func() { w.vault.checkLabel.SetText("Waiting for Genos to start…") })
			select {
			case <-w.ctx.Done():
				return
			case <-time.After(vaultRetry):
			}
		default:
			// A daemon without a vault API: only the model can be set up.
			w.log.Warn("ask vault status", "err", err)
			w.ui.post(w.ctx, func() { w.vaultKnown("") })
			return
		}
	}
}

// vaultKnown shows the vault step when there is no vault yet, and the model
// step otherwise.
func (w *Onboarding) vaultKnown(state string) {
	if w.page != w.vault.checking {
		return
	}
	if state == api.VaultNone {
		w.vault.shown = true
		w.showPage(w.vault.page)
		w.win.Canvas().Focus(w.vault.pass)
		return
	}
	w.showPage(w.modelPage)
}

// showStrength updates the hint under the passphrase, rated by length.
func (w *Onboarding) showStrength() {
	level, hint := passphraseStrength(w.vault.pass.Text)
	imp := widget.MediumImportance
	switch level {
	case strengthTooShort:
		imp = widget.WarningImportance
	case strengthFair:
		imp = widget.MediumImportance
	case strengthGood, strengthStrong:
		imp = widget.SuccessImportance
	}
	w.vault.strength.Importance = imp
	w.vault.strength.SetText(hint)
}

func (w *Onboarding) showVaultError(msg string) {
	w.vault.errLabel.SetText(msg)
	w.vault.errLabel.Show()
	w.fit()
}

func (w *Onboarding) createVault() {
	v := &w.vault
	if v.create.Disabled() {
		return // a call is in flight
	}
	if err := validateNewPassphrase(v.pass.Text, v.confirm.Text); err != nil {
		w.showVaultError(err.Error())
		return
	}
	p := api.VaultUnlockParams{Passphrase: v.pass.Text, Remember: v.remember.Checked}
	v.errLabel.Hide()
	w.setVaultBusy(true)
	go func() {
		// Creating seals everything stored so far, which takes a moment on
		// a state dir with history.
		ctx, cancel := context.WithTimeout(w.ctx, saveTimeout)
		defer cancel()
		st, err := w.opts.Vault.VaultCreate(ctx, p)
		if err != nil {
			// The vault may exist after all: created from the CLI meanwhile,
			// or the answer was lost.
			if cur, serr := w.opts.Vault.VaultStatus(ctx); serr == nil && cur.State != api.VaultNone && cur.State != "" {
				st, err = cur, nil
			}
		}
		w.ui.post(w.ctx, func() {
			w.setVaultBusy(false)
			if err != nil {
				w.log.Warn("create vault", "err", err)
				w.showVaultError("Genos could not protect your data. " + userMessage(err))
				return
			}
			// Do not keep the passphrase in the UI longer than needed.
			v.pass.SetText("")
			v.confirm.SetText("")
			if w.opts.OnVaultCreated != nil {
				w.opts.OnVaultCreated(st)
			}
			w.title.SetText("Choose a model")
			w.step.Show()
			w.showPage(w.modelPage)
		})
	}()
}

func (w *Onboarding) setVaultBusy(busy bool) {
	v := &w.vault
	for _, d := range []fyne.Disableable{v.pass, v.confirm, v.remember, v.create} {
		if busy {
			d.Disable()
		} else {
			d.Enable()
		}
	}
	if busy {
		v.progress.Show()
		v.progress.Start()
	} else {
		v.progress.Stop()
		v.progress.Hide()
	}
	w.fit()
}
