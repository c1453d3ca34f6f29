package policy

import "sync"

// eventQueue delivers events to a callback in the order they were pushed,
// one at a time, without the caller's lock held. Callers push while holding
// their own lock (so the order is the order of state changes) and flush
// after releasing it. Only one goroutine delivers at a time; the others
// leave their events for it, which also lets the callback call back into
// the caller (its own events are delivered after it returns). This is the
// scheme Approvals uses, shared here by Access.
type eventQueue[T any] struct {
	fn func(T)

	mu         sync.Mutex
	q          []T
	delivering bool
}

func newEventQueue[T any](fn func(T)) *eventQueue[T] {
	return &eventQueue[T]{fn: fn}
}

func (e *eventQueue[T]) push(evs ...T) {
	if e.fn == nil || len(evs) == 0 {
		return
	}
	e.mu.Lock()
	e.q = append(e.q, evs...)
	e.mu.Unlock()
}

func (e *eventQueue[T]) flush() {
	if e.fn == nil {
		return
	}
	e.mu.Lock()
	if e.delivering {
		e.mu.Unlock()
		return
	}
	e.delivering = true
	e.mu.Unlock()

	finished := false
	defer func() {
		if !finished { // fn panicked: let the next caller deliver
			e.mu.Lock()
			e.delivering = false
			e.mu.Unlock()
		}
	}()
	var zero T
	for {
		e.mu.Lock()
		if len(e.q) == 0 {
			e.delivering = false
			e.mu.Unlock()
			finished = true
			return
		}
		ev := e.q[0]
		e.q[0] = zero
		e.q = e.q[1:]
		e.mu.Unlock()
		e.fn(ev)
	}
}
