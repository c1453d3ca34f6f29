package policy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

// stepClock is a manual clock for the limiter: timers fire when Advance
// passes them, or at once if already due when created.
type stepClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []stepTimer
}

type stepTimer struct {
	at time.Time
	c  chan time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := stepTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t.c, func() bool { return true }
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
	}
	c.timers = kept
}

func newTestLimiter(t *testing.T, cfg LimiterConfig) (*Limiter, *stepClock) {
	t.Helper()
	l, err := NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &stepClock{now: accessStart}
	l.now, l.after = c.Now, c.After
	return l, c
}

func msg(peer string, i int) chat.Inbound {
	return chat.Inbound{Channel: "telegram", Peer: peer, Text: fmt.Sprintf("%s-%d", peer, i)}
}

// drain pops every message due now.
func drain(l *Limiter) []string {
	var out []string
	for {
		in, ok, _ := l.popDue()
		if !ok {
			return out
		}
		out = append(out, in.Text)
	}
}

func texts(peer string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", peer, i))
	}
	return out
}

func TestLimiterFloodFromOnePeer(t *testing.T) {
	l, clock := newTestLimiter(t, LimiterConfig{})
	notices := 0
	for i := range 100 {
		adm := l.Submit(msg("spammer", i))
		if !adm.Accepted {
			t.Fatalf("message %d refused: %+v", i, adm)
		}
		wantDropped := 0
		if i >= DefaultQueueSize {
			wantDropped = 1
		}
		if adm.Dropped != wantDropped || adm.Ahead != min(i, DefaultQueueSize-1) {
			t.Errorf("message %d: %+v", i, adm)
		}
		if adm.Notice {
			notices++
		}
		if s := l.Stats(); s.Queued > DefaultQueueSize {
			t.Fatalf("after %d messages %d are queued, bound is %d", i+1, s.Queued, DefaultQueueSize)
		}
	}
	if notices != 1 {
		t.Errorf("%d flood notices, want 1", notices)
	}
	if s := l.Stats(); s != (LimiterStats{Peers: 1, Queued: 20, Dropped: 80}) {
		t.Errorf("Stats = %+v", s)
	}

	// The burst goes at once, then one message per refill, in order.
	got := drain(l)
	if d := cmp.Diff(texts("spammer", 80, 85), got); d != "" {
		t.Errorf("burst (-want +got):\n%s", d)
	}
	if _, ok, next := l.popDue(); ok || !next.Equal(accessStart.Add(DefaultRefill)) {
		t.Errorf("next due at %v, want %v", next, accessStart.Add(DefaultRefill))
	}
	for len(got) < 20 {
		clock.Advance(DefaultRefill)
		step := drain(l)
		if len(step) != 1 {
			t.Fatalf("one refill delivered %d messages, want 1", len(step))
		}
		got = append(got, step...)
	}
	if d := cmp.Diff(texts("spammer", 80, 100), got); d != "" {
		t.Errorf("delivery order (-want +got):\n%s", d)
	}
	if s := l.Stats(); s != (LimiterStats{Peers: 1, Queued: 0, Delivered: 20, Dropped: 80}) {
		t.Errorf("Stats = %+v", s)
	}
	if _, ok, next := l.popDue(); ok || !next.IsZero() {
		t.Errorf("popDue on an empty limiter = %v, %v", ok, next)
	}

	// The notice comes back only after NoticeEvery.
	for i := range 21 {
		if adm := l.Submit(msg("spammer", 100+i)); adm.Notice {
			t.Errorf("notice again %d after the last one", i)
		}
	}
	clock.Advance(DefaultNoticeEvery)
	if adm := l.Submit(msg("spammer", 200)); !adm.Notice || adm.Dropped != 1 {
		t.Errorf("after NoticeEvery: %+v, want a notice", adm)
	}
}

func TestLimiterQuietPeerNotStarved(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Burst: 2})
	for i := range 10 {
		l.Submit(msg("flood", i))
	}
	l.Submit(msg("quiet", 0))
	// Both are ready now: they take turns, so the quiet peer's one message
	// does not wait behind the flooder's burst.
	got := drain(l)
	if d := cmp.Diff([]string{"flood-0", "quiet-0", "flood-1"}, got); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}
}

func TestLimiterBurstRefillsOverTime(t *testing.T) {
	l, clock := newTestLimiter(t, LimiterConfig{Burst: 3, Refill: time.Second})
	for i := range 3 {
		l.Submit(msg("p", i))
	}
	if got := drain(l); len(got) != 3 {
		t.Fatalf("first burst delivered %d", len(got))
	}
	// A long pause refills the bucket, but never beyond Burst.
	clock.Advance(time.Hour)
	for i := range 5 {
		l.Submit(msg("p", 3+i))
	}
	if got := drain(l); len(got) != 3 {
		t.Errorf("after a pause %d delivered at once, want the burst of 3", len(got))
	}
	clock.Advance(1500 * time.Millisecond)
	if got := drain(l); len(got) != 1 {
		t.Errorf("1.5 refills delivered %d, want 1", len(got))
	}
	clock.Advance(500 * time.Millisecond)
	if got := drain(l); len(got) != 1 {
		t.Errorf("the half refill carried over: delivered %d, want 1", len(got))
	}
}

