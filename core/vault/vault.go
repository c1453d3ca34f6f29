package vault

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// CheckFile is the name, inside the vault directory, of the sealed check value.
// It is the one file that holds the vault's current salt.
const CheckFile = "vault.check"

// checkPlaintext is what vault.check seals. A passphrase that opens it to
// exactly these bytes is the vault's passphrase.
const checkPlaintext = `{"genos":"vault-check","version":1}`

// Options configure a Vault. The zero value is ready to use.
type Options struct {
	// Logger receives lock/unlock events (never secrets). Nil discards.
	Logger *slog.Logger
	// Clock drives auto-lock. Nil uses the system clock.
	Clock Clock

	// kdf replaces PBKDF2 in tests that need many unlocks; nil is PBKDF2.
	kdf func(p *prf, salt [saltLen]byte) (*Key, error)
}

// Vault is the lock state machine around the keys of one vault directory.
// While locked it holds no key material and every sealed read or write returns
// ErrLocked. While unlocked it seals with the key for the vault's current salt
// (derived once, at Unlock) and opens envelopes under any salt the passphrase
// derives a key for, caching those keys until Lock.
//
// A Vault is safe for concurrent use.
type Vault struct {
	dir   string
	log   *slog.Logger
	clock Clock
	base  time.Time // origin of lastUse, so idle time uses the monotonic clock

	// kdf derives a key; a field so tests can count or stub derivations.
	kdf      func(p *prf, salt [saltLen]byte) (*Key, error)
	kdfCalls atomic.Int64

	// rekeyMu serialises Unlock with the rekey steps, which read and write
	// vault.check and the rekey journal: an Unlock that read the old check
	// and then found the journal gone would unlock with a retired key.
	rekeyMu sync.Mutex
	// trans serialises lock/unlock transitions with their notifications, so
	// listeners see them in the order they happened.
	trans sync.Mutex
	// mu guards kr. Operations hold it for reading while they use a key, so
	// Lock (which takes it for writing) waits for them before zeroing.
	mu sync.RWMutex
	kr *keyring // nil while locked

	lastUse atomic.Int64  // nanoseconds since base
	idle    atomic.Int64  // idle timeout in nanoseconds; 0 = never
	wake    chan struct{} // tells Run the deadline may have moved

	lmu       sync.Mutex
	listeners map[int]func(locked bool)
	nextID    int
}

func newVault(dir string, opts Options) *Vault {
	v := &Vault{
		dir:       dir,
		log:       opts.Logger,
		clock:     opts.Clock,
		kdf:       (*prf).key,
		wake:      make(chan struct{}, 1),
		listeners: map[int]func(bool){},
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.clock == nil {
		v.clock = systemClock{}
	}
	if opts.kdf != nil {
		v.kdf = opts.kdf
	}
	v.base = v.clock.Now()
	v.idle.Store(int64(DefaultIdleTimeout))
	return v
}

// Create makes a new vault in dir (created 0700 if missing) with a fresh
// random salt and passphrase, and returns it unlocked. It refuses, with
// ErrExists, to replace an existing vault (or a rekey journal left in dir). The caller keeps ownership of
// passphrase and should clear it.
func Create(dir string, passphrase []byte, opts Options) (*Vault, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("create vault: empty passphrase")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create vault: %w", err)
	}
	path := filepath.Join(dir, CheckFile)
	for _, name := range []string{CheckFile, RekeyFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("create vault in %s: %s: %w", dir, name, ErrExists)
		}
	}
	v := newVault(dir, opts)
	p, err := newPRF(passphrase)
	if err != nil {
		return nil, fmt.Errorf("create vault: %w", err)
	}
	var salt [saltLen]byte
	if _, err := io.ReadFull(rand.Reader, salt[:]); err != nil {
		p.destroy()
		return nil, fmt.Errorf("create vault: read random salt: %w", err)
	}
	k, err := v.derive(p, salt)
	if err != nil {
		p.destroy()
		return nil, fmt.Errorf("create vault: %w", err)
	}
	kr := newKeyring(p, k)
	check, err := SealFile(k, []byte(checkPlaintext))
	if err == nil {
		err = createExclusive(path, check)
	}
	if err != nil {
		kr.destroy()
		return nil, fmt.Errorf("create vault: %w", err)
	}
	v.install(kr)
	return v, nil
}

// Open returns the vault in dir, locked. It returns ErrNoVault if dir holds
// none, and an ErrCorrupted error naming vault.check if that file is damaged.
func Open(dir string, opts Options) (*Vault, error) {
	v := newVault(dir, opts)
	if _, err := v.readCheck(); err != nil {
		return nil, err
	}
	return v, nil
}

// Dir returns the vault directory.
func (v *Vault) Dir() string { return v.dir }

// readCheck reads and parses vault.check.
func (v *Vault) readCheck() (*envelope, error) {
	path := filepath.Join(v.dir, CheckFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open vault in %s: %w", v.dir, ErrNoVault)
	}
	if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	e, err := parseFile(b)
	if err != nil {
		return nil, fmt.Errorf("open vault check %s: %w", path, err)
	}
	return e, nil
}

// derive runs PBKDF2 for salt through the kdf seam, counting it.
func (v *Vault) derive(p *prf, salt [saltLen]byte) (*Key, error) {
	v.kdfCalls.Add(1)
	return v.kdf(p, salt)
}

