package whatsapp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

// gcmSealer is a real AES-256-GCM sealer with a random key, so "sealed" in
// these tests means encrypted, not encoded.
type gcmSealer struct{ aead cipher.AEAD }

func newSealer(t *testing.T) *gcmSealer {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return &gcmSealer{aead: a}
}

func (s *gcmSealer) SealFile(pt []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, pt, nil), nil
}

func (s *gcmSealer) OpenFile(ct []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ct) < n {
		return nil, errors.New("sealed data too short")
	}
	return s.aead.Open(nil, ct[:n], ct[n:], nil)
}

// lockedSealer fails like a locked vault.
type lockedSealer struct{}

var errLocked = errors.New("vault is locked")

func (lockedSealer) SealFile([]byte) ([]byte, error) { return nil, errLocked }
func (lockedSealer) OpenFile([]byte) ([]byte, error) { return nil, errLocked }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: testLogLevel}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// newTestAdapter returns an adapter over a fresh store in a temp dir.
func newTestAdapter(t *testing.T, sealer Sealer, opts Options) *Adapter {
	t.Helper()
	if opts.StorePath == "" {
		opts.StorePath = filepath.Join(t.TempDir(), "whatsapp.enc")
	}
	opts.Sealer = sealer
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	a, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// eventually polls cond until it holds; it bounds a wait for something
// asynchronous, it does not measure time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogLevel is the level test logs show; lower it to debug a failure.
var testLogLevel = slog.LevelWarn
