package vault

import (
	"context"
	"time"
)

// DefaultIdleTimeout is how long an unlocked vault may go unused before Run
// locks it.
const DefaultIdleTimeout = 30 * time.Minute

// Clock is the time source for auto-lock, injectable so tests need no sleeps.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SetIdleTimeout sets how long the vault may go unused before Run locks it;
// 0 (or negative) means never. It takes effect immediately, also for a Run in
// progress.
func (v *Vault) SetIdleTimeout(d time.Duration) {
	v.idle.Store(int64(max(d, 0)))
	v.kick()
}

// IdleTimeout returns the auto-lock timeout; 0 means never.
func (v *Vault) IdleTimeout() time.Duration { return time.Duration(v.idle.Load()) }

// Touch records use of the vault, postponing auto-lock. Every sealed
// operation touches the vault; the UI calls Touch for user activity that does
// not read sealed data.
func (v *Vault) Touch() {
	v.lastUse.Store(int64(v.clock.Now().Sub(v.base)))
}

// kick wakes Run to recompute its deadline.
func (v *Vault) kick() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// Run locks the vault once it has been unlocked and unused for the idle
// timeout. It blocks until ctx is done and then returns nil; it does not lock
// on return (the owner decides that on shutdown).
func (v *Vault) Run(ctx context.Context) error {
	for {
		var fire <-chan time.Time
		if wait, armed := v.lockIfIdle(); armed {
			fire = v.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-fire:
		case <-v.wake:
		}
	}
}

// lockIfIdle locks the vault if it is unlocked and idle for the timeout.
// Otherwise it reports how long until it would be, and false if there is
// nothing to wait for (locked, or no timeout).
func (v *Vault) lockIfIdle() (wait time.Duration, armed bool) {
	locked := v.lockIf(func() bool {
		timeout := time.Duration(v.idle.Load())
		if timeout <= 0 {
			return false
		}
		idle := v.clock.Now().Sub(v.base) - time.Duration(v.lastUse.Load())
		wait = timeout - idle
		return wait <= 0
	}, "vault auto-locked")
	if locked || wait <= 0 {
		return 0, false
	}
	return wait, true
}
