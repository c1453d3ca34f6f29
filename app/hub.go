package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/genos-project/genos/core/api"
)

// Reconnect backoff bounds. The gateway runs in-process, so a lost
// connection usually means it is restarting and comes back quickly.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// hub owns the connection to the gateway: it dials, redials when the
// connection ends, and fans events out to subscribers whose channels outlive
// any single connection. It implements the client interfaces of package
// windows, so windows keep working across reconnects.
type hub struct {
	connect func(ctx context.Context) (*api.Client, error)
	log     *slog.Logger
	// onUp and onDown report connection changes; they run on the hub's
	// goroutine.
	onUp   func()
	onDown func(err error)

	mu     sync.Mutex
	client *api.Client
	subs   map[int]chan api.Frame
	nextID int
	closed bool
}

func newHub(connect func(context.Context) (*api.Client, error), log *slog.Logger) *hub {
	return &hub{connect: connect, log: log, subs: make(map[int]chan api.Frame), onUp: func() {}, onDown: func(error) {}}
}

// run keeps a connection up until ctx is done, then closes every
// subscription.
func (h *hub) run(ctx context.Context) {
	defer h.close()
	backoff := minBackoff
	for ctx.Err() == nil {
		c, err := h.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("connect to gateway", "err", err, "retry_in", backoff)
			h.onDown(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = minBackoff
		events, unsub := c.Subscribe(1024)
		h.setClient(c)
		h.onUp()
		h.forward(ctx, c, events)
		unsub()
		h.setClient(nil)
		if ctx.Err() != nil {
			c.Close()
			return
		}
		err = c.Err()
		if err == nil {
			err = api.ErrClosed
		}
		h.log.Warn("gateway connection lost", "err", err)
		h.onDown(err)
	}
}

// forward copies events to subscribers until the connection ends.
func (h *hub) forward(ctx context.Context, c *api.Client, events <-chan api.Frame) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			return
		case f, ok := <-events:
			if !ok {
				return
			}
			h.broadcast(f)
		}
	}
}

func (h *hub) broadcast(f api.Frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		select {
		case ch <- f:
		default: // a stalled subscriber loses events rather than stalling all
		}
	}
}

func (h *hub) setClient(c *api.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.client = c
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, ch := range h.subs {
		close(ch)
		delete(h.subs, id)
	}
}

// current returns the connected client or api.ErrClosed.
func (h *hub) current() (*api.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == nil {
		return nil, api.ErrClosed
	}
	return h.client, nil
}

// Subscribe returns a channel of events from every connection the hub makes
// from now on.
func (h *hub) Subscribe(buf int) (<-chan api.Frame, func()) {
	if buf <= 0 {
		buf = 1024
	}
	ch := make(chan api.Frame, buf)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	id := h.nextID
	h.nextID++
	h.subs[id] = ch
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if s, ok := h.subs[id]; ok {
			delete(h.subs, id)
			close(s)
		}
	}
}

// Status calls status on the current connection.
func (h *hub) Status(ctx context.Context) (api.StatusResult, error) {
	c, err := h.current()
	if err != nil {
		return api.StatusResult{}, err
	}
	return c.Status(ctx)
}

// ChatHistory calls chat.history on the current connection.
func (h *hub) ChatHistory(ctx context.Context, p api.ChatHistoryParams) (api.ChatHistoryResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChatHistoryResult{}, err
	}
	return c.ChatHistory(ctx, p)
}

// ChatSend calls chat.send on the current connection.
func (h *hub) ChatSend(ctx context.Context, p api.ChatSendParams) (api.ChatSendResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChatSendResult{}, err
	}
	return c.ChatSend(ctx, p)
}

// ChatAbort calls chat.abort on the current connection.
func (h *hub) ChatAbort(ctx context.Context, p api.ChatAbortParams) (api.ChatAbortResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChatAbortResult{}, err
	}
	return c.ChatAbort(ctx, p)
}

