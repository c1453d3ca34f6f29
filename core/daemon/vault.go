package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/inbox"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/vault"
	"github.com/genos-project/genos/core/vault/keysource"
)

// keySourceWait bounds how long start waits for the key sources.
const keySourceWait = 30 * time.Second

// inboxKeyRef names the secret holding the inbound queue's private key.
const inboxKeyRef = "inbox.key"

// vaultControl serves the gateway's vault.* methods.
type vaultControl struct{ d *Daemon }

func (c vaultControl) Status() api.VaultStatus { return c.d.vaultStatus() }
func (c vaultControl) Unlock(ctx context.Context, pass []byte, remember bool) error {
	return c.d.Unlock(ctx, pass, remember)
}
func (c vaultControl) Lock(ctx context.Context) error { return c.d.Lock(ctx) }
func (c vaultControl) Rekey(ctx context.Context, oldPass, newPass []byte) error {
	return c.d.Rekey(ctx, oldPass, newPass)
}
func (c vaultControl) Create(ctx context.Context, pass []byte, remember bool) error {
	return c.d.CreateVault(ctx, pass, remember)
}

// vaultStatus describes the vault for vault.status and vault.changed.
func (d *Daemon) vaultStatus() api.VaultStatus {
	d.mu.Lock()
	v, e := d.vault, d.eng
	d.mu.Unlock()
	st := api.VaultStatus{State: api.VaultNone}
	if v == nil {
		return st
	}
	st.State = api.VaultUnlocked
	switch {
	case e == nil && d.unlocking.Load():
		st.State = api.VaultUnlocking
	case e == nil:
		st.State = api.VaultLocked
	}
	st.IdleLockMinutes = int(v.IdleTimeout().Minutes())
	st.RekeyPending = v.RekeyPending()
	st.Warning = d.rememberWarning()
	for _, s := range d.opts.KeySources {
		st.KeySources = append(st.KeySources, s.Name())
	}
	if d.inbox != nil {
		st.QueuedInbound = d.inbox.Len()
	}
	return st
}

// tryKeySources unlocks the vault at start from the first key source that
// has the passphrase. A source that has none, or is not available here, is
// skipped quietly; a stored passphrase that is wrong is logged.
func (d *Daemon) tryKeySources(ctx context.Context) {
	defer os.Unsetenv(keysource.EnvVar)
	defer func() {
		d.unlocking.Store(false)
		d.gw.SetUnlocking(false)
		d.mu.Lock()
		if d.eng == nil && d.vault != nil {
			d.notifyVault() // still locked: the app opens its unlock window now
		}
		d.mu.Unlock()
	}()
	for _, s := range d.opts.KeySources {
		// A key store may show an unlock prompt; do not hold the start for
		// long.
		gctx, cancel := context.WithTimeout(ctx, keySourceWait)
		pass, err := s.Get(gctx)
		cancel()
		if errors.Is(err, keysource.ErrNotFound) || errors.Is(err, keysource.ErrUnavailable) {
			continue
		}
		if err != nil {
			d.log.Warn("vault key source failed", "source", s.Name(), "err", err)
			continue
		}
		if ctx.Err() != nil {
			clear(pass)
			return
		}
		err = d.Unlock(ctx, pass, false)
		clear(pass)
		if err == nil {
			d.log.Info("vault unlocked", "source", s.Name())
			return
		}
		d.log.Warn("vault key source could not unlock", "source", s.Name(), "err", err)
	}
	d.log.Info("vault locked: unlock it with genos vault unlock or from the Genos menu")
}

// Unlock opens the vault with pass and starts the engine. With remember,
// the passphrase is also stored in the platform key store.
func (d *Daemon) Unlock(ctx context.Context, pass []byte, remember bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vault == nil {
		return vault.ErrNoVault
	}
	if d.eng != nil {
		return nil
	}
	if err := d.vault.Unlock(pass); err != nil {
		if errors.Is(err, vault.ErrWrongPassphrase) {
			d.record(audit.EventVaultUnlockFailed, nil)
		}
		return err
	}
	if d.vault.RekeyPending() {
		if err := d.finishRekey(ctx); err != nil {
			d.vault.Lock()
			return fmt.Errorf("finish the interrupted rekey: %w", err)
		}
	}
	if err := d.startEngine(ctx); err != nil {
		d.vault.Lock()
		return err
	}
	d.record(audit.EventVaultUnlock, nil)
	if remember {
		d.remember(ctx, pass)
	}
	d.drainInbox(ctx)
	d.notifyVault()
	return nil
}

// Lock stops the engine and locks the vault.
func (d *Daemon) Lock(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vault == nil {
		return vault.ErrNoVault
	}
	d.lockLocked(ctx, "requested")
	return nil
}

