package inbox

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/google/go-cmp/cmp"
)

func TestGenerateKey(t *testing.T) {
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(priv) != KeySize || len(pub) != KeySize {
		t.Fatalf("key sizes %d, %d", len(priv), len(pub))
	}
	derived, err := PublicKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(derived, pub) {
		t.Fatal("PublicKey(priv) differs from the generated public key")
	}
	priv2, _, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(priv, priv2) {
		t.Fatal("two generated keys are equal")
	}
}

func TestSealOpenLine(t *testing.T) {
	priv, pub := testKeys(t, 7)
	key, err := parsePrivate(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubKey, err := parsePublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		want := testMsg(i)
		plain, err := marshalInbound(want)
		if err != nil {
			t.Fatal(err)
		}
		line, err := sealLine(pubKey, plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(line) != sealedLen(len(plain)) {
			t.Errorf("line is %d bytes, sealedLen says %d", len(line), sealedLen(len(plain)))
		}
		got, err := openLine(key, pub, line)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("message %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestOpenLineRejects(t *testing.T) {
	priv, pub := testKeys(t, 7)
	key, _ := parsePrivate(priv)
	pubKey, _ := parsePublic(pub)
	plain, _ := marshalInbound(testMsg(1))
	line, err := sealLine(pubKey, plain)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		l := bytes.Clone(line)
		if l[i] == 'A' {
			l[i] = 'B'
		} else {
			l[i] = 'A'
		}
		return l
	}
	raw, _ := b64.DecodeString(string(line[len(linePrefix):]))
	truncated := []byte(linePrefix + b64.EncodeToString(raw[:len(raw)-3]))
	_, otherPub := testKeys(t, 8)
	otherKey, _ := parsePublic(otherPub)
	forOther, _ := sealLine(otherKey, plain)
	garbage, _ := sealLine(pubKey, []byte(`{"channel":"x"} trailing`))
	tooMany, _ := sealLine(pubKey, []byte(`{"channel":"x","attachmentData":["AA=="]}`))
	notObject, _ := sealLine(pubKey, []byte(`[1,2]`))
	tests := []struct {
		name string
		line []byte
		want string
	}{
		{"empty", nil, "prefix"},
		{"no prefix", line[len(linePrefix):], "prefix"},
		{"old prefix", append([]byte("NXLN:"), line[len(linePrefix):]...), "prefix"},
		{"short", line[:len(linePrefix)+20], "too short"},
		{"bad base64", append(bytes.Clone(line[:len(line)-1]), '+'), "base64"},
		{"padded", append(bytes.Clone(line), '='), "base64"},
		{"truncated", truncated, "authentication"},
		{"flipped in ephemeral key", flip(len(linePrefix) + 3), ""},
		{"flipped in nonce", flip(len(linePrefix) + 50), "authentication"},
		{"flipped in ciphertext", flip(len(line) - 30), "authentication"},
		{"sealed to another key", forOther, "authentication"},
		{"trailing JSON", garbage, "trailing"},
		{"more bodies than attachments", tooMany, "attachment bodies"},
		{"not an object", notObject, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := openLine(key, pub, tt.line)
			if !errors.Is(err, ErrCorrupted) {
				t.Fatalf("err = %v, want ErrCorrupted", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
			if diff := cmp.Diff(chat.Inbound{}, got); diff != "" {
				t.Errorf("data returned with an error:\n%s", diff)
			}
		})
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	q, priv := openTest(t, Options{})
	const marker = "SECRET-MARKER-4242"
	in := testMsg(0)
	in.Text = marker + " text"
	in.Peer = marker + "-peer"
	in.Attachments[0].Data = []byte(marker + "-data")
	in.Attachments[1].Name = marker + ".jpg"
	mustPut(t, q, in, testMsg(1))

	raw, err := os.ReadFile(q.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, q.Path())
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	for _, l := range lines {
		if !bytes.HasPrefix(l, []byte(linePrefix)) {
			t.Fatalf("line does not start with %s: %.20q", linePrefix, l)
		}
		dec, err := b64.DecodeString(string(l[len(linePrefix):]))
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range []string{marker, "telegram", "channel", "peer"} {
			if bytes.Contains(dec, []byte(needle)) {
				t.Errorf("decoded line contains %q", needle)
			}
		}
	}
	for _, needle := range []string{marker, "telegram", "channel"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("file contains %q", needle)
		}
	}
	if fi, err := os.Stat(q.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	got, err := drainAll(q, priv)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Text != in.Text || string(got[0].Attachments[0].Data) != marker+"-data" {
		t.Fatalf("delivered %+v", got)
	}
}

func TestPublicKeyFile(t *testing.T) {
	_, pub := testKeys(t, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "inbox.pub")
	if err := WritePublicKey(path, pub); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPublicKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pub) {
		t.Fatal("public key changed in a round trip")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	if _, err := ReadPublicKey(filepath.Join(dir, "missing.pub")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	good, _ := os.ReadFile(path)
	zero := append([]byte(pubPrefix), b64.EncodeToString(make([]byte, KeySize))...)
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "single terminated line"},
		{"no newline", bytes.TrimSuffix(good, []byte("\n")), "single terminated line"},
		{"two lines", append(bytes.Clone(good), good...), "characters"},
		{"no prefix", good[len(pubPrefix):], "prefix"},
		{"short key", append([]byte(pubPrefix), "AAAA\n"...), "characters"},
		{"bad base64", append(append([]byte(pubPrefix), bytes.Repeat([]byte("*"), 43)...), '\n'), "base64"},
		{"low-order key", append(zero, '\n'), "unusable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.pub")
			if err := os.WriteFile(p, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadPublicKey(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want one naming %s and mentioning %q", err, p, tt.want)
			}
		})
	}
	if err := WritePublicKey(path, pub[:5]); err == nil {
		t.Error("WritePublicKey accepted a 5-byte key")
	}
}

func TestOpenRejectsBadPublicKey(t *testing.T) {
	for name, pub := range map[string][]byte{
		"nil":       nil,
		"short":     make([]byte, 31),
		"long":      make([]byte, 33),
		"low order": make([]byte, 32),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inbox.jsonl")
			if q, err := Open(path, pub, Options{}); err == nil {
				_ = q.Close()
				t.Fatal("Open accepted the key")
			}
			if exists(path) {
				t.Error("Open created the file before checking the key")
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	_, pub := testKeys(t, 1)
	for name, o := range map[string]Options{
		"negative messages": {MaxMessages: -1},
		"negative bytes":    {MaxBytes: -1},
		"negative line":     {MaxLineBytes: -1},
		"line below min":    {MaxLineBytes: 10},
	} {
		t.Run(name, func(t *testing.T) {
			if q, err := Open(filepath.Join(t.TempDir(), "inbox.jsonl"), pub, o); err == nil {
				_ = q.Close()
				t.Fatal("Open accepted the options")
			}
		})
	}
}
