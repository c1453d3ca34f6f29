package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVectors opens every vector made by GenosOS's algorithm in Node.js, both
// with the stateless functions and through a vault, and checks that Genos
// re-encodes a parsed envelope to exactly the same bytes.
func TestVectors(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	for i, c := range loadVectors(t) {
		name := fmt.Sprintf("%d_%s_%s", i, c.Form, c.Expect)
		t.Run(name, func(t *testing.T) {
			open := map[string]func([]byte, []byte) ([]byte, error){
				"file": OpenFile, "line": OpenLine, "inline": OpenInline,
			}[c.Form]
			vopen := map[string]func([]byte) ([]byte, error){
				"file": v.OpenFile, "line": v.OpenLine, "inline": v.OpenInline,
			}[c.Form]
			parse := map[string]func([]byte) (*envelope, error){
				"file": parseFile, "line": parseLine, "inline": parseInline,
			}[c.Form]
			encode := map[string]func(*envelope) []byte{
				"file": (*envelope).fileForm, "line": (*envelope).lineForm, "inline": (*envelope).inlineForm,
			}[c.Form]
			if open == nil {
				t.Fatalf("unknown form %q", c.Form)
			}
			sealed := []byte(c.Sealed)

			e, err := parse(sealed)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := encode(e); !bytes.Equal(got, sealed) {
				t.Errorf("re-encoded envelope differs from GenosOS's bytes:\n%s", cmp.Diff(c.Sealed, string(got)))
			}

			pt, err := open([]byte(c.Passphrase), sealed)
			if c.Expect == "auth-failure" {
				if !errors.Is(err, ErrAuthFailed) || pt != nil {
					t.Fatalf("open = %d bytes, %v; want no data and ErrAuthFailed", len(pt), err)
				}
				if !strings.Contains(err.Error(), "wrong passphrase") {
					t.Errorf("error %q does not say what went wrong", err)
				}
				if c.Passphrase != testPass {
					return // the vault holds testPass, so the tamper case is the one to check there
				}
				pt, err = vopen(sealed)
				if !errors.Is(err, ErrCorrupted) || !errors.Is(err, ErrAuthFailed) || pt != nil {
					t.Fatalf("vault open = %d bytes, %v; want no data and ErrCorrupted+ErrAuthFailed", len(pt), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if c.Plaintext == nil || string(pt) != *c.Plaintext {
				t.Fatalf("open: plaintext mismatch (%d bytes)", len(pt))
			}
			if c.Passphrase != testPass {
				return
			}
			pt, err = vopen(sealed)
			if err != nil || string(pt) != *c.Plaintext {
				t.Fatalf("vault open: %d bytes, %v", len(pt), err)
			}
		})
	}
}

// TestSamples opens the GenosOS config, secret vault and mixed transcript.
func TestSamples(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})

	t.Run("genosos.json", func(t *testing.T) {
		path := filepath.Join("testdata", "nyxenc1", "genosos.json.sample")
		pt, err := v.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(pt, &cfg); err != nil || len(cfg) == 0 {
			t.Fatalf("config plaintext is not a JSON object: %v", err)
		}
		if pt2, err := OpenFile([]byte(testPass), readSample(t, "genosos.json.sample")); err != nil || !bytes.Equal(pt, pt2) {
			t.Fatalf("stateless OpenFile: %v", err)
		}
	})

	t.Run("vault.enc", func(t *testing.T) {
		pt, err := v.ReadFile(filepath.Join("testdata", "nyxenc1", "vault.enc.sample"))
		if err != nil {
			t.Fatal(err)
		}
		var secrets struct {
			Secrets map[string]struct {
				Value     *string `json:"value"`
				CreatedAt any     `json:"createdAt"`
				UpdatedAt any     `json:"updatedAt"`
			} `json:"secrets"`
		}
		if err := json.Unmarshal(pt, &secrets); err != nil {
			t.Fatal(err)
		}
		if len(secrets.Secrets) == 0 {
			t.Fatal("no secrets in vault.enc")
		}
		for name, s := range secrets.Secrets {
			if s.Value == nil || s.CreatedAt == nil || s.UpdatedAt == nil {
				t.Errorf("secret %s lacks value/createdAt/updatedAt", name)
			}
		}
		if !IsSealed(readSample(t, "vault.enc.sample")) {
			t.Error("IsSealed(vault.enc) = false")
		}
	})

	t.Run("transcript.jsonl", func(t *testing.T) {
		lines := bytes.Split(bytes.TrimRight(readSample(t, "transcript.jsonl.sample"), "\n"), []byte("\n"))
		codec := v.LineCodec()
		sealed := 0
		for i, line := range lines {
			pt, err := codec.DecodeLine(line)
			if err != nil {
				t.Fatalf("line %d: %v", i+1, err)
			}
			if !json.Valid(pt) {
				t.Fatalf("line %d: decoded line is not JSON", i+1)
			}
			if bytes.HasPrefix(line, []byte("NXLN:")) {
				sealed++
				ind, err := indepOpen(testPass, line)
				if err != nil || !bytes.Equal(ind, pt) {
					t.Fatalf("line %d: independent open disagrees: %v", i+1, err)
				}
			}
		}
		if sealed != 2 || len(lines) != 3 {
			t.Fatalf("got %d lines, %d sealed; want 3 and 2", len(lines), sealed)
		}
	})
}

// TestIndependentOpensGenosOutput checks that what Genos writes opens with an
// implementation written from the format description, and the reverse.
func TestIndependentOpensGenosOutput(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	k, err := NewKey([]byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Destroy()
	plaintexts := map[string][]byte{
		"empty":   {},
		"text":    []byte("Likes green tea. Dentist on Friday.\n"),
		"unicode": []byte("ünïcødé ✓ 🦀 — 日本語"),
		"binary":  {0, 1, 2, 0xff, '\n', '"', '\\'},
		"large":   bytes.Repeat([]byte("0123456789abcdef"), 4096),
	}
	seals := map[string]func([]byte) ([]byte, error){
		"vault-file":   v.SealFile,
		"vault-line":   v.SealLine,
		"vault-inline": v.SealInline,
		"key-file":     func(p []byte) ([]byte, error) { return SealFile(k, p) },
		"key-line":     func(p []byte) ([]byte, error) { return SealLine(k, p) },
		"key-inline":   func(p []byte) ([]byte, error) { return SealInline(k, p) },
		"vault-writefile": func(p []byte) ([]byte, error) {
			path := filepath.Join(t.TempDir(), "f")
			if err := v.WriteFile(path, p); err != nil {
				return nil, err
			}
			return readFile(t, path), nil
		},
	}
	for sname, seal := range seals {
		for pname, pt := range plaintexts {
			t.Run(sname+"/"+pname, func(t *testing.T) {
				sealed, err := seal(pt)
				if err != nil {
					t.Fatal(err)
				}
				got, err := indepOpen(testPass, sealed)
				if err != nil {
					t.Fatalf("independent open: %v", err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatal("independent open: plaintext mismatch")
				}
			})
		}
	}

	t.Run("independent-sealed", func(t *testing.T) {
		pt := []byte(`{"model":"x","apiKey":"vault:openai"}`)
		sealed := indepSealFile(testPass, pt)
		got, err := v.OpenFile(sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("vault open of independently sealed file: %v", err)
		}
	})
}
