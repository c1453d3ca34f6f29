package windows

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// ChatOptions configures a chat window.
type ChatOptions struct {
	// SessionKey is the session shown, e.g. "agent:main:main". Required.
	SessionKey string
	// Title is the window title; "Genos" when empty.
	Title string
	// HistoryLimit caps how many records are loaded; 200 when zero.
	HistoryLimit int
	// OnOpenApprovals, when set, adds a "Review…" button to the line shown
	// while a run of this session waits for an approval.
	OnOpenApprovals func()
	// Logger receives diagnostics; message text is never logged.
	Logger *slog.Logger
	// UI serialises widget updates; nil gives the window its own. Share
	// the app's.
	UI *UI
	// OnClose, when set, runs instead of hiding the window when the user
	// closes it: without a tray to reopen it from, closing means quitting.
	OnClose func()
	// OnUnlock, when set, adds an "Unlock…" button to the line shown while
	// the vault is locked; the app opens its unlock window from it.
	OnUnlock func()
}

// maxRows bounds the transcript kept on screen in a long-running app: a
// Fyne box lays out every row, so an unbounded one slows down over days.
// Older rows come back with the next history load.
const maxRows = 600

// rpcTimeout bounds one request from a window. chat.send only queues a run,
// so it answers quickly even when the reply takes minutes.
const rpcTimeout = 30 * time.Second

// Chat is the chat window of one session: its history, a composer, and the
// streamed reply of the running turn.
type Chat struct {
	ctx    context.Context
	cancel context.CancelFunc
	app    fyne.App
	client ChatClient
	opts   ChatOptions
	log    *slog.Logger
	ui     *UI
	unsub  func()

	win      fyne.Window
	list     *fyne.Container // VBox of transcript rows
	scroll   *container.Scroll
	input    *composeEntry
	send     *widget.Button
	stop     *widget.Button
	status   *widget.Label
	lockBar  *fyne.Container // "Genos is locked", shown while the vault is
	locked   bool            // whether lockBar is shown
	items    []*item
	live     []*item          // rows added since the last history load
	segments map[string]*item // run id -> assistant row being streamed
	tools    map[string]*item // tool call id -> its activity row
	waits    map[string]*item // approval id -> its waiting row
	active   map[string]bool  // runs in progress
	finished map[string]bool  // runs that ended, in case chat.send answers late
	toolArgs map[string]json.RawMessage
}

// NewChat builds the chat window for opts.SessionKey, subscribes to the
// client's events and starts loading the history. The window lives until ctx
// is done or Close is called; closing it with the title bar only hides it.
func NewChat(ctx context.Context, a fyne.App, c ChatClient, opts ChatOptions) *Chat {
	if opts.Title == "" {
		opts.Title = "Genos"
	}
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = 200
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Chat{
		ctx: ctx, cancel: cancel, app: a, client: c, opts: opts, ui: orNewUI(opts.UI),
		log:      log.With("session", opts.SessionKey),
		segments: make(map[string]*item),
		tools:    make(map[string]*item),
		waits:    make(map[string]*item),
		active:   make(map[string]bool),
		finished: make(map[string]bool),
		toolArgs: make(map[string]json.RawMessage),
	}
	w.build()
	events, unsub := c.Subscribe(1024)
	w.unsub = unsub
	go w.pump(events)
	w.Reload()
	return w
}

func (w *Chat) build() {
	w.win = w.app.NewWindow(w.opts.Title)
	if w.opts.OnClose != nil {
		w.win.SetCloseIntercept(w.opts.OnClose)
	} else {
		w.win.SetCloseIntercept(w.win.Hide)
	}
	w.list = container.NewVBox()
	w.scroll = container.NewVScroll(container.NewPadded(w.list))

	w.input = newComposeEntry(w.submit)
	w.input.SetPlaceHolder("Message Genos — Enter to send, Shift+Enter for a new line")
	w.input.SetMinRowsVisible(3)

	w.send = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), w.submit)
	w.send.Importance = widget.HighImportance
	w.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), w.abort)
	w.stop.Disable()
	w.status = widget.NewLabel("Loading conversation…")
	w.status.SizeName = theme.SizeNameCaptionText
	w.status.TextStyle = fyne.TextStyle{Italic: true}

	buttons := container.NewVBox(w.send, w.stop)
	composer := container.NewBorder(nil, nil, nil, buttons, w.input)
	w.lockBar = w.newLockBar()
	bottom := container.NewVBox(widget.NewSeparator(), w.lockBar, w.status, composer)
	w.win.SetContent(container.NewBorder(nil, container.NewPadded(bottom), nil, nil, w.scroll))
	w.win.Resize(fyne.NewSize(600, 720))
	w.win.Canvas().Focus(w.input)
}

// Show shows the window and puts the cursor in the composer.
func (w *Chat) Show() {
	w.win.Show()
	w.win.RequestFocus()
	w.win.Canvas().Focus(w.input)
}

// Window returns the underlying Fyne window.
func (w *Chat) Window() fyne.Window { return w.win }

// Close ends the subscription and destroys the window. Call it on the UI
// goroutine.
func (w *Chat) Close() {
	w.cancel()
	w.unsub()
	w.win.Close()
}

