package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	oldPass = "old passphrase"
	newPass = "new passphrase"
)

// TestRekeyCrashPoints stops a rekey after each of its steps, as a crash
// would, and checks that from every such state both passphrases unlock,
// every file opens, and the rekey can be resumed and finished with either
// passphrase, after which only the new one unlocks.
func TestRekeyCrashPoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// crash runs the steps of a rekey that happen before the crash.
		crash func(t *testing.T, v *Vault, fx fixture, root string)
		// resealed says whether every item is under the new key by then.
		resealed bool
	}{
		{"journal written", func(t *testing.T, v *Vault, fx fixture, root string) {}, false},
		{"some files resealed", func(t *testing.T, v *Vault, fx fixture, root string) {
			if n := fx.reseal(t, v, root, len(fx)/2); n != len(fx)/2 {
				t.Fatalf("resealed %d, want %d", n, len(fx)/2)
			}
		}, false},
		{"all files resealed", func(t *testing.T, v *Vault, fx fixture, root string) {
			fx.reseal(t, v, root, -1)
		}, true},
		{"check replaced, journal not removed", func(t *testing.T, v *Vault, fx fixture, root string) {
			fx.reseal(t, v, root, -1)
			if err := v.replaceCheck(readJournalFile(t, v.Dir())); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			crashed := t.TempDir()
			vdir := filepath.Join(crashed, "vault")
			v, err := Create(vdir, []byte(oldPass), fastOpts())
			if err != nil {
				t.Fatal(err)
			}
			fx := newFixture(t, v, crashed, fastKDF, oldPass)
			if _, err := v.BeginRekey([]byte(oldPass), []byte(newPass)); err != nil {
				t.Fatal(err)
			}
			tt.crash(t, v, fx, crashed)
			v.Lock() // the process dies; only the disk remains

			for _, pass := range []string{oldPass, newPass} {
				w := mustUnlock(t, vdir, pass, fastOpts())
				if !w.RekeyPending() {
					t.Fatalf("unlocked with %q: RekeyPending() = false", pass)
				}
				if stale := fx.verify(t, w, crashed); (stale == 0) != tt.resealed {
					t.Fatalf("unlocked with %q: %d items under the old key", pass, stale)
				}
				w.Lock()
				if !w.RekeyPending() {
					t.Fatal("RekeyPending() = false while locked")
				}
			}
			wantUnlockErr(t, vdir, "neither passphrase", fastOpts(), ErrWrongPassphrase)

			// Resume from the crashed state with each passphrase in turn.
			for _, pass := range []string{oldPass, newPass} {
				root := t.TempDir()
				copyTree(t, crashed, root)
				dir := filepath.Join(root, "vault")
				w := mustUnlock(t, dir, pass, fastOpts())
				r, err := w.ResumeRekey()
				if err != nil {
					t.Fatal(err)
				}
				fx.reseal(t, w, root, -1)
				if err := r.Finish(); err != nil {
					t.Fatal(err)
				}
				if w.RekeyPending() {
					t.Fatal("RekeyPending() = true after Finish")
				}
				if _, err := os.Stat(filepath.Join(dir, RekeyFile)); !os.IsNotExist(err) {
					t.Fatalf("journal still there after Finish: %v", err)
				}
				if stale := fx.verify(t, w, root); stale != 0 {
					t.Fatalf("%d items under the old key after Finish", stale)
				}
				// Keys for other salts now come from the new passphrase,
				// even if the rekey was resumed with the old one.
				fresh := sealForeign(t, fastKDF, newPass, []byte("imported later"))
				if pt, err := w.OpenFile(fresh); err != nil || string(pt) != "imported later" {
					t.Fatalf("file sealed with the new passphrase under its own salt: %q, %v", pt, err)
				}
				w.Lock()

				wantUnlockErr(t, dir, oldPass, fastOpts(), ErrWrongPassphrase)
				x := mustUnlock(t, dir, newPass, fastOpts())
				if x.RekeyPending() {
					t.Fatal("RekeyPending() after Finish and Unlock")
				}
				if stale := fx.verify(t, x, root); stale != 0 {
					t.Fatalf("%d items under the old key", stale)
				}
				if _, err := x.ResumeRekey(); !errors.Is(err, ErrNoRekey) {
					t.Fatalf("ResumeRekey after Finish = %v, want ErrNoRekey", err)
				}
			}
		})
	}
}

