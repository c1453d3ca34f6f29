package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"

	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/app/windows"
	"github.com/genos-project/genos/assets"
	"github.com/genos-project/genos/core/api"
)

const (
	statusEvery   = 5 * time.Second
	statusTimeout = 5 * time.Second
)

// ui is the app's controller. Fields below the mutex are touched only on
// the UI goroutine (tray actions, fyne.Do callbacks).
type ui struct {
	ctx  context.Context
	app  fyne.App
	opts Options
	log  *slog.Logger
	hub  *hub
	wg   sync.WaitGroup
	// refresh asks the status poller for an early update; buffered 1 so
	// bursts of events coalesce into one status call.
	refresh chan struct{}
	// fx serialises UI work handed over from goroutines, shared with the
	// windows.
	fx *windows.UI
	// needVault asks the status poller to fetch vault.status: after a
	// (re)connect, or when status shows a vault state the app missed.
	needVault atomic.Bool
	// needChannels asks the status poller to fetch the channels' states
	// and pending pairings: after a (re)connect, an unlock or a pairing
	// event.
	needChannels atomic.Bool
	// vaultGen counts vault states applied, so a status answer that was in
	// flight while a newer state arrived does not undo it.
	vaultGen atomic.Uint64

	state      tray.State
	rendered   []tray.Item
	sessionKey string
	wantChat   bool
	chat       *windows.Chat
	// trayHost reports whether a tray is there to reopen windows from.
	trayHost   bool
	approvals  *windows.Approvals
	channels   *windows.Channels
	pairing    *windows.Pairing
	onboarding *windows.Onboarding
	unlock     *windows.Unlock
	// vaultSeen reports whether the vault state was known once: the unlock
	// window opens by itself only for the state found at start, not when
	// the vault locks later while the user is away.
	vaultSeen bool
	// vaultWarning is the last vault warning shown, so each is said once.
	vaultWarning string
}

func newUI(ctx context.Context, a fyne.App, o Options, fx *windows.UI) *ui {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &ui{ctx: ctx, app: a, opts: o, log: log, refresh: make(chan struct{}, 1), fx: fx, trayHost: true}
	u.state.Version = o.Version
	u.hub = newHub(o.Connect, log)
	u.hub.onUp = func() {
		u.do(func() {
			u.state.Connected, u.state.Err = true, ""
			u.renderTray()
			if u.chat != nil {
				u.chat.Reload()
			}
			if u.approvals != nil {
				u.approvals.Reload()
			}
			u.reloadChannelWindows()
		})
		u.needVault.Store(true)
		u.needChannels.Store(true)
		u.poke()
	}
	u.hub.onDown = func(err error) {
		u.do(func() {
			u.state.Connected, u.state.Err = false, connErrText(err)
			u.renderTray()
		})
	}
	return u
}

// do runs f on the UI goroutine, one callback at a time, unless the app is
// shutting down.
func (u *ui) do(f func()) {
	if u.ctx.Err() == nil {
		u.fx.Do(f)
	}
}

// start installs the tray, opens the first window and starts the
// connection, the event watcher and the status poller.
func (u *ui) start() {
	if desk, ok := u.app.(desktop.App); ok {
		desk.SetSystemTrayIcon(trayIcon())
	}
	u.renderTray()
	switch {
	case u.opts.NeedsOnboarding:
		u.openOnboarding()
	case runtime.GOOS != "darwin":
		// Linux desktops often show no tray at all (GNOME without an
		// extension), so start with the chat rather than nothing.
		u.openChat()
	}
	events, _ := u.hub.Subscribe(256) // ends when the hub closes
	u.wg.Add(3)
	go func() { defer u.wg.Done(); u.hub.run(u.ctx) }()
	go func() { defer u.wg.Done(); u.watch(events) }()
	go func() { defer u.wg.Done(); u.pollStatus() }()
}

// wait returns once the goroutines started by start have ended.
func (u *ui) wait() { u.wg.Wait() }

func (u *ui) poke() {
	select {
	case u.refresh <- struct{}{}:
	default:
	}
}

