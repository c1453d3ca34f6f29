package windows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// Channel names as the daemon's config spells them.
const (
	channelTelegram = "telegram"
	channelWhatsApp = "whatsapp"
)

// ChannelsClient is what the channels window needs from the gateway client.
type ChannelsClient interface {
	Subscriber
	ChannelsStatus(ctx context.Context) (api.ChannelsStatusResult, error)
	ChannelsSet(ctx context.Context, p api.ChannelsSetParams) (api.ChannelsStatusResult, error)
	ChannelsLogin(ctx context.Context, p api.ChannelsLoginParams) (api.ChannelsStatusResult, error)
	ChannelsLogout(ctx context.Context, p api.ChannelParams) (api.ChannelsStatusResult, error)
}

// ChannelsOptions configures the channels window.
type ChannelsOptions struct {
	// Logger receives diagnostics; bot tokens and QR codes are never
	// logged.
	Logger *slog.Logger
	// UI serialises widget updates; nil gives the window its own. Share
	// the app's.
	UI *UI
}

// Channels is the window where the owner connects messaging apps: a bot
// token for Telegram, a QR code scanned with the phone for WhatsApp.
type Channels struct {
	ctx    context.Context
	cancel context.CancelFunc
	client ChannelsClient
	log    *slog.Logger
	ui     *UI
	unsub  func()
	gen    atomic.Uint64 // latest Reload; older answers are dropped

	win      fyne.Window
	status   *widget.Label // why the list could not be loaded
	statuses map[string]chat.ChannelStatus
	loaded   bool // a channels.status answer arrived
	tg       telegramSection
	wa       whatsappSection
}

// telegramSection holds the Telegram card's widgets.
type telegramSection struct {
	state *widget.Label
	token *widget.Entry
	save  *widget.Button
	off   *widget.Button
	msg   *widget.Label
	busy  bool
}

// NewChannels builds the channels window, subscribes to channel events and
// loads the channels' states. It lives until ctx is done or Close is
// called; closing it with the title bar only hides it.
func NewChannels(ctx context.Context, a fyne.App, c ChannelsClient, opts ChannelsOptions) *Channels {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Channels{ctx: ctx, cancel: cancel, client: c, log: log, ui: orNewUI(opts.UI),
		statuses: make(map[string]chat.ChannelStatus)}
	w.build(a)
	events, unsub := c.Subscribe(64)
	w.unsub = unsub
	go w.pump(events)
	w.Reload()
	return w
}

func (w *Channels) build(a fyne.App) {
	w.win = a.NewWindow("Genos — Channels")
	w.win.SetCloseIntercept(w.win.Hide)
	intro := wrapped("Connect Genos to your messaging apps. Strangers who write to it are held back until you " +
		"approve them in Pairing Requests.")
	w.status = newMessage()
	top := container.NewVBox(intro, w.status)
	w.win.SetContent(container.NewPadded(container.NewVBox(top, w.buildTelegram(), w.buildWhatsApp())))
	w.win.Resize(fyne.NewSize(640, 0))
	w.apply(nil)
}

func (w *Channels) buildTelegram() fyne.CanvasObject {
	s := &w.tg
	s.state = wrapped("")
	help := newCaption("Create a bot with @BotFather in Telegram and paste its token here.")
	s.token = widget.NewPasswordEntry()
	s.token.SetPlaceHolder("Bot token, like 123456789:AAF…")
	s.token.OnSubmitted = func(string) { w.saveTelegram() }
	s.msg = newMessage()
	s.save = widget.NewButtonWithIcon("Save & Connect", theme.ConfirmIcon(), w.saveTelegram)
	s.save.Importance = widget.HighImportance
	s.off = widget.NewButton("Turn off", w.turnOffTelegram)
	body := container.NewVBox(s.state, help, s.token, s.msg, container.NewHBox(layout.NewSpacer(), s.off, s.save))
	return widget.NewCard("Telegram", "", body)
}

// Show shows the window and loads the channels' states again.
func (w *Channels) Show() {
	w.win.Show()
	w.win.RequestFocus()
	w.Reload()
}

// Window returns the underlying Fyne window.
func (w *Channels) Window() fyne.Window { return w.win }

// Close ends the subscription, any WhatsApp linking in progress and the
// window. Call it on the UI goroutine.
func (w *Channels) Close() {
	w.cancel()
	w.unsub()
	w.win.Close()
}

