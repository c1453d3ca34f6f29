package windows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/api"
)

// ApprovalsOptions configures the approvals window.
type ApprovalsOptions struct {
	// Logger receives diagnostics; tool arguments are never logged.
	Logger *slog.Logger
	// UI serialises widget updates; nil gives the window its own. Share
	// the app's.
	UI *UI
}

// Approvals is the window listing tool calls that wait for the owner's
// decision, with their full arguments.
type Approvals struct {
	ctx    context.Context
	cancel context.CancelFunc
	app    fyne.App
	client ApprovalsClient
	log    *slog.Logger
	ui     *UI
	unsub  func()
	gen    atomic.Uint64 // latest Reload; older answers are dropped

	win    fyne.Window
	list   *fyne.Container
	empty  *widget.Label
	status *widget.Label
	cards  map[string]*approvalCard
}

type approvalCard struct {
	a        api.Approval
	root     *widget.Card
	details  *widget.Label
	args     *readOnlyEntry
	buttons  []*widget.Button
	errLabel *widget.Label
}

// NewApprovals builds the approvals window, subscribes to approval events
// and loads the pending list. It lives until ctx is done or Close is called;
// closing it with the title bar only hides it.
func NewApprovals(ctx context.Context, a fyne.App, c ApprovalsClient, opts ApprovalsOptions) *Approvals {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Approvals{ctx: ctx, cancel: cancel, app: a, client: c, log: log, ui: orNewUI(opts.UI),
		cards: make(map[string]*approvalCard)}
	w.build()
	events, unsub := c.Subscribe(64)
	w.unsub = unsub
	go w.pump(events)
	go w.tick()
	w.Reload()
	return w
}

func (w *Approvals) build() {
	w.win = w.app.NewWindow("Genos — Approvals")
	w.win.SetCloseIntercept(w.win.Hide)
	w.list = container.NewVBox()
	w.empty = widget.NewLabelWithStyle("No pending approvals", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	w.empty.Importance = widget.LowImportance
	w.status = widget.NewLabel("")
	w.status.Wrapping = fyne.TextWrapWord
	w.status.Importance = widget.DangerImportance
	w.status.Hide()
	intro := widget.NewLabel("Genos asks before running tools that can change things. Check the arguments before you approve.")
	intro.Wrapping = fyne.TextWrapWord
	top := container.NewVBox(intro, w.status)
	w.win.SetContent(container.NewBorder(container.NewPadded(top), nil, nil, nil,
		container.NewStack(container.NewCenter(w.empty), container.NewVScroll(container.NewPadded(w.list)))))
	w.win.Resize(fyne.NewSize(640, 600))
}

// Show shows the window.
func (w *Approvals) Show() {
	w.win.Show()
	w.win.RequestFocus()
	w.Reload()
}

// Window returns the underlying Fyne window.
func (w *Approvals) Window() fyne.Window { return w.win }

// Close ends the subscription and destroys the window. Call it on the UI
// goroutine.
func (w *Approvals) Close() {
	w.cancel()
	w.unsub()
	w.win.Close()
}

// Reload fetches the pending approvals again.
func (w *Approvals) Reload() {
	gen := w.gen.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.ApprovalsList(ctx)
		w.ui.post(w.ctx, func() {
			if w.gen.Load() != gen {
				return // a newer list is on its way
			}
			if err != nil {
				w.log.Warn("list approvals", "err", err)
				w.showStatus("Could not load approvals. " + userMessage(err))
				return
			}
			w.showStatus("")
			w.setApprovals(res.Approvals)
		})
	}()
}

func (w *Approvals) pump(events <-chan api.Frame) {
	for f := range events {
		switch f.Event {
		case api.EventApprovalRequested, api.EventApprovalResolved:
			w.Reload()
		}
	}
}

// tick keeps the "expires in" countdowns current.
func (w *Approvals) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case now := <-t.C:
			w.ui.post(w.ctx, func() {
				for _, c := range w.cards {
					c.details.SetText(approvalDetails(c.a, now))
				}
			})
		}
	}
}

func (w *Approvals) showStatus(msg string) {
	if msg == w.status.Text && w.status.Visible() == (msg != "") {
		return
	}
	w.status.SetText(msg)
	if msg == "" {
		w.status.Hide()
	} else {
		w.status.Show()
	}
	w.win.Content().Refresh() // the status line changes the height of the top
}

// setApprovals shows list, keeping the cards that are still pending so an
// error shown on one survives a refresh.
func (w *Approvals) setApprovals(list []api.Approval) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].CreatedAt.Before(list[j].CreatedAt) })
	seen := make(map[string]bool, len(list))
	w.list.RemoveAll()
	for _, a := range list {
		seen[a.ID] = true
		c, ok := w.cards[a.ID]
		if !ok {
			c = w.newCard(a)
			w.cards[a.ID] = c
		}
		w.list.Add(c.root)
	}
	for id := range w.cards {
		if !seen[id] {
			delete(w.cards, id)
		}
	}
	if len(list) == 0 {
		w.empty.Show()
	} else {
		w.empty.Hide()
	}
	w.list.Refresh()
}

