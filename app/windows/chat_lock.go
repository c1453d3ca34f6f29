package windows

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// lockedText is the chat's line while the vault is locked: the daemon then
// refuses every chat call, and a raw error would not say what to do.
const lockedText = "Genos is locked. Unlock it to see and continue this conversation."

// newLockBar builds the hidden line shown while the vault is locked, with
// an "Unlock…" button when the app can open its unlock window.
func (w *Chat) newLockBar() *fyne.Container {
	l := widget.NewLabelWithStyle(lockedText, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.WarningImportance
	var right fyne.CanvasObject
	if w.opts.OnUnlock != nil {
		btn := widget.NewButtonWithIcon("Unlock…", theme.LoginIcon(), w.opts.OnUnlock)
		btn.Importance = widget.HighImportance
		right = container.NewCenter(btn)
	}
	bar := container.NewBorder(nil, nil, container.NewCenter(widget.NewIcon(theme.WarningIcon())), right, l)
	bar.Hide()
	return bar
}

// SetLocked tells the window whether the vault is locked, as the app learns
// from vault.changed. Unlocking loads the conversation again. Call it on the
// UI goroutine.
func (w *Chat) SetLocked(locked bool) {
	was := w.locked
	w.showLocked(locked)
	if was && !locked {
		w.Reload()
	}
}

// Locked reports whether the window shows the locked line.
func (w *Chat) Locked() bool { return w.locked }

func (w *Chat) showLocked(locked bool) {
	if locked == w.locked {
		return
	}
	w.locked = locked
	if locked {
		w.lockBar.Show()
	} else {
		w.lockBar.Hide()
	}
	w.win.Content().Refresh()
}