// Reload fetches the channels' states again.
func (w *Channels) Reload() {
	gen := w.gen.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.ChannelsStatus(ctx)
		w.ui.post(w.ctx, func() {
			if w.gen.Load() != gen {
				return // a newer answer is on its way
			}
			if err != nil {
				w.log.Warn("channels status", "err", err)
				setMessage(w.status, "Could not load the channels. "+userMessage(err), widget.DangerImportance)
				w.fit()
				return
			}
			setMessage(w.status, "", widget.DangerImportance)
			w.loaded = true
			w.apply(res.Channels)
		})
	}()
}

func (w *Channels) pump(events <-chan api.Frame) {
	for f := range events {
		switch f.Event {
		case api.EventChannelsChanged:
			var res api.ChannelsStatusResult
			if err := decodeEvent(f, &res); err != nil {
				w.log.Warn("bad channels event", "err", err)
				continue
			}
			w.gen.Add(1) // newer than any list still in flight
			w.ui.post(w.ctx, func() { w.apply(res.Channels) })
		case api.EventChannelQR:
			var qr api.ChannelQREvent
			if err := decodeEvent(f, &qr); err != nil {
				w.log.Warn("bad channels.qr event", "err", err)
				continue
			}
			if qr.Channel == channelWhatsApp {
				w.ui.post(w.ctx, func() { w.showQR(qr.Code) })
			}
		}
	}
}

// apply shows the channels' states; nil means none is configured.
func (w *Channels) apply(list []chat.ChannelStatus) {
	clear(w.statuses)
	for _, st := range list {
		w.statuses[st.Channel] = st
	}
	tg, tgOK := w.statuses[channelTelegram]
	setState(w.tg.state, channelStateText(channelTelegram, tg, tgOK, time.Now()), stateImportance(tg, tgOK))
	w.syncTelegramButtons()
	wa, waOK := w.statuses[channelWhatsApp]
	setState(w.wa.state, channelStateText(channelWhatsApp, wa, waOK, time.Now()), stateImportance(wa, waOK))
	w.syncWhatsAppButtons()
	w.fit()
}

func (w *Channels) syncTelegramButtons() {
	st, ok := w.statuses[channelTelegram]
	enable(w.tg.save, !w.tg.busy)
	enable(w.tg.off, !w.tg.busy && ok && st.State != chat.ChannelStopped)
}

func (w *Channels) saveTelegram() {
	s := &w.tg
	if s.busy {
		return
	}
	token := strings.TrimSpace(s.token.Text)
	_, configured := w.statuses[channelTelegram]
	switch {
	case token == "" && !configured:
		w.telegramMessage("Paste the bot token from @BotFather first.", widget.DangerImportance)
		return
	case token != "":
		if msg := checkBotToken(token); msg != "" {
			w.telegramMessage(msg, widget.DangerImportance)
			return
		}
	}
	// An empty field on a configured bot turns it back on with the token
	// the vault already holds.
	p := api.ChannelsSetParams{Channel: channelTelegram, Enabled: true, Token: token}
	w.setTelegramBusy(true)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.ChannelsSet(ctx, p)
		w.ui.post(w.ctx, func() {
			w.setTelegramBusy(false)
			if err != nil {
				w.log.Warn("set telegram", "err", err) // the params hold the token: never logged
				verb := "The token was not saved. "
				if token == "" {
					verb = "Telegram was not turned on. "
				}
				w.telegramMessage(verb+channelError(err), widget.DangerImportance)
				return
			}
			// The token now lives in the vault only; it is never shown
			// again.
			s.token.SetText("")
			w.telegramMessage("Saved. Genos is connecting to Telegram; the line above shows when it is connected.",
				widget.SuccessImportance)
			w.apply(res.Channels)
		})
	}()
}

func (w *Channels) turnOffTelegram() {
	if w.tg.busy {
		return
	}
	w.setTelegramBusy(true)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.ChannelsSet(ctx, api.ChannelsSetParams{Channel: channelTelegram, Enabled: false})
		w.ui.post(w.ctx, func() {
			w.setTelegramBusy(false)
			if err != nil {
				w.log.Warn("turn off telegram", "err", err)
				w.telegramMessage("Telegram was not turned off. "+channelError(err), widget.DangerImportance)
				return
			}
			w.telegramMessage("Telegram is off. Its token stays saved; Save & Connect turns it on again.", widget.MediumImportance)
			w.apply(res.Channels)
		})
	}()
}