// Reload fetches the session history again, e.g. after a reconnect.
func (w *Chat) Reload() {
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		asked := time.Now()
		res, err := w.client.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: w.opts.SessionKey, Limit: w.opts.HistoryLimit})
		switch {
		case api.IsCode(err, api.CodeLocked):
			w.ui.post(w.ctx, func() {
				w.showLocked(true)
				w.setStatus("")
			})
		case err != nil:
			w.log.Warn("load chat history", "err", err)
			w.ui.post(w.ctx, func() { w.setStatus("Could not load the conversation. " + userMessage(err)) })
		default:
			w.ui.post(w.ctx, func() {
				w.showLocked(false)
				w.setHistory(res.Records, res.HasMore, asked)
			})
		}
	}()
}

// pump hands events to the UI one at a time, in order.
func (w *Chat) pump(events <-chan api.Frame) {
	for f := range events {
		w.ui.post(w.ctx, func() { w.onEvent(f) })
	}
	select {
	case <-w.ctx.Done():
	default:
		w.ui.post(w.ctx, func() { w.setStatus("Not connected to Genos.") })
	}
}

// setHistory shows recs, the history as of asked, followed by the live rows
// the history cannot contain yet: those of runs still in progress and those
// added after it was requested.
func (w *Chat) setHistory(recs []chat.Record, hasMore bool, asked time.Time) {
	atBottom := w.atBottom()
	keep := w.live[:0]
	for _, it := range w.live {
		if (it.run != "" && w.active[it.run]) || it.added.After(asked) {
			keep = append(keep, it)
		}
	}
	w.live = keep
	w.list.RemoveAll()
	w.items = w.items[:0]
	if hasMore {
		w.addRow(newLineItem(itemNotice, "Older messages are not shown.", nil))
	}
	for _, r := range recs {
		for _, it := range recordItems(w.app, r) {
			w.addRow(it)
		}
	}
	// Rows of runs still in progress were not in the history yet; keep them.
	for _, it := range w.live {
		w.addRow(it)
	}
	if len(w.items) == 0 {
		w.setStatus("Say hello to start the conversation.")
	} else {
		w.setStatus("")
	}
	w.list.Refresh()
	if atBottom || len(w.live) == 0 {
		w.scroll.ScrollToBottom()
		// The rows just added are laid out after this returns (on a
		// window opening with its history, the scroller is still
		// unsized), so scroll again once that has happened.
		time.AfterFunc(150*time.Millisecond, func() { w.ui.post(w.ctx, w.scroll.ScrollToBottom) })
	}
}

func (w *Chat) addRow(it *item) {
	w.items = append(w.items, it)
	w.list.Add(it.root)
}

// appendLive adds a row for something that happened after the history was
// loaded, following the conversation if the user was already at the end.
func (w *Chat) appendLive(it *item) {
	atBottom := w.atBottom()
	it.added = time.Now()
	w.live = append(w.live, it)
	w.addRow(it)
	for len(w.items) > maxRows {
		w.removeRow(w.items[0])
	}
	if atBottom {
		w.scroll.ScrollToBottom()
	}
}

// atBottom reports whether the transcript is scrolled to (near) its end, so
// new content only pulls the view down when the user is not reading back.
func (w *Chat) atBottom() bool {
	const slack = 48
	content := w.scroll.Content.MinSize().Height
	return w.scroll.Offset.Y+w.scroll.Size().Height >= content-slack
}

func (w *Chat) setStatus(s string) {
	w.status.SetText(s)
}

func (w *Chat) submit() {
	text := strings.TrimSpace(w.input.Text)
	if text == "" {
		return
	}
	w.input.SetText("")
	it := newUserItem(text, time.Now())
	w.appendLive(it)
	w.scroll.ScrollToBottom()
	w.setStatus("Sending…")
	key := newIdempotencyKey()
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		res, err := w.client.ChatSend(ctx, api.ChatSendParams{SessionKey: w.opts.SessionKey, Message: text, IdempotencyKey: key})
		w.ui.post(w.ctx, func() {
			if err != nil {
				if api.IsCode(err, api.CodeLocked) {
					w.showLocked(true)
					w.appendLive(newLineItem(itemNotice, "Your message was not sent because Genos is locked.", nil))
				} else {
					w.log.Warn("chat.send failed", "err", err)
					w.appendLive(newErrorItem("Your message was not sent. " + userMessage(err)))
				}
				if w.input.Text == "" {
					w.input.SetText(text) // give the words back so they can be resent
				}
				w.setStatus("")
				return
			}
			if !w.finished[res.RunID] {
				w.active[res.RunID] = true
			}
			w.updateRunState()
		})
	}()
}

func (w *Chat) abort() {
	p := api.ChatAbortParams{SessionKey: w.opts.SessionKey}
	if len(w.active) == 1 {
		for id := range w.active {
			p.RunID = id
		}
	}
	w.stop.Disable()
	w.setStatus("Stopping…")
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, rpcTimeout)
		defer cancel()
		_, err := w.client.ChatAbort(ctx, p)
		if err != nil {
			w.log.Warn("chat.abort failed", "err", err)
			w.ui.post(w.ctx, func() {
				w.appendLive(newErrorItem("Could not stop the reply. " + userMessage(err)))
				w.updateRunState()
			})
		}
	}()
}

// updateRunState enables Stop and shows "thinking" while a run is active.
func (w *Chat) updateRunState() {
	if len(w.active) > 0 {
		w.stop.Enable()
		w.setStatus("Genos is thinking…")
		return
	}
	w.stop.Disable()
	w.setStatus("")
}
