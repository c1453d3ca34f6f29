// Package tray builds the tray menu model: a pure function from the daemon's
// status to the items the menu shows. Rendering the model with Fyne lives in
// package app, so the model can be table-tested without a display.
package tray

import (
	"fmt"
	"strings"
)

// Item IDs the renderer maps to actions.
const (
	IDStatus    = "status"
	IDChat      = "chat"
	IDApprovals = "approvals"
	IDSetup     = "setup"
	IDQuit      = "quit"
)

// maxErrRunes bounds the error shown in the status line: tray menus do not
// wrap, and a long error would stretch the whole menu.
const maxErrRunes = 60

// State is what the tray knows about the daemon.
type State struct {
	Connected        bool
	Err              string // why the app is not connected, written for the user
	Model            string
	ModelConfigured  bool
	PendingApprovals int
	ActiveRuns       int
	Version          string
}

// Item is one entry of the tray menu. Separator items carry no ID or label.
type Item struct {
	ID        string
	Label     string
	Disabled  bool
	Separator bool
}

// Menu returns the tray menu for s, top to bottom.
//
// The approvals entry stays enabled with no pending approvals: the window
// then says "No pending approvals", which answers the user's question instead
// of leaving a dead entry.
func Menu(s State) []Item {
	items := []Item{
		{ID: IDStatus, Label: StatusLine(s), Disabled: true},
		{Separator: true},
		{ID: IDChat, Label: "Open Chat", Disabled: !s.Connected},
		{ID: IDApprovals, Label: approvalsLabel(s.PendingApprovals), Disabled: !s.Connected},
	}
	if s.Connected && !s.ModelConfigured {
		items = append(items, Item{ID: IDSetup, Label: "Set Up Model…"})
	}
	return append(items, Item{Separator: true}, Item{ID: IDQuit, Label: "Quit Genos"})
}

// StatusLine is the first, disabled line of the menu, also usable as the
// tray tooltip.
func StatusLine(s State) string {
	switch {
	case !s.Connected:
		msg := strings.TrimSpace(s.Err)
		if msg == "" {
			msg = "starting…"
		}
		return "Genos — not connected: " + clip(msg, maxErrRunes)
	case !s.ModelConfigured:
		return "Genos — no model configured"
	case s.ActiveRuns > 0:
		return "Genos — thinking…"
	case s.Model != "":
		return "Genos — ready · " + s.Model
	default:
		return "Genos — ready"
	}
}

func approvalsLabel(n int) string {
	if n <= 0 {
		return "Approvals"
	}
	return fmt.Sprintf("Approvals (%d)", n)
}

// clip shortens s to at most n runes, marking the cut with an ellipsis, and
// flattens newlines so the line stays one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