func (w *Approvals) newCard(a api.Approval) *approvalCard {
	c := &approvalCard{a: a}
	c.details = widget.NewLabel(approvalDetails(a, time.Now()))
	c.details.Wrapping = fyne.TextWrapWord
	c.args = newReadOnlyEntry(prettyArgs(a.Args))
	c.args.SetMinRowsVisible(argsRows(c.args.Text))
	c.errLabel = widget.NewLabel("")
	c.errLabel.Wrapping = fyne.TextWrapWord
	c.errLabel.Importance = widget.DangerImportance
	c.errLabel.Hide()

	once := widget.NewButtonWithIcon("Approve once", theme.ConfirmIcon(), func() { w.resolve(c, api.DecisionAllowOnce) })
	once.Importance = widget.HighImportance
	always := widget.NewButton("Always allow", func() { w.resolve(c, api.DecisionAllowAlways) })
	deny := widget.NewButtonWithIcon("Deny", theme.CancelIcon(), func() { w.resolve(c, api.DecisionDeny) })
	deny.Importance = widget.DangerImportance
	c.buttons = []*widget.Button{once, always, deny}

	parts := []fyne.CanvasObject{c.details}
	if r := strings.TrimSpace(a.Reason); r != "" {
		reason := widget.NewLabel("Why: " + r)
		reason.Wrapping = fyne.TextWrapWord
		parts = append(parts, reason)
	}
	parts = append(parts, c.args, container.NewHBox(once, always, deny), c.errLabel)
	title := a.Tool
	if title == "" {
		title = "Unknown tool"
	}
	sub := a.Category
	if sub != "" {
		sub = "Category: " + sub
	}
	c.root = widget.NewCard(title, sub, container.NewVBox(parts...))
	return c
}

func (w *Approvals) resolve(c *approvalCard, decision string) {
	for _, b := range c.buttons {
		b.Disable()
	}
	c.errLabel.Hide()
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		_, err := w.client.ApprovalsResolve(ctx, api.ApprovalsResolveParams{ID: c.a.ID, Decision: decision})
		w.ui.post(w.ctx, func() {
			switch {
			case err == nil:
				w.removeCard(c.a.ID)
			case api.IsCode(err, api.CodeNotFound):
				// Expired or answered from another client meanwhile.
				w.removeCard(c.a.ID)
				w.showStatus("That request was no longer pending (it expired or was answered elsewhere).")
			default:
				w.log.Warn("resolve approval", "approval", c.a.ID, "err", err)
				c.errLabel.SetText("Your decision was not recorded. " + userMessage(err))
				c.errLabel.Show()
				w.list.Refresh() // the card grew
				for _, b := range c.buttons {
					b.Enable()
				}
			}
		})
	}()
}

func (w *Approvals) removeCard(id string) {
	c, ok := w.cards[id]
	if !ok {
		return
	}
	delete(w.cards, id)
	w.list.Remove(c.root)
	if len(w.cards) == 0 {
		w.empty.Show()
	}
}

// approvalDetails is the line under a card's title: where the request came
// from and how long it stays open.
func approvalDetails(a api.Approval, now time.Time) string {
	parts := []string{"Session " + a.SessionKey}
	if a.AgentID != "" {
		parts = append(parts, "agent "+a.AgentID)
	}
	if !a.CreatedAt.IsZero() {
		parts = append(parts, "asked "+formatTime(a.CreatedAt, now))
	}
	if !a.ExpiresAt.IsZero() {
		parts = append(parts, expiresIn(a.ExpiresAt.Sub(now)))
	}
	return strings.Join(parts, " · ")
}

// expiresIn formats the time left before an approval times out.
func expiresIn(d time.Duration) string {
	if d <= 0 {
		return "expired"
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("expires in %ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("expires in %dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("expires in %dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// argsRows is how many rows the arguments box shows: every line, counting
// long ones as the several rows they wrap onto, between 3 and 14.
func argsRows(text string) int {
	const wrapAt = 68 // monospace characters per row at the window's width
	rows := 0
	for _, line := range strings.Split(text, "\n") {
		rows += max(1, (utf8.RuneCountInString(line)+wrapAt-1)/wrapAt)
	}
	return min(max(rows, 3), 14)
}

// prettyArgs indents JSON arguments; anything else is shown as received, so
// the owner always sees exactly what the tool would get.
func prettyArgs(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "(no arguments)"
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