// TestRekeyPBKDF2 runs one rekey with the real key derivation and checks the
// result with the independent NYXENC1 implementation: the new vault.check
// and every re-sealed file open with the new passphrase.
func TestRekeyPBKDF2(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	v, err := Create(filepath.Join(root, "vault"), []byte(testPass), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := v.Dir()
	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	sample := readSample(t, "genosos.json.sample") // GenosOS, sealed with testPass under its own salt
	want, err := v.OpenFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "imported.json"), sample, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := v.WriteFile(filepath.Join(data, "MEMORY.md"), []byte("memory")); err != nil {
		t.Fatal(err)
	}
	const next = "a much better passphrase"

	if _, err := v.BeginRekey([]byte("not it"), []byte(next)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("BeginRekey with a wrong old passphrase = %v, want ErrWrongPassphrase", err)
	}
	if v.RekeyPending() {
		t.Fatal("a refused BeginRekey left a journal")
	}
	r, err := v.BeginRekey([]byte(testPass), []byte(next))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.BeginRekey([]byte(testPass), []byte(next)); !errors.Is(err, ErrRekeyPending) {
		t.Fatalf("second BeginRekey = %v, want ErrRekeyPending", err)
	}
	for _, name := range []string{"imported.json", "MEMORY.md"} {
		path := filepath.Join(data, name)
		pt, err := v.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.WriteFile(path, pt); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := r.Finish(); err != nil {
		t.Fatalf("second Finish = %v, want nil", err)
	}
	if pt, err := indepOpen(next, readFile(t, filepath.Join(dir, CheckFile))); err != nil || string(pt) != checkPlaintext {
		t.Fatalf("new vault.check does not open independently with the new passphrase: %v", err)
	}
	if pt, err := indepOpen(next, readFile(t, filepath.Join(data, "imported.json"))); err != nil || !bytes.Equal(pt, want) {
		t.Fatalf("re-sealed GenosOS file does not open independently: %v", err)
	}
	if pt, err := indepOpen(next, readFile(t, filepath.Join(data, "MEMORY.md"))); err != nil || string(pt) != "memory" {
		t.Fatalf("re-sealed file does not open independently: %v", err)
	}
	v.Lock()
	if err := v.Unlock([]byte(testPass)); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after Finish = %v, want ErrWrongPassphrase", err)
	}
	if err := v.Unlock([]byte(next)); err != nil {
		t.Fatal(err)
	}
}

// TestRekeyZeroesKeys checks that Lock during a rekey zeroes both keys and
// both passphrases' HMAC states, and that Finish zeroes the old ones.
func TestRekeyZeroesKeys(t *testing.T) {
	t.Parallel()
	for _, lock := range []bool{true, false} {
		v := newTestVault(t, fastOpts())
		r, err := v.BeginRekey([]byte(testPass), []byte(newPass))
		if err != nil {
			t.Fatal(err)
		}
		kr := v.kr
		old := map[string][]byte{
			"old key":        kr.old.key.key,
			"old hmac inner": kr.old.prf.inner,
			"old hmac outer": kr.old.prf.outer,
		}
		cur := map[string][]byte{
			"new key":        kr.current.key,
			"new hmac inner": kr.prf.inner,
			"new hmac outer": kr.prf.outer,
		}
		for name, b := range mergeBufs(old, cur) {
			if isZero(b) {
				t.Fatalf("%s is zero during the rekey", name)
			}
		}
		if lock {
			v.Lock()
			for name, b := range mergeBufs(old, cur) {
				if !isZero(b) {
					t.Errorf("%s not zeroed by Lock", name)
				}
			}
			continue
		}
		if err := r.Finish(); err != nil {
			t.Fatal(err)
		}
		for name, b := range old {
			if !isZero(b) {
				t.Errorf("%s not zeroed by Finish", name)
			}
		}
		for name, b := range cur {
			if isZero(b) {
				t.Errorf("%s zeroed by Finish", name)
			}
		}
		if kr.old != nil {
			t.Error("Finish kept the old keys")
		}
	}
}

func mergeBufs(ms ...map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestRekeyStateErrors covers calls made in the wrong state.
func TestRekeyStateErrors(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, fastOpts())
	if _, err := v.BeginRekey([]byte(testPass), nil); err == nil {
		t.Fatal("BeginRekey with an empty new passphrase succeeded")
	}
	if _, err := v.ResumeRekey(); !errors.Is(err, ErrNoRekey) {
		t.Fatalf("ResumeRekey with none pending = %v, want ErrNoRekey", err)
	}
	v.Lock()
	if _, err := v.BeginRekey([]byte(testPass), []byte(newPass)); !errors.Is(err, ErrLocked) {
		t.Fatalf("BeginRekey while locked = %v, want ErrLocked", err)
	}
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	r, err := v.BeginRekey([]byte(testPass), []byte(newPass))
	if err != nil {
		t.Fatal(err)
	}
	v.Lock()
	if err := r.Finish(); !errors.Is(err, ErrLocked) {
		t.Fatalf("Finish while locked = %v, want ErrLocked", err)
	}
	if _, err := v.ResumeRekey(); !errors.Is(err, ErrLocked) {
		t.Fatalf("ResumeRekey while locked = %v, want ErrLocked", err)
	}
	if _, err := v.NeedsReseal([]byte("NYXENC1:{}")); err == nil {
		t.Fatal("NeedsReseal of a malformed envelope succeeded")
	}
	if err := v.Unlock([]byte(newPass)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.NeedsReseal([]byte("plain text")); !errors.Is(err, ErrCorrupted) {
		t.Fatalf("NeedsReseal(plaintext) = %v, want ErrCorrupted", err)
	}
	// The Rekey from before the lock still finishes the same rekey.
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	// A journal left behind without a vault blocks Create.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RekeyFile), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, []byte(testPass), fastOpts()); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over a journal = %v, want ErrExists", err)
	}
}

