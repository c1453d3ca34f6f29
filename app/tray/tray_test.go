package tray

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

func TestMenu(t *testing.T) {
	t.Parallel()
	sep := Item{Separator: true}
	quit := Item{ID: IDQuit, Label: "Quit Genos"}
	tests := []struct {
		name  string
		state State
		want  []Item
	}{
		{
			name:  "ready with a model",
			state: State{Connected: true, Model: "gpt-4o-mini", ModelConfigured: true, Version: "0.1.0"},
			want: []Item{
				{ID: IDStatus, Label: "Genos — ready · gpt-4o-mini", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep, quit,
			},
		},
		{
			name:  "pending approvals are counted",
			state: State{Connected: true, Model: "m", ModelConfigured: true, PendingApprovals: 3},
			want: []Item{
				{ID: IDStatus, Label: "Genos — ready · m", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals (3)"},
				{ID: IDChannels, Label: "Channels…"},
				sep, quit,
			},
		},
		{
			name:  "thinking while runs are active",
			state: State{Connected: true, Model: "m", ModelConfigured: true, ActiveRuns: 2, PendingApprovals: 1},
			want: []Item{
				{ID: IDStatus, Label: "Genos — thinking…", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals (1)"},
				{ID: IDChannels, Label: "Channels…"},
				sep, quit,
			},
		},
		{
			name:  "no model offers setup",
			state: State{Connected: true},
			want: []Item{
				{ID: IDStatus, Label: "Genos — no model configured", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				{ID: IDSetup, Label: "Set Up Model…"},
				sep, quit,
			},
		},
		{
			name:  "configured without a model name",
			state: State{Connected: true, ModelConfigured: true},
			want: []Item{
				{ID: IDStatus, Label: "Genos — ready", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep, quit,
			},
		},
		{
			name:  "not connected disables the daemon entries",
			state: State{Err: "gateway refused the token", PendingApprovals: 4},
			want: []Item{
				{ID: IDStatus, Label: "Genos — not connected: gateway refused the token", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat", Disabled: true},
				{ID: IDApprovals, Label: "Approvals (4)", Disabled: true},
				{ID: IDChannels, Label: "Channels…", Disabled: true},
				sep, quit,
			},
		},
		{
			name:  "unlocked vault offers locking",
			state: State{Connected: true, Model: "m", ModelConfigured: true, Vault: api.VaultUnlocked},
			want: []Item{
				{ID: IDStatus, Label: "Genos — ready · m", Disabled: true},
				{ID: IDVault, Label: "Unlocked", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep,
				{ID: IDLock, Label: "Lock Now"},
				quit,
			},
		},
		{
			name:  "unlocking from a key source offers neither setup nor lock",
			state: State{Connected: true, Vault: api.VaultUnlocking},
			want: []Item{
				{ID: IDStatus, Label: "Genos — unlocking…", Disabled: true},
				{ID: IDVault, Label: "Unlocking…", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep, quit,
			},
		},
		{
			// Status reads model and approvals as zero while locked: no
			// "no model" line and no setup offer.
			name:  "locked vault offers unlocking",
			state: State{Connected: true, Vault: api.VaultLocked},
			want: []Item{
				{ID: IDStatus, Label: "Genos — paused until you unlock", Disabled: true},
				{ID: IDVault, Label: "Locked", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep,
				{ID: IDUnlock, Label: "Unlock…"},
				quit,
			},
		},
		{
			name:  "locked with queued messages",
			state: State{Connected: true, Vault: api.VaultLocked, QueuedInbound: 1},
			want: []Item{
				{ID: IDStatus, Label: "Genos — paused until you unlock", Disabled: true},
				{ID: IDVault, Label: "Locked · 1 message waiting", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep,
				{ID: IDUnlock, Label: "Unlock…"},
				quit,
			},
		},
		{
			name:  "no vault yet shows nothing about it",
			state: State{Connected: true, Model: "m", ModelConfigured: true, Vault: api.VaultNone},
			want: []Item{
				{ID: IDStatus, Label: "Genos — ready · m", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDChannels, Label: "Channels…"},
				sep, quit,
			},
		},
		{
			name:  "vault state is not shown while not connected",
			state: State{Err: "daemon stopped", Vault: api.VaultLocked},
			want: []Item{
				{ID: IDStatus, Label: "Genos — not connected: daemon stopped", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat", Disabled: true},
				{ID: IDApprovals, Label: "Approvals", Disabled: true},
				{ID: IDChannels, Label: "Channels…", Disabled: true},
				sep, quit,
			},
		},
		{
			name: "a line per configured channel, sorted, and pending pairings",
			state: State{Connected: true, Model: "m", ModelConfigured: true, Vault: api.VaultUnlocked, PendingPairings: 2,
				Channels: []chat.ChannelStatus{
					{Channel: "whatsapp", State: chat.ChannelReconnecting, Reason: "connection lost"},
					{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"},
				}},
			want: []Item{
				{ID: IDStatus, Label: "Genos — ready · m", Disabled: true},
				{ID: IDVault, Label: "Unlocked", Disabled: true},
				{ID: "channel:telegram", Label: "Telegram · connected as @mybot", Disabled: true},
				{ID: "channel:whatsapp", Label: "WhatsApp · reconnecting…", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDPairing, Label: "Pairing Requests (2)"},
				{ID: IDChannels, Label: "Channels…"},
				sep,
				{ID: IDLock, Label: "Lock Now"},
				quit,
			},
		},
		{
			// Adapters keep running while locked; the last known state stays.
			name: "channels stay listed while locked",
			state: State{Connected: true, Vault: api.VaultLocked, PendingPairings: 1,
				Channels: []chat.ChannelStatus{{Channel: "whatsapp", State: chat.ChannelLoginRequired}}},
			want: []Item{
				{ID: IDStatus, Label: "Genos — paused until you unlock", Disabled: true},
				{ID: IDVault, Label: "Locked", Disabled: true},
				{ID: "channel:whatsapp", Label: "WhatsApp · needs login", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat"},
				{ID: IDApprovals, Label: "Approvals"},
				{ID: IDPairing, Label: "Pairing Requests (1)"},
				{ID: IDChannels, Label: "Channels…"},
				sep,
				{ID: IDUnlock, Label: "Unlock…"},
				quit,
			},
		},
		{
			name: "stale channels and pairings are hidden while not connected",
			state: State{Err: "daemon stopped", PendingPairings: 3,
				Channels: []chat.ChannelStatus{{Channel: "telegram", State: chat.ChannelConnected}}},
			want: []Item{
				{ID: IDStatus, Label: "Genos — not connected: daemon stopped", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat", Disabled: true},
				{ID: IDApprovals, Label: "Approvals", Disabled: true},
				{ID: IDChannels, Label: "Channels…", Disabled: true},
				sep, quit,
			},
		},
		{
			name:  "not connected yet",
			state: State{},
			want: []Item{
				{ID: IDStatus, Label: "Genos — not connected: starting…", Disabled: true},
				sep,
				{ID: IDChat, Label: "Open Chat", Disabled: true},
				{ID: IDApprovals, Label: "Approvals", Disabled: true},
				{ID: IDChannels, Label: "Channels…", Disabled: true},
				sep, quit,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Menu(tt.state)); diff != "" {
				t.Errorf("Menu(%+v) mismatch (-want +got):\n%s", tt.state, diff)
			}
		})
	}
}

func TestStatusLineClipsLongErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  string
		want string
	}{
		{"newlines flattened", "dial failed:\n  connection refused", "Genos — not connected: dial failed: connection refused"},
		{"long error clipped", strings.Repeat("é", 100), "Genos — not connected: " + strings.Repeat("é", maxErrRunes-1) + "…"},
		{"blank error", "  \n", "Genos — not connected: starting…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := StatusLine(State{Err: tt.err}); got != tt.want {
				t.Errorf("StatusLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMenuAlwaysEndsWithQuit(t *testing.T) {
	t.Parallel()
	// The Fyne systray adds its own Quit unless the last item is a quit item,
	// so the renderer relies on this invariant.
	for _, s := range []State{{}, {Connected: true}, {Connected: true, ModelConfigured: true, ActiveRuns: 1},
		{Connected: true, Vault: api.VaultLocked}, {Connected: true, Vault: api.VaultUnlocked}} {
		items := Menu(s)
		if last := items[len(items)-1]; last.ID != IDQuit {
			t.Errorf("Menu(%+v) ends with %+v, want the quit item", s, last)
		}
	}
}

func TestChannelLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    chat.ChannelStatus
		want string
	}{
		{"telegram connected", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"},
			"Telegram · connected as @mybot"},
		{"whatsapp connected shows the number", chat.ChannelStatus{Channel: "whatsapp", State: chat.ChannelConnected, Account: "34600111222"},
			"WhatsApp · connected as +34600111222"},
		{"connected without account", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelConnected}, "Telegram · connected"},
		{"connecting", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelConnecting}, "Telegram · connecting…"},
		{"reconnecting", chat.ChannelStatus{Channel: "whatsapp", State: chat.ChannelReconnecting, Reason: "network down"},
			"WhatsApp · reconnecting…"},
		{"login required", chat.ChannelStatus{Channel: "whatsapp", State: chat.ChannelLoginRequired}, "WhatsApp · needs login"},
		{"failed with reason", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelFailed, Reason: "Telegram refused the bot token"},
			"Telegram · failed: Telegram refused the bot token"},
		{"failed long reason clipped", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelFailed, Reason: strings.Repeat("x", 80)},
			"Telegram · failed: " + strings.Repeat("x", maxReasonRunes-1) + "…"},
		{"failed without reason", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelFailed}, "Telegram · failed"},
		{"stopped", chat.ChannelStatus{Channel: "telegram", State: chat.ChannelStopped, Reason: "turned off"}, "Telegram · off"},
		{"unknown channel and state", chat.ChannelStatus{Channel: "signal", State: "hibernating"}, "Signal · hibernating"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ChannelLine(tt.c); got != tt.want {
				t.Errorf("ChannelLine(%+v) = %q, want %q", tt.c, got, tt.want)
			}
		})
	}
}
