package windows

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// composeEntry is the chat composer: a multi-line entry where Enter sends
// and Shift+Enter starts a new line, the convention of chat apps. Fyne's
// multi-line entry does the opposite, so Return is intercepted here.
type composeEntry struct {
	widget.Entry
	onSend func()
	shift  bool
}

func newComposeEntry(onSend func()) *composeEntry {
	e := &composeEntry{onSend: onSend}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	return e
}

// KeyDown tracks Shift so that TypedKey can tell Enter from Shift+Enter.
func (e *composeEntry) KeyDown(k *fyne.KeyEvent) {
	if isShift(k.Name) {
		e.shift = true
	}
	e.Entry.KeyDown(k)
}

// KeyUp tracks Shift.
func (e *composeEntry) KeyUp(k *fyne.KeyEvent) {
	if isShift(k.Name) {
		e.shift = false
	}
	e.Entry.KeyUp(k)
}

// TypedKey sends on Enter and leaves Shift+Enter to the entry, which then
// inserts a newline because OnSubmitted is unset.
func (e *composeEntry) TypedKey(k *fyne.KeyEvent) {
	if (k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter) && !e.shiftHeld() {
		if e.onSend != nil {
			e.onSend()
		}
		return
	}
	e.Entry.TypedKey(k)
}

// shiftHeld asks the driver as well: a Shift released while another window
// had focus never reaches KeyUp here.
func (e *composeEntry) shiftHeld() bool {
	if app := fyne.CurrentApp(); app != nil {
		if d, ok := app.Driver().(desktop.Driver); ok {
			return d.CurrentKeyModifiers()&fyne.KeyModifierShift != 0
		}
	}
	return e.shift
}

func isShift(k fyne.KeyName) bool {
	return k == desktop.KeyShiftLeft || k == desktop.KeyShiftRight
}

// readOnlyEntry shows text that can be selected, scrolled and copied but not
// changed: approval arguments must be shown exactly as the tool will get them.
// A disabled entry would do, but greys the text out where it matters most.
type readOnlyEntry struct {
	widget.Entry
}

func newReadOnlyEntry(text string) *readOnlyEntry {
	e := &readOnlyEntry{}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapBreak
	e.TextStyle = fyne.TextStyle{Monospace: true}
	e.ExtendBaseWidget(e)
	e.SetText(text)
	return e
}

// TypedRune ignores typing.
func (e *readOnlyEntry) TypedRune(rune) {}

// TypedKey passes navigation keys only.
func (e *readOnlyEntry) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyUp, fyne.KeyDown, fyne.KeyLeft, fyne.KeyRight,
		fyne.KeyHome, fyne.KeyEnd, fyne.KeyPageUp, fyne.KeyPageDown:
		e.Entry.TypedKey(k)
	}
}

// TypedShortcut allows copying and selecting, not cutting, pasting or undo.
func (e *readOnlyEntry) TypedShortcut(s fyne.Shortcut) {
	switch s.(type) {
	case *fyne.ShortcutCopy, *fyne.ShortcutSelectAll:
		e.Entry.TypedShortcut(s)
	}
}
