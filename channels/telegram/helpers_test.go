package telegram

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/gateway"
)

// The bot the loopback Bot API (telegramtest) impersonates.
const (
	testToken = telegramtest.Token
	botID     = telegramtest.BotID
	botName   = telegramtest.BotName
)

// The adapter is what the gateway consumes.
var (
	_ gateway.StreamingChannel = (*Adapter)(nil)
	_ gateway.TypingChannel    = (*Adapter)(nil)
)

// logBuffer collects the adapter's log output (debug included) so tests
// can check that the token never appears in it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTestAdapter returns an adapter pointed at f with fast retries. mod may
// adjust the options first.
func newTestAdapter(t *testing.T, f *telegramtest.Server, mod func(*Options)) *Adapter {
	t.Helper()
	logs := &logBuffer{}
	opts := Options{
		Token:       testToken,
		APIURL:      f.URL(),
		PollTimeout: time.Second,
		EditEvery:   time.Hour, // edits only when a test asks for them
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.backoff = channels.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	a.maxWait = 5 * time.Second
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testToken) || strings.Contains(logs.String(), strings.SplitN(testToken, ":", 2)[1]) {
			t.Errorf("the bot token appeared in the logs")
		}
	})
	return a
}

// runner is an Adapter.Run in the background with its deliveries.
type runner struct {
	in     chan chat.Inbound
	done   chan error
	cancel context.CancelFunc
}

// start runs a until the test ends (or stop is called).
func start(t *testing.T, a *Adapter) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &runner{in: make(chan chat.Inbound, 100), done: make(chan error, 1), cancel: cancel}
	go func() {
		r.done <- a.Run(ctx, func(_ context.Context, in chat.Inbound) error {
			r.in <- in
			return nil
		})
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends Run and returns its error (once; later calls return nil).
func (r *runner) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	return nil
}

// next returns the next delivered message.
func (r *runner) next(t *testing.T) chat.Inbound {
	t.Helper()
	select {
	case in := <-r.in:
		return in
	case err := <-r.done:
		r.done <- err // for stop
		t.Fatalf("Run returned before delivering: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a delivery")
	}
	return chat.Inbound{}
}

// states records every state the adapter reports.
type states struct {
	mu   sync.Mutex
	seen []chat.ChannelStatus
}

func watch(a *Adapter) *states {
	s := &states{}
	a.OnStatus(func(st chat.ChannelStatus) {
		s.mu.Lock()
		s.seen = append(s.seen, st)
		s.mu.Unlock()
	})
	return s
}

func (s *states) list() []chat.ChannelState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chat.ChannelState
	for _, st := range s.seen {
		if len(out) == 0 || out[len(out)-1] != st.State {
			out = append(out, st.State)
		}
	}
	return out
}

func (s *states) has(state chat.ChannelState) (chat.ChannelStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.seen {
		if st.State == state {
			return st, true
		}
	}
	return chat.ChannelStatus{}, false
}

// find reports whether some status had state and a reason containing substr.
func (s *states) find(state chat.ChannelState, substr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.seen {
		if st.State == state && strings.Contains(st.Reason, substr) {
			return true
		}
	}
	return false
}
