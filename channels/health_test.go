package channels

import (
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

// fakeClock is a manual Clock: Advance moves time and runs due timers in
// the caller's goroutine, so tests need no sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// pending counts timers that have neither fired nor been stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped && !t.fired {
			n++
		}
	}
	return n
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.fired && !t.at.After(c.now) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due != nil {
			due.fired = true
		}
		c.mu.Unlock()
		if due == nil {
			return
		}
		due.f()
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	t0 := clk.Now()
	h := NewHealth("telegram", clk.Now)
	if diff := cmp.Diff(chat.ChannelStatus{Channel: "telegram", State: chat.ChannelStopped, Since: t0}, h.Status()); diff != "" {
		t.Fatalf("initial (-want +got):\n%s", diff)
	}
	var seen []chat.ChannelStatus
	h.OnChange(func(s chat.ChannelStatus) {
		if got := h.Status(); got != s { // Status is callable from a listener
			t.Errorf("listener saw %v, Status %v", s, got)
		}
		seen = append(seen, s)
	})
	h.OnChange(nil) // ignored

	clk.Advance(time.Second)
	h.Set(chat.ChannelConnecting, "")
	clk.Advance(time.Second)
	h.SetAccount("@genos_bot")
	h.SetAccount("@genos_bot") // no change, no call
	clk.Advance(time.Second)
	h.Set(chat.ChannelConnected, "")
	h.Set(chat.ChannelConnected, "") // no change, no call
	clk.Advance(time.Second)
	h.Inbound() // no call
	tIn := clk.Now()
	clk.Advance(time.Second)
	h.Set(chat.ChannelReconnecting, "network unreachable")
	tRe := clk.Now()
	clk.Advance(time.Second)
	h.Set(chat.ChannelReconnecting, "no updates for 90s") // reason only: Since stays

	want := []chat.ChannelStatus{
		{Channel: "telegram", State: chat.ChannelConnecting, Since: t0.Add(time.Second)},
		{Channel: "telegram", Account: "@genos_bot", State: chat.ChannelConnecting, Since: t0.Add(time.Second)},
		{Channel: "telegram", Account: "@genos_bot", State: chat.ChannelConnected, Since: t0.Add(3 * time.Second)},
		{Channel: "telegram", Account: "@genos_bot", State: chat.ChannelReconnecting, Reason: "network unreachable", Since: tRe, LastInbound: tIn},
		{Channel: "telegram", Account: "@genos_bot", State: chat.ChannelReconnecting, Reason: "no updates for 90s", Since: tRe, LastInbound: tIn},
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[len(want)-1], h.Status()); diff != "" {
		t.Errorf("final status (-want +got):\n%s", diff)
	}
}

func TestHealthConcurrent(t *testing.T) {
	t.Parallel()
	h := NewHealth("whatsapp", nil)
	var mu sync.Mutex
	calls := 0
	h.OnChange(func(chat.ChannelStatus) { mu.Lock(); calls++; mu.Unlock() })
	var wg sync.WaitGroup
	states := []chat.ChannelState{chat.ChannelConnecting, chat.ChannelConnected, chat.ChannelReconnecting}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				h.Set(states[(i+j)%3], "")
				h.Inbound()
				_ = h.Status()
			}
		}()
	}
	wg.Wait()
	if calls == 0 {
		t.Error("no change reported")
	}
	if h.Status().LastInbound.IsZero() {
		t.Error("LastInbound not set")
	}
}
