package app

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"

	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/app/windows"
	"github.com/genos-project/genos/core/api"
)

// fetchChannels asks the channels' states and the pending pairing requests
// for the tray. Events keep both current afterwards; this runs after a
// (re)connect, an unlock and each pairing event.
func (u *ui) fetchChannels() {
	ctx, cancel := context.WithTimeout(u.ctx, statusTimeout)
	defer cancel()
	st, err := u.hub.ChannelsStatus(ctx)
	if u.channelsAnswered("channels status", err) {
		u.do(func() { u.applyChannels(st) })
	}
	pl, err := u.hub.PairingList(ctx, api.ChannelParams{})
	if u.channelsAnswered("pairing list", err) {
		u.do(func() {
			u.state.PendingPairings = len(pl.Requests)
			u.renderTray()
		})
	}
}

// channelsAnswered reports whether err is nil; otherwise it logs what needs
// logging and decides whether the next poll asks again.
func (u *ui) channelsAnswered(what string, err error) bool {
	switch {
	case err == nil:
		return true
	case api.IsCode(err, api.CodeUnknownMethod):
		// A daemon without channels: nothing to show.
	case api.IsCode(err, api.CodeLocked):
		// Keep what was known; the unlock asks again.
	case errors.Is(err, api.ErrClosed):
		// Not connected: the next connection asks again.
	default:
		if u.ctx.Err() == nil {
			u.log.Warn(what, "err", err)
			u.needChannels.Store(true)
		}
	}
	return false
}

// applyChannels takes the channels' states from an answer or a
// channels.changed event.
func (u *ui) applyChannels(st api.ChannelsStatusResult) {
	u.state.Channels = st.Channels
	u.renderTray()
}

// askChannels has the status poller fetch channels and pairings soon.
func (u *ui) askChannels() {
	u.needChannels.Store(true)
	u.poke()
}

// notifyPairing tells the owner a stranger waits, so the request is not
// left to expire unseen.
func (u *ui) notifyPairing(f api.Frame) {
	var r api.PairingRequest
	if err := decodePayload(f, &r); err != nil {
		u.log.Warn("bad pairing event", "err", err)
		return
	}
	who := r.PeerName
	if who == "" {
		who = r.Peer
	}
	if who == "" {
		who = "someone"
	}
	n := fyne.NewNotification("Genos", fmt.Sprintf("New pairing request on %s from %s — open Pairing Requests to approve",
		tray.ChannelName(r.Channel), who))
	u.do(func() { u.app.SendNotification(n) })
}

// reloadChannelWindows refreshes the open channel windows after a
// reconnect or an unlock.
func (u *ui) reloadChannelWindows() {
	if u.channels != nil {
		u.channels.Reload()
	}
	if u.pairing != nil {
		u.pairing.Reload()
	}
}

// openChannels shows the channels window, or the unlock window while the
// vault is locked: channel settings live in the vault.
func (u *ui) openChannels() {
	if u.state.Locked() {
		u.openUnlock()
		return
	}
	if u.channels == nil {
		u.channels = windows.NewChannels(u.ctx, u.app, u.hub, windows.ChannelsOptions{Logger: u.log, UI: u.fx})
	}
	u.channels.Show()
}

// openPairing shows the pairing requests, or the unlock window while the
// vault is locked.
func (u *ui) openPairing() {
	if u.state.Locked() {
		u.openUnlock()
		return
	}
	if u.pairing == nil {
		u.pairing = windows.NewPairing(u.ctx, u.app, u.hub, windows.PairingOptions{Logger: u.log, UI: u.fx})
	}
	u.pairing.Show()
}

// The hub serves the channel windows across reconnects.
var (
	_ windows.ChannelsClient = (*hub)(nil)
	_ windows.PairingClient  = (*hub)(nil)
)