func TestLimiterManyPeersBounded(t *testing.T) {
	t.Run("evicts idle peers first", func(t *testing.T) {
		l, _ := newTestLimiter(t, LimiterConfig{MaxPeers: 100})
		for i := range 1000 {
			l.Submit(msg(fmt.Sprintf("p%d", i), 0))
			drain(l) // everyone is served at once: peers are idle when evicted
		}
		if s := l.Stats(); s != (LimiterStats{Peers: 100, Delivered: 1000}) {
			t.Errorf("Stats = %+v", s)
		}
	})
	t.Run("evicting busy peers counts their messages", func(t *testing.T) {
		l, _ := newTestLimiter(t, LimiterConfig{MaxPeers: 100, MaxQueued: 5000})
		for i := range 1000 {
			l.Submit(msg(fmt.Sprintf("p%d", i), 0))
		}
		if s := l.Stats(); s != (LimiterStats{Peers: 100, Queued: 100, Dropped: 900}) {
			t.Errorf("Stats = %+v", s)
		}
		got := drain(l)
		if d := cmp.Diff("p900-0", got[0]); d != "" || len(got) != 100 {
			t.Errorf("delivered %d, first %q; want the 100 newest peers", len(got), got[0])
		}
		if l.ready.Len() != 0 || len(l.peers) != l.lru.Len() {
			t.Errorf("internal state out of step: ready %d, peers %d, lru %d", l.ready.Len(), len(l.peers), l.lru.Len())
		}
	})
	t.Run("total queue bound", func(t *testing.T) {
		l, _ := newTestLimiter(t, LimiterConfig{Burst: 1, MaxQueued: 10})
		for i := range 10 {
			l.Submit(msg(fmt.Sprintf("p%d", i), 0))
			l.Submit(msg(fmt.Sprintf("p%d", i), 1))
		}
		// 10 queued in all (p0..p4 twice): the rest is refused.
		adm := l.Submit(msg("late", 0))
		if adm.Accepted || !adm.Notice {
			t.Errorf("submit past MaxQueued = %+v, want refused with a notice", adm)
		}
		s := l.Stats()
		if s.Queued != 10 || s.Dropped != 11 {
			t.Errorf("Stats = %+v, want 10 queued and 11 dropped", s)
		}
	})
}

func TestLimiterRun(t *testing.T) {
	l, clock := newTestLimiter(t, LimiterConfig{Burst: 2, Refill: 3 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	delivered := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(_ context.Context, in chat.Inbound) { delivered <- in.Text })
	}()

	recv := func() string {
		t.Helper()
		select {
		case s := <-delivered:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery")
			return ""
		}
	}
	for i := range 4 {
		l.Submit(msg("p", i))
	}
	got := []string{recv(), recv()}
	clock.Advance(3 * time.Second)
	got = append(got, recv())
	clock.Advance(3 * time.Second)
	got = append(got, recv())
	if d := cmp.Diff(texts("p", 0, 4), got); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}

	if err := l.Run(ctx, func(context.Context, chat.Inbound) {}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err := l.Run(t.Context(), nil); err == nil {
		t.Error("Run with nil deliver succeeded")
	}
}

func TestLimiterConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  LimiterConfig
		want string
	}{
		{"zero", LimiterConfig{}, ""},
		{"set", LimiterConfig{Burst: 1, Refill: time.Second, QueueSize: 1, MaxPeers: 1, MaxQueued: 1, NoticeEvery: time.Minute}, ""},
		{"negative burst", LimiterConfig{Burst: -1}, "burst: negative"},
		{"negative refill", LimiterConfig{Refill: -time.Second}, "refill: negative"},
		{"several", LimiterConfig{QueueSize: -1, MaxPeers: -1}, "maxPeers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				if _, err := NewLimiter(tt.cfg); err != nil {
					t.Fatalf("NewLimiter = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
			if _, err := NewLimiter(tt.cfg); err == nil {
				t.Fatal("NewLimiter accepted an invalid config")
			}
		})
	}
}

// TestLimiterConcurrentSubmit exercises Submit from many goroutines while
// Run delivers, for the race detector; every accepted message is delivered
// exactly once, each peer's in order.
func TestLimiterConcurrentSubmit(t *testing.T) {
	l, err := NewLimiter(LimiterConfig{Burst: 1000, Refill: time.Millisecond, QueueSize: 1000, MaxQueued: 100000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var (
		mu   sync.Mutex
		last = map[string]int{}
		bad  []string
		n    int
		all  = make(chan struct{})
	)
	const peers, each = 8, 50
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(_ context.Context, in chat.Inbound) {
			mu.Lock()
			defer mu.Unlock()
			var i int
			fmt.Sscanf(in.Text[strings.LastIndex(in.Text, "-")+1:], "%d", &i)
			if prev, ok := last[in.Peer]; ok && i != prev+1 {
				bad = append(bad, in.Text)
			}
			last[in.Peer] = i
			n++
			if n == peers*each {
				close(all)
			}
		})
	}()
	var wg sync.WaitGroup
	for p := range peers {
		wg.Go(func() {
			for i := range each {
				l.Submit(msg(fmt.Sprintf("c%d", p), i))
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("delivered %d of %d", l.Stats().Delivered, peers*each)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("out of order: %v", bad)
	}
}
