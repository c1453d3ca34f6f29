package channels

import (
	"sync"
	"time"
)

// Clock is the time source a Watchdog uses; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, like time.AfterFunc.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not run yet, and reports whether it
	// did so.
	Stop() bool
}

// SystemClock is the real Clock (time.Now, time.AfterFunc).
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Watchdog notices a connection that looks alive but delivers nothing (a
// long poll that hangs, a socket that stopped answering pings without
// closing). The adapter calls Kick on every sign of life and selects on
// Stale; when it fires, it tears the connection down, reconnects, and calls
// Reset.
//
// Kick is cheap (it stores a time): the timer is not re-armed on each kick
// but re-checks when it fires. Safe for concurrent use.
type Watchdog struct {
	timeout time.Duration
	clock   Clock

	mu      sync.Mutex
	last    time.Time
	stale   chan struct{}
	fired   bool
	timer   Timer
	gen     uint64 // invalidates timers from before a Reset or Stop
	stopped bool
}

// NewWatchdog returns an armed watchdog that goes stale after timeout
// without a Kick. clock nil means SystemClock. A timeout <= 0 is treated
// as one minute.
func NewWatchdog(timeout time.Duration, clock Clock) *Watchdog {
	if timeout <= 0 {
		timeout = time.Minute
	}
	if clock == nil {
		clock = SystemClock{}
	}
	w := &Watchdog{timeout: timeout, clock: clock}
	w.Reset()
	return w
}

// Kick records a sign of life.
func (w *Watchdog) Kick() {
	now := w.clock.Now()
	w.mu.Lock()
	if now.After(w.last) {
		w.last = now
	}
	w.mu.Unlock()
}

// Stale returns a channel that is closed once timeout has passed without a
// Kick. After Reset, call Stale again: Reset replaces a closed channel.
func (w *Watchdog) Stale() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stale
}

// Reset re-arms the watchdog as if kicked now, with a fresh Stale channel
// if the old one had closed. It also restarts a stopped watchdog.
func (w *Watchdog) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked()
	w.stopped = false
	w.last = w.clock.Now()
	if w.stale == nil || w.fired {
		w.stale = make(chan struct{})
		w.fired = false
	}
	w.armLocked(w.timeout)
}

// Stop disarms the watchdog (Stale will not close) and releases its timer.
func (w *Watchdog) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopLocked()
	w.stopped = true
}

func (w *Watchdog) stopLocked() {
	w.gen++
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

func (w *Watchdog) armLocked(d time.Duration) {
	gen := w.gen
	w.timer = w.clock.AfterFunc(d, func() { w.check(gen) })
}

// check runs when the timer fires: stale if the last kick is old enough,
// otherwise re-arm for the time still left.
func (w *Watchdog) check(gen uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen || w.stopped || w.fired {
		return
	}
	left := w.timeout - w.clock.Now().Sub(w.last)
	if left > 0 {
		w.armLocked(left)
		return
	}
	w.fired = true
	w.timer = nil
	close(w.stale)
}
