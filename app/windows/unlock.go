package windows

import (
	"context"
	"fmt"
	"log/slog"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/api"
)

// UnlockOptions configures the unlock window.
type UnlockOptions struct {
	// OnUnlocked runs on the UI goroutine after the vault unlocked, once
	// the window is hidden, with the daemon's new vault status.
	OnUnlocked func(api.VaultStatus)
	// Logger receives diagnostics; the passphrase is never logged.
	Logger *slog.Logger
	// UI serialises widget updates; nil gives the window its own. Share
	// the app's.
	UI *UI
}

// Unlock is the window asking for the vault passphrase.
type Unlock struct {
	ctx    context.Context
	cancel context.CancelFunc
	client UnlockClient
	opts   UnlockOptions
	log    *slog.Logger
	ui     *UI

	win      fyne.Window
	pass     *widget.Entry
	remember *widget.Check
	queued   *widget.Label
	errLabel *widget.Label
	progress *widget.ProgressBarInfinite
	button   *widget.Button
	busy     bool
	shown    bool
}

// NewUnlock builds the unlock window; Show shows it. It lives until ctx is
// done or Close is called; closing it with the title bar only hides it.
func NewUnlock(ctx context.Context, a fyne.App, c UnlockClient, opts UnlockOptions) *Unlock {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Unlock{ctx: ctx, cancel: cancel, client: c, opts: opts, log: log, ui: orNewUI(opts.UI)}
	w.build(a)
	return w
}

func (w *Unlock) build(a fyne.App) {
	w.win = a.NewWindow("Unlock Genos")
	w.win.SetCloseIntercept(w.Hide)

	title := widget.NewLabelWithStyle("Genos is locked", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	intro := widget.NewLabel("Enter your passphrase to open your conversations, memory and keys.")
	intro.Wrapping = fyne.TextWrapWord
	w.queued = widget.NewLabel("")
	w.queued.Wrapping = fyne.TextWrapWord
	w.queued.Hide()

	w.pass = widget.NewPasswordEntry()
	w.pass.SetPlaceHolder("Passphrase")
	w.pass.OnSubmitted = func(string) { w.submit() }
	w.remember = widget.NewCheck(rememberLabel(), nil)
	hint := newCaption(rememberHint())

	w.errLabel = widget.NewLabel("")
	w.errLabel.Wrapping = fyne.TextWrapWord
	w.errLabel.Importance = widget.DangerImportance
	w.errLabel.Hide()
	w.progress = widget.NewProgressBarInfinite()
	w.progress.Stop()
	w.progress.Hide()
	w.button = widget.NewButtonWithIcon("Unlock", theme.LoginIcon(), w.submit)
	w.button.Importance = widget.HighImportance

	content := container.NewVBox(title, intro, w.queued, w.pass, w.errLabel, w.remember, hint, w.progress,
		container.NewHBox(layout.NewSpacer(), w.button))
	w.win.SetContent(container.NewPadded(content))
	w.win.Resize(fyne.NewSize(440, 0))
	w.win.Canvas().Focus(w.pass)
}

// Show shows the window with the cursor in the passphrase field.
func (w *Unlock) Show() {
	w.shown = true
	w.win.Show()
	w.win.RequestFocus()
	w.win.Canvas().Focus(w.pass)
}

// Hide hides the window and forgets what was typed, e.g. when the vault was
// unlocked elsewhere (the CLI, a key store).
func (w *Unlock) Hide() {
	w.shown = false
	w.pass.SetText("")
	w.errLabel.Hide()
	w.win.Hide()
}

// Visible reports whether the window is shown.
func (w *Unlock) Visible() bool { return w.shown }

// Window returns the underlying Fyne window.
func (w *Unlock) Window() fyne.Window { return w.win }

// Close destroys the window. Call it on the UI goroutine.
func (w *Unlock) Close() {
	w.cancel()
	w.win.Close()
}

// SetStatus shows what waits for the unlock, from the daemon's vault
// status.
func (w *Unlock) SetStatus(st api.VaultStatus) {
	switch n := st.QueuedInbound; {
	case n == 1:
		w.queued.SetText("1 message arrived while Genos was locked. Genos answers it after you unlock.")
		w.queued.Show()
	case n > 1:
		w.queued.SetText(fmt.Sprintf("%d messages arrived while Genos was locked. Genos answers them after you unlock.", n))
		w.queued.Show()
	default:
		w.queued.Hide()
	}
	w.fit()
}

func (w *Unlock) submit() {
	if w.busy {
		return
	}
	pass := w.pass.Text
	if pass == "" {
		w.showError("Enter your passphrase.")
		return
	}
	p := api.VaultUnlockParams{Passphrase: pass, Remember: w.remember.Checked}
	w.errLabel.Hide()
	w.setBusy(true)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		st, err := w.client.VaultUnlock(ctx, p)
		w.ui.post(w.ctx, func() {
			w.setBusy(false)
			switch {
			case err == nil:
				w.Hide()
				if w.opts.OnUnlocked != nil {
					w.opts.OnUnlocked(st)
				}
			case isWrongPassphrase(err):
				w.pass.SetText("")
				w.showError("That passphrase is not correct. Please try again.")
			default:
				w.log.Warn("unlock vault", "err", err)
				w.showError("Genos could not unlock. " + userMessage(err))
			}
		})
	}()
}

// showError shows msg below the field and puts the cursor back there, so
// the user can type again at once.
func (w *Unlock) showError(msg string) {
	w.errLabel.SetText(msg)
	w.errLabel.Show()
	w.fit()
	w.win.Canvas().Focus(w.pass)
}

func (w *Unlock) fit() { fitWindow(w.win) }

// setBusy disables the button while the daemon derives the key (PBKDF2
// takes a noticeable moment), so a double press does not send two unlocks.
// The field stays enabled to keep its focus.
func (w *Unlock) setBusy(busy bool) {
	w.busy = busy
	if busy {
		w.button.Disable()
		w.remember.Disable()
		w.progress.Show()
		w.progress.Start()
	} else {
		w.button.Enable()
		w.remember.Enable()
		w.progress.Stop()
		w.progress.Hide()
	}
	w.fit()
}
