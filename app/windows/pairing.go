package windows

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/app/tray"
	"github.com/genos-project/genos/core/api"
)

// PairingClient is what the pairing window needs from the gateway client.
type PairingClient interface {
	Subscriber
	PairingList(ctx context.Context, p api.ChannelParams) (api.PairingListResult, error)
	PairingApprove(ctx context.Context, p api.PairingDecisionParams) (api.PairingResolvedEvent, error)
	PairingDeny(ctx context.Context, p api.PairingDecisionParams) (api.PairingResolvedEvent, error)
}

// PairingOptions configures the pairing window.
type PairingOptions struct {
	// Logger receives diagnostics; message text is never logged.
	Logger *slog.Logger
	// UI serialises widget updates; nil gives the window its own. Share
	// the app's.
	UI *UI
}

// pairingTick is how often the "expires in" lines are redrawn; they count
// minutes.
const pairingTick = 15 * time.Second

// Pairing is the window listing strangers who wrote to one of the owner's
// channels and wait to be allowed to talk to Genos.
type Pairing struct {
	ctx    context.Context
	cancel context.CancelFunc
	client PairingClient
	log    *slog.Logger
	ui     *UI
	unsub  func()
	gen    atomic.Uint64 // latest Reload; older answers are dropped

	win    fyne.Window
	list   *fyne.Container
	empty  *widget.Label
	status *widget.Label // errors, and what the last decision did
	cards  map[string]*pairingCard
	loaded bool // a list arrived
}

type pairingCard struct {
	r        api.PairingRequest
	root     *widget.Card
	details  *widget.Label
	buttons  []*widget.Button
	errLabel *widget.Label
}

// NewPairing builds the pairing window, subscribes to pairing events and
// loads the pending requests. It lives until ctx is done or Close is
// called; closing it with the title bar only hides it.
func NewPairing(ctx context.Context, a fyne.App, c PairingClient, opts PairingOptions) *Pairing {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Pairing{ctx: ctx, cancel: cancel, client: c, log: log, ui: orNewUI(opts.UI),
		cards: make(map[string]*pairingCard)}
	w.build(a)
	events, unsub := c.Subscribe(64)
	w.unsub = unsub
	go w.pump(events)
	go w.tick()
	w.Reload()
	return w
}

func (w *Pairing) build(a fyne.App) {
	w.win = a.NewWindow("Genos — Pairing Requests")
	w.win.SetCloseIntercept(w.win.Hide)
	w.list = container.NewVBox()
	w.empty = widget.NewLabelWithStyle("No pending pairing requests", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	w.empty.Importance = widget.LowImportance
	w.status = newMessage()
	intro := wrapped("These people wrote to Genos and wait for your permission before it answers them. " +
		"Genos sent each of them the code shown here: if you know them, you can ask them for it to be sure.")
	top := container.NewVBox(intro, w.status)
	w.win.SetContent(container.NewBorder(container.NewPadded(top), nil, nil, nil,
		container.NewStack(container.NewCenter(w.empty), container.NewVScroll(container.NewPadded(w.list)))))
	w.win.Resize(fyne.NewSize(600, 520))
}

// Show shows the window and loads the requests again.
func (w *Pairing) Show() {
	w.win.Show()
	w.win.RequestFocus()
	w.Reload()
}

// Window returns the underlying Fyne window.
func (w *Pairing) Window() fyne.Window { return w.win }

// Close ends the subscription and destroys the window. Call it on the UI
// goroutine.
func (w *Pairing) Close() {
	w.cancel()
	w.unsub()
	w.win.Close()
}

// Reload fetches the pending requests again.
func (w *Pairing) Reload() {
	gen := w.gen.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.PairingList(ctx, api.ChannelParams{})
		w.ui.post(w.ctx, func() {
			if w.gen.Load() != gen {
				return // a newer list is on its way
			}
			if err != nil {
				w.log.Warn("list pairing requests", "err", err)
				w.showStatus("Could not load the pairing requests. "+userMessage(err), widget.DangerImportance)
				return
			}
			if w.status.Importance == widget.DangerImportance {
				w.showStatus("", widget.MediumImportance) // the error is over; a decision's note stays
			}
			w.loaded = true
			w.setRequests(res.Requests)
		})
	}()
}

func (w *Pairing) pump(events <-chan api.Frame) {
	for f := range events {
		switch f.Event {
		case api.EventPairingRequested, api.EventPairingResolved:
			w.Reload()
		}
	}
}

// tick keeps the "expires in" lines current.
func (w *Pairing) tick() {
	t := time.NewTicker(pairingTick)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case now := <-t.C:
			w.ui.post(w.ctx, func() {
				for _, c := range w.cards {
					c.details.SetText(pairingDetails(c.r, now))
				}
			})
		}
	}
}

func (w *Pairing) showStatus(msg string, imp widget.Importance) {
	setMessage(w.status, msg, imp)
	w.win.Content().Refresh() // the status line changes the height of the top
}

