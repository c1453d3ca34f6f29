package channels

import (
	"sync"
	"testing"
	"time"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestWatchdog(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w := NewWatchdog(time.Minute, clk)

	clk.Advance(59 * time.Second)
	if isClosed(w.Stale()) {
		t.Fatal("stale before timeout")
	}
	w.Kick()
	clk.Advance(30 * time.Second) // 89s since start, 30s since kick
	if isClosed(w.Stale()) {
		t.Fatal("stale although kicked 30s ago")
	}
	clk.Advance(29 * time.Second)
	if isClosed(w.Stale()) {
		t.Fatal("stale 59s after kick")
	}
	clk.Advance(time.Second)
	stale := w.Stale()
	if !isClosed(stale) {
		t.Fatal("not stale 60s after the last kick")
	}
	if clk.pending() != 0 {
		t.Errorf("%d timers still pending after firing", clk.pending())
	}

	w.Kick() // a kick after stale does not un-close it
	if !isClosed(w.Stale()) {
		t.Fatal("kick reopened a stale watchdog")
	}

	w.Reset()
	if isClosed(w.Stale()) {
		t.Fatal("Reset did not re-arm")
	}
	if !isClosed(stale) {
		t.Fatal("old channel must stay closed")
	}
	clk.Advance(time.Minute)
	if !isClosed(w.Stale()) {
		t.Fatal("not stale a minute after Reset")
	}

	w.Reset()
	w.Stop()
	clk.Advance(time.Hour)
	if isClosed(w.Stale()) {
		t.Fatal("stopped watchdog went stale")
	}
	if clk.pending() != 0 {
		t.Errorf("Stop left %d timers", clk.pending())
	}
	w.Reset() // restarts
	clk.Advance(time.Minute)
	if !isClosed(w.Stale()) {
		t.Fatal("restarted watchdog did not go stale")
	}
}

func TestWatchdogResetBeforeFire(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	w := NewWatchdog(10*time.Second, clk)
	first := w.Stale()
	clk.Advance(9 * time.Second)
	w.Reset() // not stale yet: same channel, timer re-armed
	if w.Stale() != first {
		t.Error("Reset replaced an open channel")
	}
	clk.Advance(9 * time.Second)
	if isClosed(first) {
		t.Fatal("old timer fired after Reset")
	}
	clk.Advance(time.Second)
	if !isClosed(first) {
		t.Fatal("not stale 10s after Reset")
	}
}

func TestWatchdogDefaults(t *testing.T) {
	t.Parallel()
	w := NewWatchdog(0, nil) // one minute, real clock
	defer w.Stop()
	if w.timeout != time.Minute {
		t.Errorf("timeout = %v", w.timeout)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				w.Kick()
				_ = w.Stale()
			}
		}()
	}
	wg.Wait()
	if isClosed(w.Stale()) {
		t.Error("stale right after start")
	}
}

func TestWatchdogRealClockFires(t *testing.T) {
	t.Parallel()
	w := NewWatchdog(time.Millisecond, SystemClock{})
	defer w.Stop()
	select {
	case <-w.Stale():
	case <-time.After(10 * time.Second):
		t.Fatal("real-clock watchdog never went stale")
	}
}
