package inbox

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/genos-project/genos/core/chat"
)

// testKeys returns a deterministic key pair: X25519 accepts any 32 bytes as
// a private key.
func testKeys(t testing.TB, b byte) (priv, pub []byte) {
	t.Helper()
	priv = bytes.Repeat([]byte{b}, KeySize)
	pub, err := PublicKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// testMsg returns a distinct message; every third one has attachments, one
// of them carrying bytes.
func testMsg(i int) chat.Inbound {
	in := chat.Inbound{
		Channel:    "telegram",
		Account:    "bot1",
		Peer:       fmt.Sprintf("peer-%d", i%3),
		MessageID:  fmt.Sprintf("m%d", i),
		Text:       fmt.Sprintf("hello %d: ünïcode \u2028 \"quoted\"\n", i),
		Mentioned:  i%2 == 0,
		Provenance: chat.Provenance{Kind: chat.ExternalUser, Channel: "telegram", Sender: "peer"},
	}
	if i%3 == 0 {
		in.Group = "g1"
		in.Attachments = []chat.Attachment{
			{Name: "voice.ogg", MIME: "audio/ogg", Size: 5, Data: []byte{0, 1, 2, 0xff, '\n'}, Duration: 1200},
			{Name: "photo.jpg", MIME: "image/jpeg", Size: 1000, Path: "media/abc", Caption: "look"},
		}
	}
	return in
}

// openTest opens a queue in a fresh directory with the key pair of byte 1.
func openTest(t *testing.T, opts Options) (q *Queue, priv []byte) {
	t.Helper()
	priv, pub := testKeys(t, 1)
	q, err := Open(filepath.Join(t.TempDir(), "inbox.jsonl"), pub, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q, priv
}

func mustPut(t *testing.T, q *Queue, msgs ...chat.Inbound) {
	t.Helper()
	for _, m := range msgs {
		if err := q.Put(m); err != nil {
			t.Fatal(err)
		}
	}
}

// drainAll drains q and returns what was delivered and Drain's error.
func drainAll(q *Queue, priv []byte) ([]chat.Inbound, error) {
	var got []chat.Inbound
	err := q.Drain(priv, func(in chat.Inbound) error {
		got = append(got, in)
		return nil
	})
	return got, err
}

func msgs(from, to int) []chat.Inbound {
	var out []chat.Inbound
	for i := from; i < to; i++ {
		out = append(out, testMsg(i))
	}
	return out
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return bytes.Split(b[:len(b)-1], []byte{'\n'})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func sha256Of(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
