package session

import (
	"container/list"
	"context"
	"sync"
)

// Queue runs work one run at a time per session key, in arrival order, with
// at most maxConcurrent runs executing across all keys. It starts no
// goroutines and keeps no state for a key once its runs have finished.
//
// A run first waits for its key's turn (FIFO per key), then for a global slot
// (FIFO across keys). Holding the key's turn while waiting for a slot keeps
// later runs of the same key behind it.
type Queue struct {
	mu     sync.Mutex
	max    int
	active int
	slots  list.List // of *waiter, waiting for a global slot
	keys   map[string]*keyState
}

type keyState struct {
	waiters    list.List // of *waiter, waiting for the key's turn
	holderSlot bool      // the turn holder is waiting for a global slot
}

// waiter is one blocked caller. granted is set under Queue.mu by whoever
// hands it what it waited for, so a caller whose ctx ends at the same moment
// can tell whether it must pass the grant on.
type waiter struct {
	ready   chan struct{}
	granted bool
	ks      *keyState // for slot waiters: whose holderSlot to clear
}

// NewQueue returns a queue allowing maxConcurrent runs at once across all
// keys; values below 1 mean 1.
func NewQueue(maxConcurrent int) *Queue {
	return &Queue{max: max(maxConcurrent, 1), keys: make(map[string]*keyState)}
}

// Do waits for key's turn and a free slot, runs fn and returns its error. If
// ctx ends while waiting, Do gives up its place and returns ctx.Err() without
// running fn. fn receives ctx; a panic in fn is propagated after the turn and
// slot are released.
func (q *Queue) Do(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return q.Reserve(key).Do(ctx, fn)
}

// Ticket is a place in a key's line. Reserve takes it at once, so work
// handed to goroutines keeps the order it was reserved in, whatever order
// the goroutines get to run.
type Ticket struct {
	q   *Queue
	key string
	w   *waiter // nil: the turn was free and is held already
	e   *list.Element
	ks  *keyState
}

// Reserve takes the next place in key's line. The ticket must be used with
// Do exactly once, or the line stalls behind it.
func (q *Queue) Reserve(key string) *Ticket {
	q.mu.Lock()
	defer q.mu.Unlock()
	ks := q.keys[key]
	if ks == nil {
		// No entry means nobody holds the turn: take it.
		q.keys[key] = &keyState{}
		return &Ticket{q: q, key: key}
	}
	w := &waiter{ready: make(chan struct{})}
	return &Ticket{q: q, key: key, w: w, e: ks.waiters.PushBack(w), ks: ks}
}

// Do waits for the ticket's turn and a free slot, runs fn and returns its
// error; see Queue.Do. If ctx ends first, the place is given up.
func (t *Ticket) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := t.wait(ctx); err != nil {
		return err
	}
	defer t.q.releaseKey(t.key)
	if err := t.q.acquireSlot(ctx, t.key); err != nil {
		return err
	}
	defer t.q.releaseSlot()
	return fn(ctx)
}

func (t *Ticket) wait(ctx context.Context) error {
	if t.w == nil {
		if err := ctx.Err(); err != nil {
			t.q.releaseKey(t.key)
			return err
		}
		return nil
	}
	select {
	case <-t.w.ready:
		return nil
	case <-ctx.Done():
	}
	t.q.mu.Lock()
	if t.w.granted {
		// The turn arrived as ctx ended: pass it on.
		t.q.mu.Unlock()
		t.q.releaseKey(t.key)
		return ctx.Err()
	}
	t.ks.waiters.Remove(t.e)
	t.q.mu.Unlock()
	return ctx.Err()
}

// Active returns how many runs are executing now.
func (q *Queue) Active() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active
}

// Waiting returns how many runs of key are queued and not yet executing.
func (q *Queue) Waiting(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	ks := q.keys[key]
	if ks == nil {
		return 0
	}
	n := ks.waiters.Len()
	if ks.holderSlot {
		n++
	}
	return n
}

// releaseKey hands the key's turn to the next waiter or forgets the key.
func (q *Queue) releaseKey(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ks := q.keys[key]
	if front := ks.waiters.Front(); front != nil {
		w := ks.waiters.Remove(front).(*waiter)
		w.granted = true
		close(w.ready)
		return
	}
	delete(q.keys, key)
}

func (q *Queue) acquireSlot(ctx context.Context, key string) error {
	q.mu.Lock()
	if q.active < q.max {
		q.active++
		q.mu.Unlock()
		return nil
	}
	ks := q.keys[key]
	ks.holderSlot = true
	w := &waiter{ready: make(chan struct{}), ks: ks}
	e := q.slots.PushBack(w)
	q.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if w.granted {
		q.mu.Unlock()
		q.releaseSlot()
		return ctx.Err()
	}
	q.slots.Remove(e)
	ks.holderSlot = false
	q.mu.Unlock()
	return ctx.Err()
}

// releaseSlot hands the slot to the next waiter, keeping active unchanged,
// or frees it.
func (q *Queue) releaseSlot() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if front := q.slots.Front(); front != nil {
		w := q.slots.Remove(front).(*waiter)
		w.ks.holderSlot = false
		w.granted = true
		close(w.ready)
		return
	}
	q.active--
}
