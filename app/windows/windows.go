// Package windows holds the Genos desktop windows: chat, approvals, unlock,
// onboarding, channels and pairing requests. Each window talks to the daemon only through a small
// interface of api.Client methods declared here and in vault.go, so tests
// can drive it against a fake gateway and the app can hand it a client that
// survives reconnects.
package windows

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"

	"fyne.io/fyne/v2"

	"github.com/genos-project/genos/core/api"
)

// Subscriber is the event half of the gateway client.
type Subscriber interface {
	// Subscribe returns a channel of event frames and a function ending the
	// subscription, as api.Client.Subscribe does.
	Subscribe(buf int) (<-chan api.Frame, func())
}

// ChatClient is what the chat window needs from the gateway client.
type ChatClient interface {
	Subscriber
	ChatHistory(ctx context.Context, p api.ChatHistoryParams) (api.ChatHistoryResult, error)
	ChatSend(ctx context.Context, p api.ChatSendParams) (api.ChatSendResult, error)
	ChatAbort(ctx context.Context, p api.ChatAbortParams) (api.ChatAbortResult, error)
}

// ApprovalsClient is what the approvals window needs from the gateway client.
type ApprovalsClient interface {
	Subscriber
	ApprovalsList(ctx context.Context) (api.ApprovalsListResult, error)
	ApprovalsResolve(ctx context.Context, p api.ApprovalsResolveParams) (api.ApprovalsResolveResult, error)
}

// UI serialises the work that goroutines hand to Fyne widgets. On a real
// driver fyne.Do already runs callbacks one at a time on the main goroutine;
// the mutex gives the same guarantee under Fyne's test driver, which runs
// fyne.Do inline on the calling goroutine. Share one UI between all windows
// of an app so that they are serialised with each other too (text
// measurement caches are shared). Code running on the UI goroutine, such as
// a button's callback, must not call Do or Locked: under the test driver
// that would re-enter the lock.
type UI struct {
	mu sync.Mutex
}

// Do runs f on the UI goroutine, one callback at a time.
func (u *UI) Do(f func()) {
	fyne.Do(func() { u.Locked(f) })
}

// post hands f to the UI unless ctx has ended: results that arrive after a
// window closed or the app began quitting are dropped instead of touching
// widgets once Fyne's loop has stopped.
func (u *UI) post(ctx context.Context, f func()) {
	if ctx.Err() == nil {
		u.Do(f)
	}
}

// Locked runs f now, holding the UI lock. Tests use it to read widgets and
// simulate input without racing the windows' goroutines.
func (u *UI) Locked(f func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f()
}

func orNewUI(u *UI) *UI {
	if u == nil {
		return new(UI)
	}
	return u
}

// userMessage turns an error from the gateway client into a sentence for the
// person at the window (CONVENTIONS.md 6: never a raw error chain).
func userMessage(err error) string {
	var shape *api.ErrorShape
	switch {
	case err == nil:
		return ""
	case errors.Is(err, api.ErrClosed):
		return "Not connected to Genos. Reconnecting…"
	case errors.Is(err, context.DeadlineExceeded):
		return "Genos did not answer in time. Please try again."
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	case errors.As(err, &shape):
		switch shape.Code {
		case api.CodeNoModel:
			return "No model is set up yet. Choose “Set Up Model…” in the Genos menu."
		case api.CodeLocked:
			return "Genos is locked. Unlock it and try again."
		case api.CodeRateLimited:
			return "Too many requests right now. Please wait a moment and try again."
		case api.CodeUnauthorized:
			return "Genos refused the connection (not authorised)."
		}
		if msg := strings.TrimSpace(shape.Message); msg != "" {
			return sentence(msg)
		}
	}
	return "Something went wrong talking to Genos. Please try again."
}

// sentence capitalises the first letter and ends msg with a full stop.
func sentence(msg string) string {
	r := []rune(msg)
	if len(r) > 0 && r[0] >= 'a' && r[0] <= 'z' {
		r[0] -= 'a' - 'A'
	}
	s := string(r)
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// newIdempotencyKey returns a fresh key for chat.send, so that a retried
// request never starts a second run.
func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "ui-" + hex.EncodeToString(b)
}