func pairingKey(r api.PairingRequest) string { return r.Channel + "/" + r.Code }

// setRequests shows list, oldest first, keeping the cards still pending so
// an error shown on one survives a refresh.
func (w *Pairing) setRequests(list []api.PairingRequest) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	seen := make(map[string]bool, len(list))
	w.list.RemoveAll()
	for _, r := range list {
		k := pairingKey(r)
		seen[k] = true
		c, ok := w.cards[k]
		if !ok {
			c = w.newCard(r)
			w.cards[k] = c
		}
		w.list.Add(c.root)
	}
	for k := range w.cards {
		if !seen[k] {
			delete(w.cards, k)
		}
	}
	if len(list) == 0 {
		w.empty.Show()
	} else {
		w.empty.Hide()
	}
	w.list.Refresh()
}

func (w *Pairing) newCard(r api.PairingRequest) *pairingCard {
	c := &pairingCard{r: r}
	c.details = wrapped(pairingDetails(r, time.Now()))
	code := widget.NewLabelWithStyle("Code: "+r.Code, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	c.errLabel = newMessage()
	c.errLabel.Importance = widget.DangerImportance
	approve := widget.NewButtonWithIcon("Approve", theme.ConfirmIcon(), func() { w.decide(c, true) })
	approve.Importance = widget.HighImportance
	deny := widget.NewButtonWithIcon("Deny", theme.CancelIcon(), func() { w.decide(c, false) })
	deny.Importance = widget.DangerImportance
	c.buttons = []*widget.Button{approve, deny}
	c.root = widget.NewCard(peerName(r), "on "+tray.ChannelName(r.Channel),
		container.NewVBox(c.details, code, container.NewHBox(approve, deny), c.errLabel))
	return c
}

func (w *Pairing) decide(c *pairingCard, approve bool) {
	for _, b := range c.buttons {
		b.Disable()
	}
	setMessage(c.errLabel, "", widget.DangerImportance)
	p := api.PairingDecisionParams{Channel: c.r.Channel, Code: c.r.Code}
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		var err error
		if approve {
			_, err = w.client.PairingApprove(ctx, p)
		} else {
			_, err = w.client.PairingDeny(ctx, p)
		}
		w.ui.post(w.ctx, func() {
			name, channel := peerName(c.r), tray.ChannelName(c.r.Channel)
			switch {
			case err == nil && approve:
				w.removeCard(pairingKey(c.r))
				w.showStatus(fmt.Sprintf("%s can now talk to Genos on %s.", name, channel), widget.SuccessImportance)
			case err == nil:
				w.removeCard(pairingKey(c.r))
				w.showStatus(fmt.Sprintf("Denied: Genos will not answer %s on %s.", name, channel), widget.MediumImportance)
			case api.IsCode(err, api.CodeNotFound):
				w.removeCard(pairingKey(c.r))
				w.showStatus("That request was no longer pending (it expired or was answered elsewhere).", widget.MediumImportance)
			default:
				w.log.Warn("decide pairing", "channel", c.r.Channel, "err", err)
				setMessage(c.errLabel, "Your decision was not recorded. "+userMessage(err), widget.DangerImportance)
				w.list.Refresh() // the card grew
				for _, b := range c.buttons {
					b.Enable()
				}
			}
		})
	}()
}

func (w *Pairing) removeCard(key string) {
	c, ok := w.cards[key]
	if !ok {
		return
	}
	delete(w.cards, key)
	w.list.Remove(c.root)
	if len(w.cards) == 0 {
		w.empty.Show()
	}
}

// peerName is who asks: the name their app gives, else their id.
func peerName(r api.PairingRequest) string {
	if n := strings.TrimSpace(r.PeerName); n != "" {
		return n
	}
	if p := strings.TrimSpace(r.Peer); p != "" {
		return p
	}
	return "Someone"
}

// pairingDetails is the line under a request's name: who exactly, when
// and for how long.
func pairingDetails(r api.PairingRequest, now time.Time) string {
	var parts []string
	if r.Peer != "" && peerName(r) != r.Peer { // else the title is the id already
		parts = append(parts, "ID "+r.Peer)
	}
	if !r.CreatedAt.IsZero() {
		parts = append(parts, "asked "+formatTime(r.CreatedAt, now))
	}
	if !r.ExpiresAt.IsZero() {
		parts = append(parts, pairingExpiresIn(r.ExpiresAt.Sub(now)))
	}
	return strings.Join(parts, " · ")
}

// pairingExpiresIn formats the time left on a pairing code (an hour at
// most) in whole minutes, rounded up so "expires in 1 min" is never late.
func pairingExpiresIn(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	mins := int((d + time.Minute - 1) / time.Minute)
	if mins < 60 {
		return fmt.Sprintf("expires in %d min", mins)
	}
	return fmt.Sprintf("expires in %d h %02d min", mins/60, mins%60)
}
