package app

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"

	"github.com/genos-project/genos/app/windows"
	"github.com/genos-project/genos/core/api"
)

// fetchVault asks vault.status and applies it, asking again with the next
// poll when the daemon could not answer.
func (u *ui) fetchVault() {
	ctx, cancel := context.WithTimeout(u.ctx, statusTimeout)
	defer cancel()
	st, err := u.hub.VaultStatus(ctx)
	switch {
	case err == nil:
		u.do(func() { u.applyVault(st) })
	case api.IsCode(err, api.CodeUnknownMethod):
		// A daemon without a vault: nothing to show.
	case errors.Is(err, api.ErrClosed):
		// Not connected: the next connection asks again.
	default:
		if u.ctx.Err() == nil {
			u.log.Warn("vault status", "err", err)
			u.needVault.Store(true)
		}
	}
}

// applyVault takes a new vault state: it updates the tray, tells the open
// windows, opens the unlock window when Genos starts locked, and carries on
// with what waited for the unlock.
func (u *ui) applyVault(st api.VaultStatus) {
	u.vaultGen.Add(1)
	prev := u.state.Vault
	first := !u.vaultSeen
	// "unlocking" is not an answer yet: the first real state decides
	// whether the unlock window opens by itself.
	u.vaultSeen = st.State != api.VaultUnlocking
	u.state.Vault, u.state.QueuedInbound = st.State, st.QueuedInbound
	if st.Warning != "" && st.Warning != u.vaultWarning {
		// Said once per distinct problem, not on every status poll.
		u.app.SendNotification(fyne.NewNotification("Genos", st.Warning))
	}
	u.vaultWarning = st.Warning
	locked := st.State == api.VaultLocked
	if u.chat != nil {
		u.chat.SetLocked(locked)
	}
	if u.unlock != nil {
		u.unlock.SetStatus(st)
	}
	switch {
	case locked && first:
		u.openUnlock()
	case !locked && prev == api.VaultLocked:
		if u.unlock != nil && u.unlock.Visible() {
			u.unlock.Hide() // unlocked elsewhere: the CLI or a key store
		}
		if u.approvals != nil {
			u.approvals.Reload()
		}
		u.reloadChannelWindows()
		u.needChannels.Store(true) // pairings cannot be read while locked
		u.poke()
		if u.wantChat && u.sessionKey != "" {
			u.openChat()
		}
	}
	u.renderTray()
}

// openUnlock shows the unlock window, built on first use.
func (u *ui) openUnlock() {
	if u.unlock == nil {
		u.unlock = windows.NewUnlock(u.ctx, u.app, u.hub, windows.UnlockOptions{
			OnUnlocked: u.applyVault,
			Logger:     u.log,
			UI:         u.fx,
		})
	}
	u.unlock.SetStatus(api.VaultStatus{State: u.state.Vault, QueuedInbound: u.state.QueuedInbound})
	u.unlock.Show()
}

// lockNow locks the vault from the tray. The vault.changed event updates
// the menu as well; applying the answer makes it immediate.
func (u *ui) lockNow() {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		ctx, cancel := context.WithTimeout(u.ctx, statusTimeout)
		defer cancel()
		st, err := u.hub.VaultLock(ctx)
		if err != nil {
			u.log.Warn("lock vault", "err", err)
			n := fyne.NewNotification("Genos could not lock", "Genos did not lock. Please try again from the Genos menu.")
			u.do(func() { u.app.SendNotification(n) })
			return
		}
		u.do(func() { u.applyVault(st) })
	}()
}
