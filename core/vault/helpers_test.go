package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPass is the passphrase of every sample and most vectors.
const testPass = "correct horse battery staple"

// newTestVault creates an unlocked vault with testPass in a temp dir.
func newTestVault(t testing.TB, opts Options) *Vault {
	t.Helper()
	v, err := Create(filepath.Join(t.TempDir(), "vault"), []byte(testPass), opts)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return v
}

type vectorCase struct {
	Form       string  `json:"form"`
	Passphrase string  `json:"passphrase"`
	Plaintext  *string `json:"plaintext"`
	Expect     string  `json:"expect"`
	Sealed     string  `json:"sealed"`
}

func loadVectors(t testing.TB) []vectorCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "nyxenc1", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		KDF        string       `json:"kdf"`
		Iterations int          `json:"iterations"`
		Cipher     string       `json:"cipher"`
		Cases      []vectorCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.KDF != "PBKDF2-HMAC-SHA512" || v.Iterations != kdfIterations || v.Cipher != "AES-256-GCM" || len(v.Cases) == 0 {
		t.Fatalf("unexpected vector parameters %q %d %q (%d cases)", v.KDF, v.Iterations, v.Cipher, len(v.Cases))
	}
	return v.Cases
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "nyxenc1", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The independent NYXENC1 implementation below is written from the format
// description alone (ARCHITECTURE.md section 4) with the standard library,
// and calls nothing in this package. Files Genos writes must open with it.

type indepObject struct {
	Salt string `json:"salt"`
	IV   string `json:"iv"`
	Tag  string `json:"tag"`
	Data string `json:"data"`
}

// indepKeys memoises derived keys by passphrase and salt, only to keep the
// tests fast under -race.
var indepKeys sync.Map

func indepGCM(passphrase string, salt []byte) (cipher.AEAD, error) {
	id := passphrase + "\x00" + string(salt)
	key, ok := indepKeys.Load(id)
	if !ok {
		k, err := pbkdf2.Key(sha512.New, passphrase, salt, 100000, 32)
		if err != nil {
			return nil, err
		}
		indepKeys.Store(id, k)
		key = k
	}
	block, err := aes.NewCipher(key.([]byte))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// indepOpenObject opens the JSON object of any form.
func indepOpenObject(passphrase string, obj []byte) ([]byte, error) {
	var o indepObject
	if err := json.Unmarshal(obj, &o); err != nil {
		return nil, err
	}
	salt, err1 := hex.DecodeString(o.Salt)
	iv, err2 := hex.DecodeString(o.IV)
	tag, err3 := hex.DecodeString(o.Tag)
	data, err4 := base64.StdEncoding.DecodeString(o.Data)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	if len(salt) != 32 || len(iv) != 12 || len(tag) != 16 {
		return nil, fmt.Errorf("bad lengths %d %d %d", len(salt), len(iv), len(tag))
	}
	gcm, err := indepGCM(passphrase, salt)
	if err != nil {
		return nil, err
	}
	return gcm.Open(nil, iv, append(data, tag...), nil)
}

// indepOpen opens any of the three forms, told apart by prefix.
func indepOpen(passphrase string, sealed []byte) ([]byte, error) {
	s := string(sealed)
	switch {
	case strings.HasPrefix(s, "NYXENC1\n"):
		return indepOpenObject(passphrase, sealed[len("NYXENC1\n"):])
	case strings.HasPrefix(s, "NYXENC1:"):
		return indepOpenObject(passphrase, sealed[len("NYXENC1:"):])
	case strings.HasPrefix(s, "NXLN:"):
		file, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s[len("NXLN:"):], "="))
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(string(file), "NYXENC1\n") {
			return nil, errors.New("line does not hold the file form")
		}
		return indepOpenObject(passphrase, file[len("NYXENC1\n"):])
	}
	return nil, errors.New("unknown form")
}

// indepSealFile seals plaintext in file form with a fresh salt, as GenosOS does.
func indepSealFile(passphrase string, plaintext []byte) []byte {
	salt, iv := make([]byte, 32), make([]byte, 12)
	rand.Read(salt)
	rand.Read(iv)
	gcm, err := indepGCM(passphrase, salt)
	if err != nil {
		panic(err)
	}
	out := gcm.Seal(nil, iv, plaintext, nil)
	obj, _ := json.Marshal(indepObject{
		Salt: hex.EncodeToString(salt),
		IV:   hex.EncodeToString(iv),
		Tag:  hex.EncodeToString(out[len(out)-16:]),
		Data: base64.StdEncoding.EncodeToString(out[:len(out)-16]),
	})
	return append([]byte("NYXENC1\n"), obj...)
}

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	changed chan struct{} // signalled whenever After registers a waiter
}

type fakeWaiter struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC), changed: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), c: ch})
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves time forward and fires every waiter that is due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.c <- c.now
	}
	c.waiters = kept
}

// waitForWaiter blocks until a waiter is pending for exactly at. The deadline
// only turns a hang into a failure; nothing is timed.
func (c *fakeClock) waitForWaiter(t *testing.T, at time.Time) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		for _, w := range c.waiters {
			if w.at.Equal(at) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("no auto-lock timer armed for %v", at)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