// Rekey changes the passphrase and re-seals everything under a new salt.
// The engine pauses meanwhile (nothing may write under the old key), and
// comes back on the new key; a crash part way is finished at next unlock.
func (d *Daemon) Rekey(ctx context.Context, oldPass, newPass []byte) error {
	if len(newPass) < minPassphrase {
		return fmt.Errorf("rekey: %w", errShortPassphrase)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vault == nil {
		return vault.ErrNoVault
	}
	if d.eng == nil {
		return fmt.Errorf("rekey: %w", vault.ErrLocked)
	}
	d.stopEngine(ctx)
	r, err := d.vault.BeginRekey(oldPass, newPass)
	if err == nil {
		err = completeRekey(ctx, d.opts.StateDir, d.db, d.vault, r)
	}
	if serr := d.startEngine(ctx); serr != nil {
		// The keys are still in memory: lock rather than serve half.
		d.vault.Lock()
		d.notifyVault()
		return errors.Join(err, serr)
	}
	if err != nil {
		return err
	}
	d.record(audit.EventVaultRekey, nil)
	// A remembered passphrase is now the old one: replace it.
	if old, gerr := d.opts.Remember.Get(ctx); gerr == nil {
		clear(old)
		d.remember(ctx, newPass)
	}
	d.notifyVault()
	return nil
}

// lockLocked is Lock with d.mu held.
func (d *Daemon) lockLocked(ctx context.Context, reason string) {
	if d.eng != nil {
		d.record(audit.EventVaultLock, map[string]string{"reason": reason})
		d.stopEngine(ctx)
	}
	d.vault.Lock()
	d.notifyVault()
}

// vaultChanged hears of the vault's own transitions. Auto-lock happens in
// the vault (it zeroes the keys at once); the engine, which still holds
// decrypted caches, is stopped right after, off the vault's goroutine.
func (d *Daemon) vaultChanged(locked bool) {
	if !locked {
		return
	}
	go func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.eng != nil && d.vault.Locked() {
			d.stopEngine(d.runCtx)
			d.record(audit.EventVaultLock, map[string]string{"reason": "idle"})
			d.notifyVault()
		}
	}()
}

// lockForSleep locks before the machine sleeps.
func (d *Daemon) lockForSleep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vault != nil && d.eng != nil {
		d.lockLocked(d.runCtx, "sleep")
	}
}

