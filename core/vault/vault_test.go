package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCreateOpenUnlock(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	v, err := Create(dir, []byte(testPass), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Locked() {
		t.Fatal("Create returned a locked vault")
	}
	check := readFile(t, filepath.Join(dir, CheckFile))
	if pt, err := indepOpen(testPass, check); err != nil || string(pt) != checkPlaintext {
		t.Fatalf("vault.check does not open independently: %v", err)
	}
	for _, p := range []string{dir, filepath.Join(dir, CheckFile)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group/other access", p, perm)
		}
	}
	if _, err := Create(dir, []byte("other passphrase"), Options{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if got := readFile(t, filepath.Join(dir, CheckFile)); !bytes.Equal(got, check) {
		t.Fatal("second Create changed vault.check")
	}
	if _, err := Create(filepath.Join(t.TempDir(), "x"), nil, Options{}); err == nil {
		t.Fatal("Create with an empty passphrase succeeded")
	}

	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Locked() {
		t.Fatal("Open returned an unlocked vault")
	}
	if err := w.Unlock([]byte("correct horse battery stapler")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("Unlock(wrong) = %v, want ErrWrongPassphrase", err)
	}
	if !w.Locked() {
		t.Fatal("wrong passphrase unlocked the vault")
	}
	if err := w.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	// A file written by one vault opens with the other: same salt and key.
	sealed, err := v.SealFile([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := w.OpenFile(sealed); err != nil || string(pt) != "x" {
		t.Fatalf("open across instances: %v", err)
	}
	// A wrong passphrase while unlocked is reported and keeps the old keys.
	if err := w.Unlock([]byte("nope")); !errors.Is(err, ErrWrongPassphrase) || w.Locked() {
		t.Fatalf("Unlock(wrong) while unlocked = %v, locked=%v", err, w.Locked())
	}
	if _, err := w.SealFile([]byte("y")); err != nil {
		t.Fatalf("seal after failed re-unlock: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := Open(t.TempDir(), Options{}); !errors.Is(err, ErrNoVault) {
		t.Fatalf("Open(empty dir) = %v, want ErrNoVault", err)
	}
	v := newTestVault(t, Options{})
	path := filepath.Join(v.Dir(), CheckFile)
	good := readFile(t, path)

	// A damaged check file is corrupted (naming it), not a wrong passphrase.
	if err := os.WriteFile(path, good[:len(good)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(v.Dir(), Options{})
	if !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open with truncated check = %v", err)
	}

	// A check value sealed with the right passphrase but other content.
	k, err := DeriveKey([]byte(testPass), mustParse(t, good).salt[:])
	if err != nil {
		t.Fatal(err)
	}
	other, err := SealFile(k, []byte(`{"genos":"something else"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(v.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Unlock([]byte(testPass)); !errors.Is(err, ErrCorrupted) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Unlock with foreign check value = %v", err)
	}
	if !w.Locked() {
		t.Fatal("unlocked against a bad check value")
	}
}

func mustParse(t *testing.T, b []byte) *envelope {
	t.Helper()
	e, err := parseFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLockedEverywhere checks that every sealed operation fails with ErrLocked
// after Lock, and works again after Unlock.
func TestLockedEverywhere(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	dir := t.TempDir()
	file, _ := v.SealFile([]byte("f"))
	line, _ := v.SealLine([]byte(`{"a":1}`))
	inline, _ := v.SealInline([]byte("i"))
	path := filepath.Join(dir, "sealed")
	if err := v.WriteFile(path, []byte("w")); err != nil {
		t.Fatal(err)
	}
	codec := v.LineCodec()
	ops := map[string]func() ([]byte, error){
		"SealFile":   func() ([]byte, error) { return v.SealFile([]byte("x")) },
		"OpenFile":   func() ([]byte, error) { return v.OpenFile(file) },
		"SealLine":   func() ([]byte, error) { return v.SealLine([]byte("x")) },
		"OpenLine":   func() ([]byte, error) { return v.OpenLine(line) },
		"SealInline": func() ([]byte, error) { return v.SealInline([]byte("x")) },
		"OpenInline": func() ([]byte, error) { return v.OpenInline(inline) },
		"ReadFile":   func() ([]byte, error) { return v.ReadFile(path) },
		"WriteFile":  func() ([]byte, error) { return nil, v.WriteFile(filepath.Join(dir, "new"), []byte("x")) },
		"EncodeLine": func() ([]byte, error) { return codec.EncodeLine([]byte(`{"a":1}`)) },
		"DecodeLine": func() ([]byte, error) { return codec.DecodeLine(line) },
	}
	v.Lock()
	v.Lock() // idempotent
	if !v.Locked() {
		t.Fatal("Locked() = false after Lock")
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			out, err := op()
			if !errors.Is(err, ErrLocked) || out != nil {
				t.Fatalf("%s while locked = %d bytes, %v; want ErrLocked", name, len(out), err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("WriteFile while locked created a file")
	}
	if got, err := codec.DecodeLine([]byte(`{"type":"session"}`)); err != nil || string(got) != `{"type":"session"}` {
		t.Fatalf("plaintext line while locked = %q, %v", got, err)
	}
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	for name, op := range ops {
		if _, err := op(); err != nil {
			t.Errorf("%s after Unlock: %v", name, err)
		}
	}
}

// TestLockZeroesKeys inspects the buffers the vault cached before Lock.
func TestLockZeroesKeys(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	// Open a GenosOS file so that a key for a foreign salt is cached too.
	if _, err := v.ReadFile(filepath.Join("testdata", "nyxenc1", "genosos.json.sample")); err != nil {
		t.Fatal(err)
	}
	kr := v.kr
	bufs := map[string][]byte{
		"current key": kr.current.key,
		"hmac inner":  kr.prf.inner,
		"hmac outer":  kr.prf.outer,
	}
	if len(kr.others) != 1 {
		t.Fatalf("%d foreign keys cached, want 1", len(kr.others))
	}
	var other *Key
	for _, k := range kr.others {
		other = k
		bufs["foreign key"] = k.key
	}
	for name, b := range bufs {
		if len(b) == 0 || isZero(b) {
			t.Fatalf("%s is empty or zero before Lock", name)
		}
	}
	v.Lock()
	for name, b := range bufs {
		if !isZero(b) {
			t.Errorf("%s not zeroed by Lock", name)
		}
	}
	if kr.current.aead != nil || other.aead != nil || len(kr.others) != 0 || v.kr != nil {
		t.Error("Lock left ciphers or cached keys reachable")
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestKDFOncePerUnlock counts PBKDF2 runs through the kdf seam.
func TestKDFOncePerUnlock(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	dir := t.TempDir()
	v.Lock()
	v.kdfCalls.Store(0)
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		path := filepath.Join(dir, "f")
		if err := v.WriteFile(path, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		l, _ := v.SealLine([]byte("l"))
		if _, err := v.OpenLine(l); err != nil {
			t.Fatal(err)
		}
		s, _ := v.SealInline([]byte("s"))
		if _, err := v.OpenInline(s); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.kdfCalls.Load(); n != 1 {
		t.Fatalf("%d PBKDF2 runs for one unlock and 500 sealed operations, want 1", n)
	}
	sample := filepath.Join("testdata", "nyxenc1", "genosos.json.sample")
	for range 3 {
		if _, err := v.ReadFile(sample); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.kdfCalls.Load(); n != 2 {
		t.Fatalf("%d PBKDF2 runs after reading a foreign-salt file 3 times, want 2", n)
	}
	v.Lock()
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ReadFile(sample); err != nil {
		t.Fatal(err)
	}
	if n := v.kdfCalls.Load(); n != 4 {
		t.Fatalf("%d PBKDF2 runs; a re-unlock must start with an empty cache (want 4)", n)
	}
}

// TestForeignKeyCacheBound checks that past maxOtherKeys foreign keys are
// used once and not cached.
func TestForeignKeyCacheBound(t *testing.T) {
	t.Parallel()
	p, err := newPRF([]byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := newKey([saltLen]byte{0xff}, make([]byte, keyLen))
	kr := newKeyring(p, cur)
	for i := range maxOtherKeys + 2 {
		k, _ := newKey([saltLen]byte{byte(i), byte(i >> 8), 1}, bytes.Repeat([]byte{1}, keyLen))
		got, kept := kr.store(k)
		if got != k || kept != (i < maxOtherKeys) {
			t.Fatalf("store #%d: kept=%v", i, kept)
		}
	}
	dup, _ := newKey([saltLen]byte{0, 0, 1}, bytes.Repeat([]byte{2}, keyLen))
	if got, kept := kr.store(dup); !kept || got == dup || !isZero(dup.key) {
		t.Fatal("storing a salt twice must keep the first key and destroy the second")
	}
	if len(kr.others) != maxOtherKeys {
		t.Fatalf("cache holds %d keys, want %d", len(kr.others), maxOtherKeys)
	}
}

// TestWriteFileAtomic checks permissions, replacement and that no temp file
// is left behind, also when the rename fails.
func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "MEMORY.md")
	if err := os.WriteFile(path, []byte("old plaintext"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"first version", "second, longer version of the memory file"} {
		if err := v.WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		raw := readFile(t, path)
		if bytes.Contains(raw, []byte(content)) || !IsSealed(raw) {
			t.Fatal("file on disk is not sealed")
		}
		if got, err := v.ReadFile(path); err != nil || string(got) != content {
			t.Fatalf("ReadFile = %q, %v", got, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// The target is a non-empty directory: the rename fails.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := v.WriteFile(blocked, []byte("x")); err == nil || !strings.Contains(err.Error(), blocked) {
		t.Fatalf("WriteFile over a directory = %v, want an error naming it", err)
	}
	if err := v.WriteFile(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"MEMORY.md", "blocked"}, names); diff != "" {
		t.Fatalf("directory after writes (-want +got):\n%s", diff)
	}
}

func TestOnChange(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	var (
		mu     sync.Mutex
		events []bool
	)
	cancel := v.OnChange(func(locked bool) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, locked)
	})
	v.Lock()
	v.Lock()
	_ = v.Unlock([]byte("wrong"))
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock([]byte(testPass)); err != nil { // already unlocked: no event
		t.Fatal(err)
	}
	v.Lock()
	cancel()
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]bool{true, false, true}, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

// TestLineCodec checks the session adapter, including legacy plaintext lines.
func TestLineCodec(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	// The interface core/session declares; restated so nothing is imported.
	var codec interface {
		EncodeLine(plain []byte) ([]byte, error)
		DecodeLine(line []byte) ([]byte, error)
	} = v.LineCodec()
	rec := []byte(`{"type":"message","role":"user","content":"line\nbreak"}`)
	line, err := codec.EncodeLine(rec)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(line, "\r\n") || !bytes.HasPrefix(line, []byte("NXLN:")) {
		t.Fatalf("encoded line %.40q is not a single NXLN line", line)
	}
	tests := []struct {
		name string
		in   []byte
		want []byte
		err  error
	}{
		{"sealed", line, rec, nil},
		{"plaintext json", []byte(`{"type":"session","id":"s1"}`), []byte(`{"type":"session","id":"s1"}`), nil},
		{"indented json", []byte(` {"a":1}`), []byte(` {"a":1}`), nil},
		{"garbage", []byte("hello"), nil, ErrCorrupted},
		{"bad base64", []byte("NXLN:!!!"), nil, ErrCorrupted},
		{"empty", nil, nil, ErrCorrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := codec.DecodeLine(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("DecodeLine err = %v, want %v", err, tt.err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("DecodeLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestConcurrentLock runs sealed operations while another goroutine locks and
// unlocks; under -race this checks that no key is zeroed while in use.
func TestConcurrentLock(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	sealed, err := v.SealFile([]byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	// Unlocking costs a PBKDF2; stub it (the real one is tested elsewhere) so
	// the loop cycles quickly.
	raw := bytes.Clone(v.kr.current.key)
	v.kdf = func(_ *prf, salt [saltLen]byte) (*Key, error) {
		return newKey(salt, bytes.Clone(raw))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				pt, err := v.OpenFile(sealed)
				if err != nil && !errors.Is(err, ErrLocked) {
					t.Errorf("OpenFile: %v", err)
					return
				}
				if err == nil && string(pt) != "payload" {
					t.Error("OpenFile returned wrong plaintext")
					return
				}
				if _, err := v.SealLine([]byte("x")); err != nil && !errors.Is(err, ErrLocked) {
					t.Errorf("SealLine: %v", err)
					return
				}
			}
		})
	}
	for range 50 {
		v.Lock()
		if err := v.Unlock([]byte(testPass)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