// watch turns events into tray refreshes and approval and pairing
// notifications.
func (u *ui) watch(events <-chan api.Frame) {
	for f := range events {
		switch f.Event {
		case api.EventApprovalRequested:
			u.notifyApproval(f)
			u.poke()
		case api.EventApprovalResolved:
			u.poke()
		case api.EventChat, api.EventAgent:
			u.poke()
		case api.EventChannelsChanged:
			var st api.ChannelsStatusResult
			if err := decodePayload(f, &st); err != nil {
				u.log.Warn("bad channels event", "err", err)
				continue
			}
			u.do(func() { u.applyChannels(st) })
		case api.EventPairingRequested:
			u.notifyPairing(f)
			u.askChannels()
		case api.EventPairingResolved:
			u.askChannels()
		case api.EventVaultChanged:
			var st api.VaultStatus
			if err := decodePayload(f, &st); err != nil {
				u.log.Warn("bad vault event", "err", err)
				continue
			}
			u.do(func() { u.applyVault(st) })
			u.poke() // model and approvals are known again after an unlock
		}
	}
}

func (u *ui) notifyApproval(f api.Frame) {
	var a api.Approval
	if err := decodePayload(f, &a); err != nil {
		u.log.Warn("bad approval event", "err", err)
		return
	}
	who := a.AgentID
	if who == "" {
		who = "An agent"
	}
	// Arguments stay out of the notification: it may be shown on a locked
	// screen.
	n := fyne.NewNotification("Genos needs your approval",
		fmt.Sprintf("%s wants to run %s. Open Approvals in the Genos menu to decide.", who, a.Tool))
	u.do(func() { u.app.SendNotification(n) })
}

// pollStatus refreshes the tray from status every few seconds and when
// poked.
func (u *ui) pollStatus() {
	t := time.NewTicker(statusEvery)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
		case <-u.refresh:
		}
		if u.needVault.Swap(false) {
			u.fetchVault()
		}
		gen := u.vaultGen.Load()
		ctx, cancel := context.WithTimeout(u.ctx, statusTimeout)
		st, err := u.hub.Status(ctx)
		cancel()
		if err != nil {
			if !errors.Is(err, api.ErrClosed) && u.ctx.Err() == nil {
				u.log.Warn("status", "err", err)
			}
			continue
		}
		u.do(func() { u.applyStatus(st, gen) })
		if u.needChannels.Swap(false) {
			u.fetchChannels()
		}
	}
}

// applyStatus takes a status answer asked when vaultGen was gen.
func (u *ui) applyStatus(st api.StatusResult, gen uint64) {
	u.state.Connected, u.state.Err = true, ""
	if st.Vault != "" && st.Vault != u.state.Vault && gen == u.vaultGen.Load() {
		// A vault.changed was missed (or none came yet): take the state
		// now and its details with the next poll.
		u.needVault.Store(true)
		u.poke()
		u.applyVault(api.VaultStatus{State: st.Vault})
	}
	if u.state.Locked() || st.Vault == api.VaultLocked {
		// Model, approvals and agents read as zero while locked; keep what
		// was known so the menu does not flash "no model" after unlocking.
		u.renderTray()
		return
	}
	u.state.Model = st.Model
	u.state.ModelConfigured = st.ModelConfigured
	u.state.PendingApprovals = st.PendingApprovals
	u.state.ActiveRuns = st.ActiveRuns
	if u.sessionKey == "" {
		id := st.DefaultAgent.ID
		if id == "" {
			id = "main"
		}
		u.sessionKey = "agent:" + id + ":main"
	}
	if u.wantChat {
		u.openChat()
	}
	u.renderTray()
}

// renderTray rebuilds the tray menu when its model changed.
func (u *ui) renderTray() {
	items := tray.Menu(u.state)
	if slices.Equal(items, u.rendered) {
		return
	}
	u.rendered = items
	if desk, ok := u.app.(desktop.App); ok {
		desk.SetSystemTrayMenu(buildMenu(items, u.action))
	}
}

// buildMenu renders the tray model as a Fyne menu.
func buildMenu(items []tray.Item, action func(id string)) *fyne.Menu {
	out := make([]*fyne.MenuItem, 0, len(items))
	for _, it := range items {
		if it.Separator {
			out = append(out, fyne.NewMenuItemSeparator())
			continue
		}
		id := it.ID
		m := fyne.NewMenuItem(it.Label, func() { action(id) })
		m.Disabled = it.Disabled
		// The systray appends its own Quit unless the last item is one.
		m.IsQuit = id == tray.IDQuit
		out = append(out, m)
	}
	return fyne.NewMenu("Genos", out...)
}