// Unlock derives the key for the vault's current salt from passphrase and
// checks it against vault.check. A passphrase that does not open the check
// value returns ErrWrongPassphrase and changes nothing (an unlocked vault
// stays unlocked with its old keys). The passphrase itself is not kept; the
// caller keeps ownership of it and should clear it.
//
// While a rekey is pending (RekeyPending), either the old or the new
// passphrase unlocks, and the vault comes up as BeginRekey left it: sealing
// under the new key, opening under both. ResumeRekey then continues it.
func (v *Vault) Unlock(passphrase []byte) error {
	v.rekeyMu.Lock()
	defer v.rekeyMu.Unlock()
	kr, err := v.unlockKeys(passphrase)
	if err != nil {
		v.log.Info("vault unlock failed", "err", err)
		return err
	}
	v.install(kr)
	if kr.old != nil {
		v.log.Info("vault rekey pending", "dir", v.dir)
	}
	return nil
}

// unlockKeys builds the keyring passphrase unlocks. The journal is read
// before vault.check because Finish replaces vault.check before removing
// the journal: whatever happens between the two reads, a journal that is
// gone means vault.check already holds the new salt.
func (v *Vault) unlockKeys(passphrase []byte) (*keyring, error) {
	j, err := v.readJournal()
	if err != nil {
		return nil, err
	}
	e, err := v.readCheck()
	if err != nil {
		return nil, err
	}
	if j != nil {
		return v.unlockRekey(passphrase, e, j)
	}
	p, err := newPRF(passphrase)
	if err != nil {
		return nil, fmt.Errorf("unlock vault: %w", err)
	}
	k, err := v.derive(p, e.salt)
	if err != nil {
		p.destroy()
		return nil, fmt.Errorf("unlock vault: %w", err)
	}
	kr := newKeyring(p, k)
	if err := v.verifyCheck(k, e, CheckFile); err != nil {
		kr.destroy()
		return nil, err
	}
	return kr, nil
}

// verifyCheck opens the check value e (read from the file name) with k. A
// tag that fails is ErrWrongPassphrase; other content is ErrCorrupted.
func (v *Vault) verifyCheck(k *Key, e *envelope, name string) error {
	pt, err := k.open(e)
	switch {
	case errors.Is(err, ErrAuthFailed):
		return ErrWrongPassphrase
	case err != nil:
		return fmt.Errorf("unlock vault: %w", err)
	case subtle.ConstantTimeCompare(pt, []byte(checkPlaintext)) != 1:
		return fmt.Errorf("open vault check %s: %w", filepath.Join(v.dir, name),
			corrupt("unexpected check value"))
	}
	return nil
}

// install makes kr the vault's keyring (unlocking it) and destroys the old one.
func (v *Vault) install(kr *keyring) {
	v.trans.Lock()
	defer v.trans.Unlock()
	v.mu.Lock()
	old := v.kr
	v.kr = kr
	v.mu.Unlock()
	v.Touch()
	old.destroy()
	select {
	case v.wake <- struct{}{}:
	default:
	}
	if old == nil {
		v.log.Info("vault unlocked", "dir", v.dir)
		v.notify(false)
	}
}

// Lock zeroes every cached key and the passphrase-keyed HMAC states and drops
// them. It waits for sealed operations in flight to finish first. Later sealed
// reads and writes return ErrLocked until Unlock. Locking a locked vault does
// nothing.
func (v *Vault) Lock() { v.lockIf(func() bool { return true }, "vault locked") }

// lockIf locks the vault if it is unlocked and cond, evaluated under the
// write lock, holds. It reports whether it locked.
func (v *Vault) lockIf(cond func() bool, msg string) bool {
	v.trans.Lock()
	defer v.trans.Unlock()
	v.mu.Lock()
	kr := v.kr
	if kr == nil || !cond() {
		v.mu.Unlock()
		return false
	}
	v.kr = nil
	v.mu.Unlock()
	kr.destroy()
	v.log.Info(msg, "dir", v.dir)
	v.notify(true)
	return true
}

// Locked reports whether the vault is locked.
func (v *Vault) Locked() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.kr == nil
}

// OnChange registers fn to be called with the new state after every
// transition between locked and unlocked (for vault.changed events). Calls
// are made in order, one at a time, on the goroutine that made the
// transition; fn must return quickly and must not call Lock or Unlock. The
// returned function unregisters fn.
func (v *Vault) OnChange(fn func(locked bool)) (cancel func()) {
	v.lmu.Lock()
	defer v.lmu.Unlock()
	id := v.nextID
	v.nextID++
	v.listeners[id] = fn
	return func() {
		v.lmu.Lock()
		defer v.lmu.Unlock()
		delete(v.listeners, id)
	}
}

// notify calls the listeners; the caller holds v.trans.
func (v *Vault) notify(locked bool) {
	v.lmu.Lock()
	ids := make([]int, 0, len(v.listeners))
	for id := range v.listeners {
		ids = append(ids, id)
	}
	fns := make([]func(bool), 0, len(ids))
	slices.Sort(ids)
	for _, id := range ids {
		fns = append(fns, v.listeners[id])
	}
	v.lmu.Unlock()
	for _, fn := range fns {
		fn(locked)
	}
}

// Format keeps the vault's internals out of printed values.
func (v *Vault) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "vault.Vault(%s)", v.dir)
}
