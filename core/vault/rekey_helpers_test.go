package vault

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/durable"
)

// fastKDF is PBKDF2 over the same HMAC states with 2 iterations instead of
// 100,000: deterministic per passphrase and salt like the real one, for tests
// that unlock many times. Keys it derives are not NYXENC1 keys.
func fastKDF(p *prf, salt [saltLen]byte) (*Key, error) {
	raw, err := p.derive(salt[:], 2, keyLen)
	if err != nil {
		return nil, err
	}
	return newKey(salt, raw)
}

// fastOpts returns Options that use fastKDF.
func fastOpts() Options { return Options{kdf: fastKDF} }

// sealForeign seals plaintext in file form with passphrase under a fresh
// random salt, as GenosOS does, with kdf.
func sealForeign(t testing.TB, kdf func(*prf, [saltLen]byte) (*Key, error), passphrase string, plaintext []byte) []byte {
	t.Helper()
	p, err := newPRF([]byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	defer p.destroy()
	var salt [saltLen]byte
	rand.Read(salt[:])
	k, err := kdf(p, salt)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Destroy()
	b, err := SealFile(k, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The sealed things a rekey must carry over, as files under a data dir:
// file-form files, a file of sealed lines, and a file holding an inline
// value.
const (
	kindFile   = "file"
	kindLines  = "lines"
	kindInline = "inline"
)

// sealedItem is one file of a fixture and what it must open to.
type sealedItem struct {
	kind  string
	plain []string // one element, or one per line
}

// writeItem seals it with v and writes it to path atomically.
func writeItem(v *Vault, path string, it sealedItem) error {
	var out []byte
	switch it.kind {
	case kindFile:
		return v.WriteFile(path, []byte(it.plain[0]))
	case kindInline:
		b, err := v.SealInline([]byte(it.plain[0]))
		if err != nil {
			return err
		}
		out = b
	case kindLines:
		for _, l := range it.plain {
			b, err := v.SealLine([]byte(l))
			if err != nil {
				return err
			}
			out = append(append(out, b...), '\n')
		}
	}
	return durable.WriteFile(path, out, 0o600)
}

// openItem reads path with v and returns its plaintext(s) and whether any
// envelope in it is not under v's current key.
func openItem(v *Vault, path, kind string) (plain []string, stale bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	var parts [][]byte
	if kind == kindLines {
		parts = bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'})
	} else {
		parts = [][]byte{b}
	}
	codec := v.StrictLineCodec()
	for _, part := range parts {
		var pt []byte
		switch kind {
		case kindFile:
			pt, err = v.OpenFile(part)
		case kindInline:
			pt, err = v.OpenInline(part)
		case kindLines:
			pt, err = codec.DecodeLine(part)
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		s, err := v.NeedsReseal(part)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		stale = stale || s
		plain = append(plain, string(pt))
	}
	return plain, stale, nil
}

// fixture is a set of sealed items under root/data.
type fixture map[string]sealedItem

func (fx fixture) path(root, name string) string { return filepath.Join(root, "data", name) }

// newFixture writes a fixture with v, plus a GenosOS-style file sealed with
// foreignPass under its own salt (derived with kdf).
func newFixture(t testing.TB, v *Vault, root string, kdf func(*prf, [saltLen]byte) (*Key, error), foreignPass string) fixture {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	fx := fixture{
		"lines.jsonl": {kindLines, []string{`{"n":0}`, `{"n":1}`, `{"n":2}`}},
		"column":      {kindInline, []string{"an inline value"}},
	}
	for i := range 6 {
		fx[fmt.Sprintf("f%d.md", i)] = sealedItem{kindFile, []string{fmt.Sprintf("memory file %d", i)}}
	}
	for name, it := range fx {
		if err := writeItem(v, fx.path(root, name), it); err != nil {
			t.Fatal(err)
		}
	}
	const foreign = "imported from GenosOS"
	if err := os.WriteFile(fx.path(root, "genosos.md"), sealForeign(t, kdf, foreignPass, []byte(foreign)), 0o600); err != nil {
		t.Fatal(err)
	}
	fx["genosos.md"] = sealedItem{kindFile, []string{foreign}}
	return fx
}

// verify checks that every item opens to its plaintext and returns how many
// are not under the current key.
func (fx fixture) verify(t testing.TB, v *Vault, root string) (stale int) {
	t.Helper()
	for name, it := range fx {
		got, s, err := openItem(v, fx.path(root, name), it.kind)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		if strings.Join(got, "\n") != strings.Join(it.plain, "\n") {
			t.Fatalf("%s opened to %q, want %q", name, got, it.plain)
		}
		if s {
			stale++
		}
	}
	return stale
}

// reseal re-seals up to limit items that are not under the current key
// (limit < 0: all) and returns how many it re-sealed.
func (fx fixture) reseal(t testing.TB, v *Vault, root string, limit int) int {
	t.Helper()
	n := 0
	for name, it := range fx {
		if n == limit {
			break
		}
		if _, stale, err := openItem(v, fx.path(root, name), it.kind); err != nil {
			t.Fatal(err)
		} else if !stale {
			continue
		}
		if err := writeItem(v, fx.path(root, name), it); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// copyTree copies the regular files and directories under src to dst, so a
// crashed state can be recovered along several paths.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readJournalFile parses the journal in dir.
func readJournalFile(t testing.TB, dir string) *journal {
	t.Helper()
	j, err := parseJournal(readFile(t, filepath.Join(dir, RekeyFile)))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// mustUnlock opens the vault in dir and unlocks it with pass.
func mustUnlock(t testing.TB, dir, pass string, opts Options) *Vault {
	t.Helper()
	v, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock([]byte(pass)); err != nil {
		t.Fatalf("Unlock(%q): %v", pass, err)
	}
	return v
}

// wantUnlockErr checks that pass does not unlock the vault in dir.
func wantUnlockErr(t testing.TB, dir, pass string, opts Options, want error) {
	t.Helper()
	v, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock([]byte(pass)); !errors.Is(err, want) {
		t.Fatalf("Unlock(%q) = %v, want %v", pass, err, want)
	}
}