func (w *Channels) setTelegramBusy(busy bool) {
	w.tg.busy = busy
	w.syncTelegramButtons()
}

func (w *Channels) telegramMessage(msg string, imp widget.Importance) {
	setMessage(w.tg.msg, msg, imp)
	w.fit()
}

func (w *Channels) fit() { fitWindow(w.win) }

// checkBotToken returns why token cannot be a Telegram bot token, or "".
// @BotFather's tokens are the bot's numeric id, a colon and a secret of
// letters, digits, '-' and '_'; the check catches a partial or wrong paste
// before the daemon tries to connect with it.
func checkBotToken(token string) string {
	const bad = "That does not look like a bot token. @BotFather shows one like 123456789:AAF…; copy all of it."
	id, secret, ok := strings.Cut(token, ":")
	if !ok || id == "" || len(secret) < 20 || len(token) > 200 {
		return bad
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return bad
		}
	}
	for _, r := range secret {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return bad
		}
	}
	return ""
}

// channelStateText is the state line of a channel's card; ok is false
// when the daemon does not list the channel (never configured).
func channelStateText(channel string, st chat.ChannelStatus, ok bool, now time.Time) string {
	reason := strings.TrimSpace(st.Reason)
	switch {
	case !ok && channel == channelWhatsApp:
		return "Not linked yet."
	case !ok:
		return "Not set up yet."
	}
	var s string
	switch st.State {
	case chat.ChannelConnected:
		s = "Connected."
		if acc := tray.Account(st); acc != "" {
			s = "Connected as " + acc + "."
		}
		if !st.LastInbound.IsZero() {
			s += " Last message " + formatTime(st.LastInbound, now) + "."
		}
	case chat.ChannelConnecting:
		s = "Connecting…"
	case chat.ChannelReconnecting:
		s = "Connection lost; reconnecting…"
		if reason != "" {
			s += " (" + reason + ")"
		}
	case chat.ChannelLoginRequired:
		s = tray.ChannelName(channel) + " needs a new token."
		if channel == channelWhatsApp {
			s = "Not linked: link your phone below."
		}
	case chat.ChannelFailed:
		s = "Not working."
		if reason != "" {
			s = "Not working: " + sentence(reason)
		}
	case chat.ChannelStopped:
		s = "Turned off."
	default:
		s = sentence(string(st.State))
	}
	return s
}

// stateImportance colours a state line: green when working, amber while
// it is trying, red when it gave up.
func stateImportance(st chat.ChannelStatus, ok bool) widget.Importance {
	if !ok {
		return widget.MediumImportance
	}
	switch st.State {
	case chat.ChannelConnected:
		return widget.SuccessImportance
	case chat.ChannelConnecting, chat.ChannelReconnecting, chat.ChannelLoginRequired:
		return widget.WarningImportance
	case chat.ChannelFailed:
		return widget.DangerImportance
	}
	return widget.MediumImportance
}

// channelError says why a channels call failed. The daemon writes its
// INVALID_REQUEST messages for the owner ("telegram needs a bot token…");
// internal failures carry an error chain, which stays in the log.
func channelError(err error) string {
	var shape *api.ErrorShape
	if errors.As(err, &shape) && shape.Code == api.CodeInternal {
		return "Genos could not do it; its log has the details. Please try again."
	}
	return userMessage(err)
}

// newMessage is a hidden, wrapping label for a result or an error.
func newMessage() *widget.Label {
	l := wrapped("")
	l.Hide()
	return l
}

// setMessage shows msg in l with the given colour, or hides l for "".
func setMessage(l *widget.Label, msg string, imp widget.Importance) {
	l.Importance = imp
	l.SetText(msg)
	if msg == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func setState(l *widget.Label, msg string, imp widget.Importance) {
	l.Importance = imp
	l.SetText(msg)
}

func enable(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// decodeEvent decodes an event's payload into v.
func decodeEvent(f api.Frame, v any) error {
	if err := json.Unmarshal(f.Payload, v); err != nil {
		return fmt.Errorf("decode %s event: %w", f.Event, err)
	}
	return nil
}
