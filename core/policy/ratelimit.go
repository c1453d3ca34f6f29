package policy

import (
	"container/heap"
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/genos-project/genos/core/chat"
)

// Limiter defaults: a burst of 5 messages, then one every 3 s; 20 waiting
// per peer; 10,000 peers tracked; 2,000 messages waiting in all; one flood
// notice per peer per 10 minutes.
const (
	DefaultBurst       = 5
	DefaultRefill      = 3 * time.Second
	DefaultQueueSize   = 20
	DefaultMaxPeers    = 10000
	DefaultMaxQueued   = 2000
	DefaultNoticeEvery = 10 * time.Minute
)

// FloodNotice is the one reply a flooding sender may get (see
// Admission.Notice).
const FloodNotice = "You're sending messages faster than I can read them, so I skipped some. " +
	"Please wait a moment before sending more."

// LimiterConfig sets the rate limits. Zero fields take the defaults.
type LimiterConfig struct {
	// Burst is how many messages a peer may send at once (bucket size).
	Burst int `json:"burst,omitempty"`
	// Refill is how long it takes to earn one more message.
	Refill time.Duration `json:"refill,omitempty"`
	// QueueSize bounds the messages waiting per peer; beyond it the oldest
	// waiting one is dropped.
	QueueSize int `json:"queueSize,omitempty"`
	// MaxPeers bounds the peers tracked; beyond it the least recently seen
	// is forgotten.
	MaxPeers int `json:"maxPeers,omitempty"`
	// MaxQueued bounds the messages waiting across all peers; beyond it a
	// new message is dropped.
	MaxQueued int `json:"maxQueued,omitempty"`
	// NoticeEvery is the least time between two flood notices to a peer.
	NoticeEvery time.Duration `json:"noticeEvery,omitempty"`
}

// Validate reports every negative field.
func (c LimiterConfig) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"burst", int64(c.Burst)}, {"refill", int64(c.Refill)}, {"queueSize", int64(c.QueueSize)},
		{"maxPeers", int64(c.MaxPeers)}, {"maxQueued", int64(c.MaxQueued)}, {"noticeEvery", int64(c.NoticeEvery)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("rate limit %s: negative", f.name))
		}
	}
	return errors.Join(errs...)
}

func (c LimiterConfig) withDefaults() LimiterConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Burst, DefaultBurst)
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.MaxPeers, DefaultMaxPeers)
	def(&c.MaxQueued, DefaultMaxQueued)
	if c.Refill == 0 {
		c.Refill = DefaultRefill
	}
	if c.NoticeEvery == 0 {
		c.NoticeEvery = DefaultNoticeEvery
	}
	return c
}

// Admission is what Submit did with a message.
type Admission struct {
	// Accepted reports whether the message is waiting for delivery. It is
	// false only when MaxQueued messages are already waiting in all.
	Accepted bool
	// Ahead is how many messages of the same peer wait before it.
	Ahead int
	// Dropped is how many older waiting messages of the peer were dropped
	// to make room for it (0 or 1).
	Dropped int
	// Notice reports that a message of this peer was just lost (Dropped > 0
	// or not Accepted) and no notice went to the peer in the last
	// NoticeEvery: the gateway may send FloodNotice once. Senders are never
	// told more often, so a flood cannot turn the assistant into a spammer.
	Notice bool
}

// LimiterStats is a snapshot of a Limiter's counters.
type LimiterStats struct {
	Peers     int    // peers tracked
	Queued    int    // messages waiting
	Delivered uint64 // messages handed to deliver so far
	Dropped   uint64 // messages lost to queue limits or peer eviction
}