// ApprovalsList calls approvals.list on the current connection.
func (h *hub) ApprovalsList(ctx context.Context) (api.ApprovalsListResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ApprovalsListResult{}, err
	}
	return c.ApprovalsList(ctx)
}

// ApprovalsResolve calls approvals.resolve on the current connection.
func (h *hub) ApprovalsResolve(ctx context.Context, p api.ApprovalsResolveParams) (api.ApprovalsResolveResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ApprovalsResolveResult{}, err
	}
	return c.ApprovalsResolve(ctx, p)
}

// VaultStatus calls vault.status on the current connection.
func (h *hub) VaultStatus(ctx context.Context) (api.VaultStatus, error) {
	c, err := h.current()
	if err != nil {
		return api.VaultStatus{}, err
	}
	return c.VaultStatus(ctx)
}

// VaultUnlock calls vault.unlock on the current connection.
func (h *hub) VaultUnlock(ctx context.Context, p api.VaultUnlockParams) (api.VaultStatus, error) {
	c, err := h.current()
	if err != nil {
		return api.VaultStatus{}, err
	}
	return c.VaultUnlock(ctx, p)
}

// VaultLock calls vault.lock on the current connection.
func (h *hub) VaultLock(ctx context.Context) (api.VaultStatus, error) {
	c, err := h.current()
	if err != nil {
		return api.VaultStatus{}, err
	}
	return c.VaultLock(ctx)
}

// VaultCreate calls vault.create on the current connection.
func (h *hub) VaultCreate(ctx context.Context, p api.VaultUnlockParams) (api.VaultStatus, error) {
	c, err := h.current()
	if err != nil {
		return api.VaultStatus{}, err
	}
	return c.VaultCreate(ctx, p)
}

// ChannelsStatus calls channels.status on the current connection.
func (h *hub) ChannelsStatus(ctx context.Context) (api.ChannelsStatusResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChannelsStatusResult{}, err
	}
	return c.ChannelsStatus(ctx)
}

// ChannelsSet calls channels.set on the current connection.
func (h *hub) ChannelsSet(ctx context.Context, p api.ChannelsSetParams) (api.ChannelsStatusResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChannelsStatusResult{}, err
	}
	return c.ChannelsSet(ctx, p)
}

// ChannelsLogin calls channels.login on the current connection. It blocks
// until the phone is linked, the login fails or ctx ends; the QR codes
// arrive meanwhile as channels.qr events.
func (h *hub) ChannelsLogin(ctx context.Context, p api.ChannelsLoginParams) (api.ChannelsStatusResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChannelsStatusResult{}, err
	}
	return c.ChannelsLogin(ctx, p)
}

// ChannelsLogout calls channels.logout on the current connection.
func (h *hub) ChannelsLogout(ctx context.Context, p api.ChannelParams) (api.ChannelsStatusResult, error) {
	c, err := h.current()
	if err != nil {
		return api.ChannelsStatusResult{}, err
	}
	return c.ChannelsLogout(ctx, p)
}

// PairingList calls channel.pairing.list on the current connection.
func (h *hub) PairingList(ctx context.Context, p api.ChannelParams) (api.PairingListResult, error) {
	c, err := h.current()
	if err != nil {
		return api.PairingListResult{}, err
	}
	return c.PairingList(ctx, p)
}

// PairingApprove calls channel.pairing.approve on the current connection.
func (h *hub) PairingApprove(ctx context.Context, p api.PairingDecisionParams) (api.PairingResolvedEvent, error) {
	c, err := h.current()
	if err != nil {
		return api.PairingResolvedEvent{}, err
	}
	return c.PairingApprove(ctx, p)
}

// PairingDeny calls channel.pairing.deny on the current connection.
func (h *hub) PairingDeny(ctx context.Context, p api.PairingDecisionParams) (api.PairingResolvedEvent, error) {
	c, err := h.current()
	if err != nil {
		return api.PairingResolvedEvent{}, err
	}
	return c.PairingDeny(ctx, p)
}