// action runs a tray item on the UI goroutine.
func (u *ui) action(id string) {
	switch id {
	case tray.IDChat:
		u.openChat()
	case tray.IDApprovals:
		u.openApprovals()
	case tray.IDChannels:
		u.openChannels()
	case tray.IDPairing:
		u.openPairing()
	case tray.IDSetup:
		u.openOnboarding()
	case tray.IDLock:
		u.lockNow()
	case tray.IDUnlock:
		u.openUnlock()
	case tray.IDQuit:
		u.quit()
	}
}

// openChat shows the chat, or the unlock window while the vault is locked:
// the chat opens once the vault is unlocked.
func (u *ui) openChat() {
	if u.state.Locked() {
		u.wantChat = true
		u.openUnlock()
		return
	}
	if u.chat == nil {
		if u.sessionKey == "" {
			u.wantChat = true // opened once status names the default agent
			return
		}
		opts := windows.ChatOptions{
			SessionKey:      u.sessionKey,
			Title:           "Genos",
			OnOpenApprovals: u.openApprovals,
			OnUnlock:        u.openUnlock,
			Logger:          u.log,
			UI:              u.fx,
		}
		if !u.trayHost {
			// Hiding the only window would leave Genos running where the
			// user cannot reach it (and holding the state dir's lock).
			opts.OnClose = u.quit
		}
		u.chat = windows.NewChat(u.ctx, u.app, u.hub, opts)
		if desk, ok := u.app.(desktop.App); ok {
			// A left click on the tray icon then opens the chat where the
			// platform supports it; the menu stays on the right click.
			desk.SetSystemTrayWindow(u.chat.Window())
		}
	}
	u.wantChat = false
	u.chat.Show()
}

func (u *ui) openApprovals() {
	if u.state.Locked() {
		u.openUnlock() // approvals cannot be read while locked
		return
	}
	if u.approvals == nil {
		u.approvals = windows.NewApprovals(u.ctx, u.app, u.hub, windows.ApprovalsOptions{Logger: u.log, UI: u.fx})
	}
	u.approvals.Show()
}

func (u *ui) openOnboarding() {
	if u.onboarding == nil {
		opts := windows.OnboardingOptions{
			Save: func(ctx context.Context, s windows.Setup) error {
				return u.opts.SaveSetup(ctx, Setup(s))
			},
			OnDone:         u.setupDone,
			Vault:          u.hub,
			OnVaultCreated: u.applyVault,
			Logger:         u.log,
			UI:             u.fx,
		}
		if probe := u.opts.ProbeLocal; probe != nil {
			opts.Probe = func(ctx context.Context) (windows.LocalServer, bool) {
				s, ok := probe(ctx)
				return windows.LocalServer(s), ok
			}
		}
		u.onboarding = windows.NewOnboarding(u.ctx, u.app, opts)
	}
	u.onboarding.Show()
}

// setupDone runs after a successful save: refresh the tray and open the chat.
func (u *ui) setupDone() {
	u.poke()
	u.openChat()
}

func (u *ui) quit() {
	if u.opts.OnQuit != nil {
		u.opts.OnQuit()
	}
	u.app.Quit()
}

// trayIcon picks the macOS template image, which the menu bar recolours,
// and the colour icon elsewhere, where a black glyph would vanish on a dark
// panel. Fyne marks a tray icon as a template when it is a ThemedResource.
func trayIcon() fyne.Resource {
	if runtime.GOOS == "darwin" {
		return theme.NewThemedResource(fyne.NewStaticResource("genos-tray.png", assets.TrayIcon))
	}
	return fyne.NewStaticResource("genos-tray.png", assets.TrayIconColor)
}

// connErrText says briefly, for the tray's status line, why the app is not
// connected.
func connErrText(err error) string {
	var shape *api.ErrorShape
	switch {
	case errors.As(err, &shape) && shape.Code == api.CodeUnauthorized:
		return "the gateway refused the token"
	case errors.As(err, &shape) && shape.Message != "":
		return shape.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "the daemon did not answer"
	default:
		return "cannot reach the daemon, retrying"
	}
}

// decodePayload decodes an event's payload into v.
func decodePayload(f api.Frame, v any) error {
	if err := json.Unmarshal(f.Payload, v); err != nil {
		return fmt.Errorf("decode %s event: %w", f.Event, err)
	}
	return nil
}