// CreateVault creates the vault (onboarding, genos vault init through the
// gateway), seals everything stored so far and restarts the engine on it.
func (d *Daemon) CreateVault(ctx context.Context, pass []byte, remember bool) error {
	if len(pass) < minPassphrase {
		return fmt.Errorf("create vault: %w", errShortPassphrase)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vault != nil {
		return vault.ErrExists
	}
	d.stopEngine(ctx)
	v, err := createVault(d.opts.StateDir, pass, vault.Options{Logger: d.log, Clock: d.opts.VaultClock})
	if err == nil {
		d.vault = v
		v.OnChange(d.vaultChanged)
		d.inbox, err = openInbox(d.opts.StateDir)
	}
	if err == nil {
		err = d.startEngine(ctx)
	}
	if err == nil {
		err = d.ensureInboxKey()
	}
	if err != nil {
		if d.vault == nil {
			// Nothing changed on disk: go back to the plaintext engine.
			if rerr := d.startEngine(ctx); rerr != nil {
				d.log.Error("restart after a failed vault creation", "err", rerr)
			}
		} else {
			// The vault exists but the state could not be brought up on
			// it: stay locked, the next unlock retries the migration.
			d.stopEngine(ctx)
			d.vault.Lock()
			d.notifyVault()
		}
		return err
	}
	go v.Run(d.runCtx)
	d.record(audit.EventVaultRekey, map[string]string{"what": "created"})
	if remember {
		d.remember(ctx, pass)
	}
	d.notifyVault()
	return nil
}

// minPassphrase is the shortest passphrase a new vault accepts.
const minPassphrase = 8

var errShortPassphrase = api.Errorf(api.CodeInvalidRequest, "the passphrase must be at least %d characters", minPassphrase)

// createVault makes the vault files: the check value and the inbox key
// pair (its private half sealed in vault.enc, its public half beside it).
func createVault(dir string, pass []byte, o vault.Options) (*vault.Vault, error) {
	v, err := vault.Create(dir, pass, o)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// remember stores the passphrase in the platform key store; failing that
// is logged, not fatal: the vault is open either way.
func (d *Daemon) remember(ctx context.Context, pass []byte) {
	err := d.opts.Remember.Set(ctx, pass)
	d.pmu.Lock()
	defer d.pmu.Unlock()
	d.warning = ""
	if err != nil {
		d.log.Warn("could not store the vault passphrase", "store", d.opts.Remember.Name(), "err", err)
		d.warning = fmt.Sprintf("The passphrase could not be stored in %s (%v); you will be asked for it at the next start.", d.opts.Remember.Name(), err)
	}
}

// rememberWarning is the last remember failure, for vault status.
func (d *Daemon) rememberWarning() string {
	d.pmu.Lock()
	defer d.pmu.Unlock()
	return d.warning
}

func (d *Daemon) notifyVault() {
	st := api.VaultStatus{State: api.VaultUnlocked}
	if d.eng == nil {
		st.State = api.VaultLocked
	}
	if d.vault != nil {
		st.IdleLockMinutes = int(d.vault.IdleTimeout().Minutes())
	}
	st.Warning = d.rememberWarning()
	if d.inbox != nil {
		st.QueuedInbound = d.inbox.Len()
	}
	for _, s := range d.opts.KeySources {
		st.KeySources = append(st.KeySources, s.Name())
	}
	d.gw.NotifyVault(st)
}

// openInbox opens the sealed inbound queue, creating its public key file
// the first time. The private key is created with it and kept as a secret
// at the next unlock (inboxKeys).
func openInbox(dir string) (*inbox.Queue, error) {
	pub, err := inbox.ReadPublicKey(paths.InboxKeyFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // created at the first unlock, with the private key
	}
	if err != nil {
		return nil, err
	}
	return inbox.Open(paths.InboxFile(dir), pub, inbox.Options{})
}

// Deliver takes one inbound channel message. While the vault is locked it
// is sealed into the inbound queue and processed after unlock; otherwise
// it starts a run at once.
func (d *Daemon) Deliver(ctx context.Context, in chat.Inbound) error {
	d.mu.Lock()
	e, q := d.eng, d.inbox
	d.mu.Unlock()
	if e == nil {
		if q == nil {
			return errors.New("deliver: the vault is locked and has no inbound queue yet")
		}
		return q.Put(in)
	}
	return d.route(ctx, d.channel(in.Channel), in)
}

// drainInbox makes sure the inbound queue exists and starts processing
// what arrived while locked. The caller holds d.mu with the engine running;
// the drain itself runs without it (each message goes through the access
// policy and may start a run).
func (d *Daemon) drainInbox(context.Context) {
	if d.eng == nil || d.vault == nil {
		return
	}
	if err := d.ensureInboxKey(); err != nil {
		d.log.Error("inbound queue key", "err", err)
		return
	}
	if d.inbox == nil || d.inbox.Len() == 0 {
		return
	}
	h, _ := d.eng.secrets.Get(inboxKeyRef)
	priv, err := decodeKey(h)
	if err != nil {
		d.log.Error("inbound queue key is malformed", "err", err)
		return
	}
	q, ctx := d.inbox, d.runCtx
	d.draining.Add(1)
	go func() {
		defer d.draining.Done()
		defer clear(priv)
		n := 0
		err := q.Drain(priv, func(in chat.Inbound) error {
			err := d.route(ctx, d.channel(in.Channel), in)
			if err == nil {
				n++
			}
			return err
		})
		if err != nil {
			d.log.Error("processing messages held while locked", "delivered", n, "err", err)
			return
		}
		d.log.Info("processed messages held while locked", "count", n)
	}()
}

// ensureInboxKey makes sure the inbound queue's key pair exists: the
// private key in the sealed secrets, the public key beside it. A public key
// file that does not match the sealed private key (replaced while locked,
// so someone else could read what is queued) is restored and reported.
func (d *Daemon) ensureInboxKey() error {
	h, ok := d.eng.secrets.Get(inboxKeyRef)
	var priv []byte
	if ok {
		var err error
		if priv, err = decodeKey(h); err != nil {
			return fmt.Errorf("the inbound queue key in the vault is malformed: %w", err)
		}
	} else {
		var err error
		if priv, _, err = inbox.GenerateKey(); err != nil {
			return err
		}
		if err := d.eng.secrets.Set(inboxKeyRef, encodeKey(priv)); err != nil {
			return err
		}
	}
	defer clear(priv)
	pub, err := inbox.PublicKey(priv)
	if err != nil {
		return err
	}
	path := paths.InboxKeyFile(d.opts.StateDir)
	onDisk, err := inbox.ReadPublicKey(path)
	if err != nil || !bytes.Equal(onDisk, pub) {
		if err == nil {
			d.log.Warn("inbox.pub did not match the vault's key and was restored; messages queued under the other key cannot be opened")
		}
		if err := inbox.WritePublicKey(path, pub); err != nil {
			return err
		}
		if d.inbox != nil {
			d.inbox.Close()
			d.inbox = nil
		}
	}
	if d.inbox == nil {
		if d.inbox, err = inbox.Open(paths.InboxFile(d.opts.StateDir), pub, inbox.Options{Logger: d.log}); err != nil {
			return err
		}
	}
	return nil
}