// TestRekeyJournalDamage checks that a damaged or foreign journal is
// reported as corrupted, naming it, and never unlocks with a wrong key;
// and that either half of the journal suffices for its own passphrase.
func TestRekeyJournalDamage(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, fastOpts())
	other := newTestVault(t, fastOpts())
	if _, err := other.BeginRekey([]byte(testPass), []byte(newPass)); err != nil {
		t.Fatal(err)
	}
	foreign := readFile(t, filepath.Join(other.Dir(), RekeyFile))
	if _, err := v.BeginRekey([]byte(testPass), []byte(newPass)); err != nil {
		t.Fatal(err)
	}
	// A key record sealed under the vault key itself, as anyone who can
	// get 65+ chosen bytes sealed could produce, instead of the wrap key.
	good := readJournalFile(t, v.Dir())
	w, err := wrapKey(v.kr.old.key)
	if err != nil {
		t.Fatal(err)
	}
	record, err := w.open(good.newKeys)
	if err != nil {
		t.Fatal(err)
	}
	planted, err := v.kr.old.key.seal(record)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(v.Dir(), RekeyFile)
	flip := func(e *envelope) *envelope {
		c := *e
		c.data = bytes.Clone(e.data)
		c.data[0] ^= 1
		return &c
	}
	tests := []struct {
		name    string
		journal []byte
		// errs for oldPass=testPass and newPass; nil means it unlocks.
		oldErr, newErr error
	}{
		{"intact", good.encode(), nil, nil},
		{"new keys damaged", (&journal{good.check, flip(good.newKeys), good.oldKeys}).encode(), ErrCorrupted, nil},
		{"old keys damaged", (&journal{good.check, good.newKeys, flip(good.oldKeys)}).encode(), nil, ErrCorrupted},
		{"check damaged", (&journal{flip(good.check), good.newKeys, good.oldKeys}).encode(), ErrCorrupted, ErrWrongPassphrase},
		{"key record sealed under the vault key", (&journal{good.check, planted, good.oldKeys}).encode(), ErrCorrupted, nil},
		{"another vault's journal", foreign, ErrCorrupted, ErrCorrupted},
		{"not JSON", []byte("garbage"), ErrCorrupted, ErrCorrupted},
		{"unknown version", bytes.Replace(good.encode(), []byte(`"version":1`), []byte(`"version":2`), 1), ErrCorrupted, ErrCorrupted},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, tt.journal, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			pass string
			want error
		}{{testPass, tt.oldErr}, {newPass, tt.newErr}} {
			w, err := Open(v.Dir(), fastOpts())
			if err != nil {
				t.Fatal(err)
			}
			err = w.Unlock([]byte(c.pass))
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("%s: Unlock(%q) = %v, want %v", tt.name, c.pass, err, c.want)
			}
			if errors.Is(err, ErrCorrupted) && !strings.Contains(err.Error(), v.Dir()) {
				t.Errorf("%s: error does not name the file: %v", tt.name, err)
			}
			if err != nil && !w.Locked() {
				t.Fatalf("%s: failed Unlock left the vault unlocked", tt.name)
			}
		}
	}
}

// TestRekeyConcurrent opens and seals from several goroutines while rekeys
// begin and finish; under -race this checks that the key switch and the
// retirement of the old key are properly locked. Nothing ever sees a
// destroyed key (ErrLocked), and what was sealed before a rekey opens until
// its Finish.
func TestRekeyConcurrent(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, fastOpts())
	first, err := v.SealFile([]byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	foreign := sealForeign(t, fastKDF, testPass, []byte("foreign"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Both stop opening once a rekey has retired their key or
				// passphrase: that is ErrCorrupted, never ErrLocked.
				for _, b := range [][]byte{first, foreign} {
					if _, err := v.OpenFile(b); err != nil && (errors.Is(err, ErrLocked) || !errors.Is(err, ErrCorrupted)) {
						t.Errorf("OpenFile during rekey: %v", err)
						return
					}
				}
				// A whole rekey may pass between the two calls.
				l, err := v.SealLine([]byte("x"))
				if err == nil {
					_, err = v.OpenLine(l)
				}
				if err != nil && (errors.Is(err, ErrLocked) || !errors.Is(err, ErrCorrupted)) {
					t.Errorf("seal and open a line during rekey: %v", err)
					return
				}
			}
		})
	}
	passes := []string{testPass, newPass}
	before := first
	for i := range 6 {
		r, err := v.BeginRekey([]byte(passes[i%2]), []byte(passes[(i+1)%2]))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.OpenFile(before); err != nil {
			t.Fatalf("file sealed before the rekey, during it: %v", err)
		}
		if err := r.Finish(); err != nil {
			t.Fatal(err)
		}
		if _, err := v.OpenFile(before); !errors.Is(err, ErrCorrupted) {
			t.Fatalf("file left under the old passphrase after Finish = %v, want ErrCorrupted", err)
		}
		if before, err = v.SealFile([]byte("before")); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
