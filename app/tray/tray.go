// Package tray builds the tray menu model: a pure function from the daemon's
// status to the items the menu shows. Rendering the model with Fyne lives in
// package app, so the model can be table-tested without a display.
package tray

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// Item IDs the renderer maps to actions.
const (
	IDStatus    = "status"
	IDVault     = "vault"
	IDChat      = "chat"
	IDApprovals = "approvals"
	IDPairing   = "pairing"
	IDChannels  = "channels"
	IDSetup     = "setup"
	IDLock      = "lock"
	IDUnlock    = "unlock"
	IDQuit      = "quit"
	// IDChannelPrefix starts the IDs of the disabled per-channel lines,
	// followed by the channel name ("channel:telegram").
	IDChannelPrefix = "channel:"
)

// maxErrRunes bounds the error shown in the status line: tray menus do not
// wrap, and a long error would stretch the whole menu.
const maxErrRunes = 60

// maxReasonRunes bounds the reason shown on a channel line, for the same
// reason.
const maxReasonRunes = 40

// State is what the tray knows about the daemon.
type State struct {
	Connected        bool
	Err              string // why the app is not connected, written for the user
	Model            string
	ModelConfigured  bool
	PendingApprovals int
	ActiveRuns       int
	Version          string
	// Vault is api.VaultNone, api.VaultLocked, api.VaultUnlocked, or ""
	// while unknown (not asked yet, or a daemon without a vault).
	Vault string
	// QueuedInbound counts channel messages held while locked.
	QueuedInbound int
	// Channels is the last known state of each configured channel. It
	// stays as it was while the vault is locked: adapters keep running
	// (messages are queued), but channels.status cannot be asked.
	Channels []chat.ChannelStatus
	// PendingPairings counts strangers waiting for the owner's approval.
	PendingPairings int
}

// Locked reports whether the daemon is connected and its vault is locked,
// so nothing but unlocking can be done.
func (s State) Locked() bool { return s.Connected && s.Vault == api.VaultLocked }

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
// of leaving a dead entry. While the vault is locked, chat and approvals stay
// enabled too: the app answers them with the unlock window, which says why.
// Nothing about the vault shows before one exists: onboarding offers to
// create it. Each configured channel gets a disabled line saying whether it
// works; "Pairing Requests" shows only while strangers wait, since there
// is nothing to do there otherwise, while "Channels…" is always there as the
// way to set channels up.
func Menu(s State) []Item {
	items := []Item{{ID: IDStatus, Label: StatusLine(s), Disabled: true}}
	if line := vaultLine(s); line != "" {
		items = append(items, Item{ID: IDVault, Label: line, Disabled: true})
	}
	if s.Connected {
		// Stale while disconnected, so shown only when connected.
		for _, c := range sortedChannels(s.Channels) {
			items = append(items, Item{ID: IDChannelPrefix + c.Channel, Label: ChannelLine(c), Disabled: true})
		}
	}
	items = append(items,
		Item{Separator: true},
		Item{ID: IDChat, Label: "Open Chat", Disabled: !s.Connected},
		Item{ID: IDApprovals, Label: approvalsLabel(s.PendingApprovals), Disabled: !s.Connected},
	)
	if s.Connected && s.PendingPairings > 0 {
		items = append(items, Item{ID: IDPairing, Label: fmt.Sprintf("Pairing Requests (%d)", s.PendingPairings)})
	}
	items = append(items, Item{ID: IDChannels, Label: "Channels…", Disabled: !s.Connected})
	// While locked the daemon cannot tell whether a model is set up.
	if s.Connected && !s.ModelConfigured && !s.Locked() && s.Vault != api.VaultUnlocking {
		items = append(items, Item{ID: IDSetup, Label: "Set Up Model…"})
	}
	items = append(items, Item{Separator: true})
	if s.Connected {
		switch s.Vault {
		case api.VaultUnlocked:
			items = append(items, Item{ID: IDLock, Label: "Lock Now"})
		case api.VaultLocked:
			items = append(items, Item{ID: IDUnlock, Label: "Unlock…"})
		}
	}
	return append(items, Item{ID: IDQuit, Label: "Quit Genos"})
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
	case s.Locked():
		return "Genos — paused until you unlock"
	case s.Vault == api.VaultUnlocking:
		return "Genos — unlocking…"
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

// vaultLine is the disabled line saying whether the data is locked, or ""
// when there is no vault (or its state is unknown).
func vaultLine(s State) string {
	if !s.Connected {
		return ""
	}
	switch s.Vault {
	case api.VaultUnlocked:
		return "Unlocked"
	case api.VaultUnlocking:
		return "Unlocking…"
	case api.VaultLocked:
		if s.QueuedInbound > 0 {
			return fmt.Sprintf("Locked · %d message%s waiting", s.QueuedInbound, plural(s.QueuedInbound))
		}
		return "Locked"
	}
	return ""
}

// ChannelLine is the disabled tray line of one channel, e.g.
// "Telegram · connected as @mybot" or "WhatsApp · needs login".
func ChannelLine(c chat.ChannelStatus) string {
	name := ChannelName(c.Channel)
	switch c.State {
	case chat.ChannelConnected:
		if acc := Account(c); acc != "" {
			return name + " · connected as " + clip(acc, maxReasonRunes)
		}
		return name + " · connected"
	case chat.ChannelConnecting:
		return name + " · connecting…"
	case chat.ChannelReconnecting:
		return name + " · reconnecting…"
	case chat.ChannelLoginRequired:
		return name + " · needs login"
	case chat.ChannelFailed:
		if r := strings.TrimSpace(c.Reason); r != "" {
			return name + " · failed: " + clip(r, maxReasonRunes)
		}
		return name + " · failed"
	case chat.ChannelStopped:
		return name + " · off"
	}
	// A state this build does not know yet: say it as the daemon does.
	return name + " · " + clip(string(c.State), maxReasonRunes)
}

// ChannelName is how a channel is named to people: "telegram" becomes
// "Telegram", "whatsapp" "WhatsApp".
func ChannelName(channel string) string {
	switch channel {
	case "telegram":
		return "Telegram"
	case "whatsapp":
		return "WhatsApp"
	case "":
		return "Unknown channel"
	}
	r := []rune(channel)
	if r[0] >= 'a' && r[0] <= 'z' {
		r[0] -= 'a' - 'A'
	}
	return string(r)
}

// Account is the channel's account as people know it: the bot's @name on
// Telegram, the phone number with a leading + on WhatsApp.
func Account(c chat.ChannelStatus) string {
	acc := strings.TrimSpace(c.Account)
	if c.Channel == "whatsapp" && acc != "" && strings.Trim(acc, "0123456789") == "" {
		return "+" + acc
	}
	return acc
}

// sortedChannels orders channels by name so the menu does not reshuffle
// when the daemon lists running channels before stopped ones.
func sortedChannels(cs []chat.ChannelStatus) []chat.ChannelStatus {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b chat.ChannelStatus) int { return cmp.Compare(a.Channel, b.Channel) })
	return out
}

func approvalsLabel(n int) string {
	if n <= 0 {
		return "Approvals"
	}
	return fmt.Sprintf("Approvals (%d)", n)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
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
