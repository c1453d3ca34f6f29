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
	if err := q.acquireKey(ctx, key); err != nil {
		return err
	}
	defer q.releaseKey(key)
	if err := q.acquireSlot(ctx, key); err != nil {
		return err
	}
	defer q.releaseSlot()
	return fn(ctx)
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

func (q *Queue) acquireKey(ctx context.Context, key string) error {
	q.mu.Lock()
	ks := q.keys[key]
	if ks == nil {
		// No entry means nobody holds the turn: take it.
		q.keys[key] = &keyState{}
		q.mu.Unlock()
		return nil
	}
	w := &waiter{ready: make(chan struct{})}
	e := ks.waiters.PushBack(w)
	q.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if w.granted {
		// The turn arrived as ctx ended: pass it on.
		q.mu.Unlock()
		q.releaseKey(key)
		return ctx.Err()
	}
	ks.waiters.Remove(e)
	q.mu.Unlock()
	return ctx.Err()
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
