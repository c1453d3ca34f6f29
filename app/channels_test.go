package app

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

func pairingRequest(channel, code, peer, name string) api.PairingRequest {
	now := time.Now()
	return api.PairingRequest{Channel: channel, Code: code, Peer: peer, PeerName: name,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// hasLabels reports whether the tray shows every label of want.
func (a *trayApp) hasLabels(want ...string) bool {
	got := a.labels()
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func TestUITrayShowsChannelsAndPairings(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetChannels([]chat.ChannelStatus{
		{Channel: "whatsapp", State: chat.ChannelReconnecting, Reason: "connection lost"},
		{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"},
	})
	gw.SetPairings([]api.PairingRequest{
		pairingRequest("telegram", "ABCD2345", "12345", "Ana"),
		pairingRequest("whatsapp", "WXYZ6789", "34600999888", ""),
	})
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "channel lines", func() bool {
		return a.hasLabels("Telegram · connected as @mybot", "WhatsApp · reconnecting…", "Pairing Requests (2)", "Channels…")
	})

	// channels.changed updates the lines without asking.
	asked := len(gw.Requests(api.MethodChannelsStatus))
	gw.ChangeChannels([]chat.ChannelStatus{
		{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"},
		{Channel: "whatsapp", State: chat.ChannelLoginRequired},
	})
	waitUI(t, u, "whatsapp needs login", func() bool { return a.hasLabels("WhatsApp · needs login") })
	if n := len(gw.Requests(api.MethodChannelsStatus)); n != asked {
		t.Errorf("channels.status asked %d more times for a channels.changed event that carries the states", n-asked)
	}

	// A resolved pairing lowers the count; the last one removes the item.
	gw.ExpirePairing("whatsapp", "WXYZ6789")
	waitUI(t, u, "one pairing left", func() bool { return a.hasLabels("Pairing Requests (1)") })
	gw.ExpirePairing("telegram", "ABCD2345")
	waitUI(t, u, "no pairing item", func() bool {
		return !slices.ContainsFunc(a.labels(), func(s string) bool { return strings.HasPrefix(s, "Pairing Requests") })
	})
}

func TestUIPairingNotifiesAndOpens(t *testing.T) {
	gw := fakegw.New(t)
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "connected", func() bool { return u.state.Connected && u.sessionKey != "" })

	gw.RequestPairing(pairingRequest("telegram", "ABCD2345", "12345", "Ana"))
	waitUI(t, u, "notification", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.notes) == 1
	})
	a.mu.Lock()
	n := a.notes[0]
	a.mu.Unlock()
	if want := "New pairing request on Telegram from Ana — open Pairing Requests to approve"; n.Content != want {
		t.Errorf("notification = %q, want %q", n.Content, want)
	}
	waitUI(t, u, "pairing counted", func() bool { return a.hasLabels("Pairing Requests (1)") })

	testUI.Locked(func() { u.action(tray.IDPairing) })
	waitUI(t, u, "pairing window", func() bool { return u.pairing != nil })
	gw.WaitRequest(t, api.MethodPairingList, 2) // the tray's, then the window's

	testUI.Locked(func() { u.action(tray.IDChannels) })
	waitUI(t, u, "channels window", func() bool { return u.channels != nil })
	gw.WaitRequest(t, api.MethodChannelsStatus, 2)
}

func TestUIChannelsRefetchedOnReconnect(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetChannels([]chat.ChannelStatus{{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"}})
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "telegram line", func() bool { return a.hasLabels("Telegram · connected as @mybot") })

	// The daemon restarts with the bot failing; no event tells the app.
	gw.SetChannels([]chat.ChannelStatus{{Channel: "telegram", State: chat.ChannelFailed, Reason: "bad token"}})
	gw.DropConnections()
	waitUI(t, u, "state fetched after reconnecting", func() bool { return a.hasLabels("Telegram · failed: bad token") })
}

func TestUIChannelsWhileLocked(t *testing.T) {
	gw := fakegw.New(t)
	gw.SetChannels([]chat.ChannelStatus{{Channel: "telegram", State: chat.ChannelConnected, Account: "@mybot"}})
	gw.SetPairings([]api.PairingRequest{pairingRequest("telegram", "ABCD2345", "12345", "Ana")})
	u, a := startUI(t, gw, Options{})
	waitUI(t, u, "channel line", func() bool { return a.hasLabels("Telegram · connected as @mybot", "Pairing Requests (1)") })

	gw.LockVault()
	waitUI(t, u, "locked", func() bool { return a.hasLabels("Unlock…") })
	// What was known stays: the adapters keep running while locked.
	if !a.hasLabels("Telegram · connected as @mybot", "Pairing Requests (1)") {
		t.Errorf("channel lines lost when locking: %q", a.labels())
	}
	testUI.Locked(func() { u.action(tray.IDChannels) })
	waitUI(t, u, "unlock window instead of channels", func() bool { return u.unlock != nil && u.unlock.Visible() })
	testUI.Locked(func() {
		if u.channels != nil {
			t.Error("the channels window opened while locked")
		}
	})
}
