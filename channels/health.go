package channels

import (
	"sync"
	"time"

	"github.com/genos-project/genos/core/chat"
)

// Health tracks one adapter's chat.ChannelStatus. It is safe for concurrent
// use: Run's goroutines update it while the gateway reads Status.
type Health struct {
	now func() time.Time

	// notifyMu serialises updates with their callbacks so listeners see
	// changes in the order they happened; mu guards the fields and is never
	// held while a callback runs, so callbacks may call Status.
	notifyMu  sync.Mutex
	mu        sync.Mutex
	status    chat.ChannelStatus
	listeners []func(chat.ChannelStatus)
}

// NewHealth returns a Health for the named channel in state
// chat.ChannelStopped. now is the clock (nil means time.Now).
func NewHealth(channel string, now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{
		now: now,
		status: chat.ChannelStatus{
			Channel: channel,
			State:   chat.ChannelStopped,
			Since:   now(),
		},
	}
}

// Set records a state and its reason (words for the owner; never a token or
// message text). Since moves only when the state itself changes. Listeners
// are called when the state or the reason changed.
func (h *Health) Set(state chat.ChannelState, reason string) {
	h.update(func(s *chat.ChannelStatus) bool {
		if s.State == state && s.Reason == reason {
			return false
		}
		if s.State != state {
			s.Since = h.now()
		}
		s.State, s.Reason = state, reason
		return true
	})
}

// SetAccount records the account the adapter is connected as (bot username,
// phone number). Listeners are called if it changed.
func (h *Health) SetAccount(account string) {
	h.update(func(s *chat.ChannelStatus) bool {
		if s.Account == account {
			return false
		}
		s.Account = account
		return true
	})
}

// Inbound marks that a message just arrived (LastInbound). It does not call
// listeners: it happens on every message and changes no state.
func (h *Health) Inbound() {
	t := h.now()
	h.mu.Lock()
	h.status.LastInbound = t
	h.mu.Unlock()
}

// Status returns a snapshot of the current status.
func (h *Health) Status() chat.ChannelStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// OnChange registers fn to be called, synchronously and in order, after
// each change made by Set or SetAccount, with the new status. fn may call
// Status but must not call Set or SetAccount (it would deadlock).
func (h *Health) OnChange(fn func(chat.ChannelStatus)) {
	if fn == nil {
		return
	}
	h.mu.Lock()
	h.listeners = append(h.listeners, fn)
	h.mu.Unlock()
}

func (h *Health) update(change func(*chat.ChannelStatus) bool) {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	h.mu.Lock()
	if !change(&h.status) {
		h.mu.Unlock()
		return
	}
	snap := h.status
	ls := h.listeners
	h.mu.Unlock()
	for _, fn := range ls {
		fn(snap)
	}
}