// Limiter throttles inbound messages per peer with a token bucket and
// delivers them in order as the peer earns tokens. A peer who floods is
// queued, not refused: up to QueueSize of their messages wait, and beyond
// that the oldest waiting one is dropped and counted (the newest say the
// most about what the sender wants now). Memory is bounded by MaxPeers
// tracked peers (least recently seen forgotten first) and MaxQueued waiting
// messages in all (each as large as the adapter lets an attachment be).
// The gateway should call Access.Check first, so strangers never take queue
// space.
//
// Concurrency: Submit may be called from any goroutine (every adapter's
// deliver callback) and never blocks on delivery. Run, called once at a
// time, is the only caller of deliver: messages are handed over one at a
// time, each peer's in the order Submit received them, peers taking turns
// when several are ready. Because of that, deliver must be quick (hand the
// message to the session's run queue, do not run the agent in it).
type Limiter struct {
	cfg LimiterConfig

	// Test seams: the clock and the timer Run sleeps on.
	now   func() time.Time
	after func(time.Duration) (<-chan time.Time, func() bool)

	wake chan struct{} // capacity 1: Submit tells Run there is work

	mu      sync.Mutex
	peers   map[string]*peerState
	lru     *list.List // of *peerState, most recently seen first
	ready   readyHeap  // peers with waiting messages, by when they may send
	seq     uint64     // ready-heap tie-break: peers take turns
	queued  int
	stats   LimiterStats
	running bool
}

type peerState struct {
	key      string
	tokens   int
	last     time.Time // when tokens was last brought up to date
	queue    []chat.Inbound
	noticeAt time.Time
	noticed  bool
	elem     *list.Element
	idx      int // in ready; -1 when nothing waits
	readyAt  time.Time
	readySeq uint64
}

// NewLimiter returns a limiter with cfg (zero fields take the defaults).
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Limiter{
		cfg: cfg.withDefaults(),
		now: time.Now,
		after: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
		wake:  make(chan struct{}, 1),
		peers: make(map[string]*peerState),
		lru:   list.New(),
	}, nil
}

// peerKey identifies the sender of in: a peer is per channel and account,
// and in groups it is the member who wrote, not the group.
func peerKey(in chat.Inbound) string {
	return in.Channel + "\x00" + in.Account + "\x00" + in.Peer
}

