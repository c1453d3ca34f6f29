package vault

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAutoLock drives Run with a fake clock: use postpones the lock, idleness
// triggers it, and a locked vault stays locked.
func TestAutoLock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newTestVault(t, Options{Clock: clock})
	if v.IdleTimeout() != DefaultIdleTimeout {
		t.Fatalf("default idle timeout %v, want %v", v.IdleTimeout(), DefaultIdleTimeout)
	}
	changes := make(chan bool, 4)
	v.OnChange(func(locked bool) { changes <- locked })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	start := clock.Now()
	clock.waitForWaiter(t, start.Add(30*time.Minute))
	clock.Advance(29 * time.Minute)
	if _, err := v.SealLine([]byte("use")); err != nil { // touches the vault
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // timer fires; 1 min idle, so Run re-arms
	clock.waitForWaiter(t, start.Add(59*time.Minute))
	if v.Locked() {
		t.Fatal("vault locked although it was used a minute ago")
	}
	clock.Advance(29 * time.Minute)
	select {
	case locked := <-changes:
		if !locked {
			t.Fatal("got an unlock event, want lock")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("vault not auto-locked after 30 idle minutes")
	}
	if _, err := v.SealFile([]byte("x")); !errors.Is(err, ErrLocked) {
		t.Fatalf("seal after auto-lock = %v, want ErrLocked", err)
	}

	// Unlocking wakes Run, which arms a new timer from now.
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	<-changes
	clock.waitForWaiter(t, clock.Now().Add(30*time.Minute))
}

// TestIdleTimeoutSettings checks lockIfIdle directly, without Run.
func TestIdleTimeoutSettings(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	v := newTestVault(t, Options{Clock: clock})

	v.SetIdleTimeout(0)
	clock.Advance(48 * time.Hour)
	if _, armed := v.lockIfIdle(); armed || v.Locked() {
		t.Fatal("timeout 0 must never lock nor arm a timer")
	}

	v.SetIdleTimeout(-time.Second)
	if v.IdleTimeout() != 0 {
		t.Fatalf("negative timeout stored as %v, want 0", v.IdleTimeout())
	}

	v.SetIdleTimeout(5 * time.Minute)
	v.Touch()
	clock.Advance(2 * time.Minute)
	if wait, armed := v.lockIfIdle(); !armed || wait != 3*time.Minute || v.Locked() {
		t.Fatalf("lockIfIdle = %v, %v; want 3m armed and unlocked", wait, armed)
	}
	clock.Advance(3 * time.Minute)
	if _, armed := v.lockIfIdle(); armed || !v.Locked() {
		t.Fatal("vault not locked after 5 idle minutes")
	}
	if _, armed := v.lockIfIdle(); armed {
		t.Fatal("a locked vault must not arm a timer")
	}
}