// Submit queues in for delivery by Run and returns at once.
func (l *Limiter) Submit(in chat.Inbound) Admission {
	l.mu.Lock()
	now := l.now()
	p := l.peerLocked(peerKey(in), now)
	var adm Admission
	switch {
	case len(p.queue) >= l.cfg.QueueSize:
		p.queue[0] = chat.Inbound{}
		p.queue = p.queue[1:]
		l.queued--
		l.stats.Dropped++
		adm.Dropped = 1
		adm.Notice = l.noticeLocked(p, now)
	case l.queued >= l.cfg.MaxQueued:
		l.stats.Dropped++
		adm.Notice = l.noticeLocked(p, now)
		l.mu.Unlock()
		return adm
	}
	p.queue = append(p.queue, in)
	l.queued++
	adm.Accepted = true
	adm.Ahead = len(p.queue) - 1
	if p.idx < 0 {
		l.refill(p, now)
		l.scheduleLocked(p, now)
		heap.Push(&l.ready, p)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return adm
}

// peerLocked returns the state of key, created with a full bucket if new,
// and marks it most recently seen.
func (l *Limiter) peerLocked(key string, now time.Time) *peerState {
	if p, ok := l.peers[key]; ok {
		l.lru.MoveToFront(p.elem)
		return p
	}
	if len(l.peers) >= l.cfg.MaxPeers {
		l.evictLocked()
	}
	p := &peerState{key: key, tokens: l.cfg.Burst, last: now, idx: -1}
	p.elem = l.lru.PushFront(p)
	l.peers[key] = p
	return p
}

// evictScan is how many of the least recently seen peers evictLocked looks
// at for one with nothing waiting, before it gives up and forgets the very
// oldest, waiting messages and all.
const evictScan = 16

func (l *Limiter) evictLocked() {
	victim := l.lru.Back()
	for e, i := victim, 0; e != nil && i < evictScan; e, i = e.Prev(), i+1 {
		if len(e.Value.(*peerState).queue) == 0 {
			victim = e
			break
		}
	}
	if victim == nil {
		return
	}
	p := victim.Value.(*peerState)
	if p.idx >= 0 {
		heap.Remove(&l.ready, p.idx)
	}
	l.queued -= len(p.queue)
	l.stats.Dropped += uint64(len(p.queue))
	l.lru.Remove(victim)
	delete(l.peers, p.key)
}

func (l *Limiter) noticeLocked(p *peerState, now time.Time) bool {
	if p.noticed && now.Sub(p.noticeAt) < l.cfg.NoticeEvery {
		return false
	}
	p.noticed, p.noticeAt = true, now
	return true
}

// refill brings p's tokens up to date: one per Refill since last, at most
// Burst.
func (l *Limiter) refill(p *peerState, now time.Time) {
	if now.Before(p.last) { // the clock went back: restart the interval
		p.last = now
	}
	if p.tokens >= l.cfg.Burst {
		p.last = now
		return
	}
	n := int(now.Sub(p.last) / l.cfg.Refill)
	if n <= 0 {
		return
	}
	p.tokens += n
	p.last = p.last.Add(time.Duration(n) * l.cfg.Refill)
	if p.tokens >= l.cfg.Burst {
		p.tokens, p.last = l.cfg.Burst, now
	}
}

// scheduleLocked sets when p may next send: now if it has a token, else
// when the next one is earned.
func (l *Limiter) scheduleLocked(p *peerState, now time.Time) {
	if p.tokens > 0 {
		p.readyAt = now
	} else {
		p.readyAt = p.last.Add(l.cfg.Refill)
	}
	p.readySeq = l.seq
	l.seq++
}

// popDue takes the next message that may be delivered now. When there is
// none it returns the time the next one will be due (zero if nothing waits).
func (l *Limiter) popDue() (chat.Inbound, bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for len(l.ready) > 0 {
		p := l.ready[0]
		if p.readyAt.After(now) {
			return chat.Inbound{}, false, p.readyAt
		}
		l.refill(p, now)
		if p.tokens == 0 { // scheduled by an older clock reading
			l.scheduleLocked(p, now)
			heap.Fix(&l.ready, p.idx)
			continue
		}
		p.tokens--
		in := p.queue[0]
		p.queue[0] = chat.Inbound{}
		p.queue = p.queue[1:]
		l.queued--
		l.stats.Delivered++
		if len(p.queue) == 0 {
			p.queue = nil // let the backing array go
			heap.Remove(&l.ready, p.idx)
		} else {
			l.scheduleLocked(p, now)
			heap.Fix(&l.ready, p.idx)
		}
		return in, true, time.Time{}
	}
	return chat.Inbound{}, false, time.Time{}
}

// Run hands waiting messages to deliver as their senders earn tokens, until
// ctx ends; it then returns nil and leaves what still waits for the next
// Run. Only one Run may be active at a time.
func (l *Limiter) Run(ctx context.Context, deliver func(context.Context, chat.Inbound)) error {
	if deliver == nil {
		return errors.New("rate limiter: nil deliver")
	}
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return errors.New("rate limiter: already running")
	}
	l.running = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.running = false
		l.mu.Unlock()
	}()

	for {
		if ctx.Err() != nil {
			return nil
		}
		in, ok, next := l.popDue()
		if ok {
			deliver(ctx, in)
			continue
		}
		var (
			timer <-chan time.Time
			stop  = func() bool { return false }
		)
		if !next.IsZero() {
			timer, stop = l.after(next.Sub(l.now()))
		}
		select {
		case <-ctx.Done():
		case <-l.wake:
		case <-timer:
		}
		stop()
	}
}

// Stats returns the current counters.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Peers = len(l.peers)
	s.Queued = l.queued
	return s
}

// readyHeap orders peers with waiting messages by when they may send, then
// by when they were last scheduled, so peers ready at the same time take
// turns.
type readyHeap []*peerState

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	if !h[i].readyAt.Equal(h[j].readyAt) {
		return h[i].readyAt.Before(h[j].readyAt)
	}
	return h[i].readySeq < h[j].readySeq
}
func (h readyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *readyHeap) Push(x any) {
	p := x.(*peerState)
	p.idx = len(*h)
	*h = append(*h, p)
}
func (h *readyHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.idx = -1
	return p
}
