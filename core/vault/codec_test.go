package vault

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha512"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPBKDF2MatchesStdlib checks the vault's PBKDF2 (which keeps HMAC states
// instead of the passphrase) against crypto/pbkdf2, including passphrases
// longer than the SHA-512 block and outputs longer than one hash.
func TestPBKDF2MatchesStdlib(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("p", 200)
	tests := []struct {
		pass string
		salt string
		iter int
		n    int
	}{
		{"", "salt", 1, 32},
		{testPass, "saltsaltsaltsaltsaltsaltsaltsalt", 1000, 32},
		{long, "s", 3, 32},
		{strings.Repeat("q", 128), "s", 2, 32},
		{strings.Repeat("q", 129), "s", 2, 32},
		{testPass, "multi-block", 5, 150},
		{testPass, "nyxenc1", kdfIterations, keyLen},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("len%d_iter%d_n%d", len(tt.pass), tt.iter, tt.n), func(t *testing.T) {
			p, err := newPRF([]byte(tt.pass))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.derive([]byte(tt.salt), tt.iter, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pbkdf2.Key(sha512.New, tt.pass, []byte(tt.salt), tt.iter, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("derive = %x, want %x", got, want)
			}
		})
	}
}

// TestRoundTrip seals and opens every form through a vault and a bare Key.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	plaintexts := map[string][]byte{
		"empty":  {},
		"json":   []byte(`{"type":"message","content":"remember the blue door"}`),
		"binary": {0, '\n', '\r', 0xff, 0xfe},
		"1MiB":   bytes.Repeat([]byte{0xa5}, 1<<20),
	}
	forms := []struct {
		name  string
		seal  func([]byte) ([]byte, error)
		open  func([]byte) ([]byte, error)
		check func(t *testing.T, sealed []byte)
	}{
		{"file", v.SealFile, v.OpenFile, func(t *testing.T, s []byte) {
			if !bytes.HasPrefix(s, []byte("NYXENC1\n{\"salt\":\"")) || bytes.Count(s, []byte("\n")) != 1 {
				t.Errorf("not canonical file form: %.40q", s)
			}
		}},
		{"line", v.SealLine, v.OpenLine, func(t *testing.T, s []byte) {
			if !bytes.HasPrefix(s, []byte("NXLN:")) || bytes.ContainsAny(s, "\n=") {
				t.Errorf("not an unpadded single line: %.40q", s)
			}
		}},
		{"inline", v.SealInline, v.OpenInline, func(t *testing.T, s []byte) {
			if !bytes.HasPrefix(s, []byte("NYXENC1:{\"salt\":\"")) || bytes.Contains(s, []byte("\n")) {
				t.Errorf("not canonical inline form: %.40q", s)
			}
		}},
	}
	for _, f := range forms {
		for pname, pt := range plaintexts {
			t.Run(f.name+"/"+pname, func(t *testing.T) {
				a, err := f.seal(pt)
				if err != nil {
					t.Fatal(err)
				}
				b, err := f.seal(pt)
				if err != nil {
					t.Fatal(err)
				}
				f.check(t, a)
				if !IsSealed(a) {
					t.Error("IsSealed = false")
				}
				ea, _ := parseAny(a)
				eb, _ := parseAny(b)
				if ea == nil || eb == nil || ea.salt != eb.salt || ea.iv == eb.iv {
					t.Fatal("two seals must share the vault salt and differ in IV")
				}
				if ea.salt != v.kr.current.salt {
					t.Fatal("seal did not use the vault's current salt")
				}
				for _, s := range [][]byte{a, b} {
					got, err := f.open(s)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, pt) {
						t.Fatal("round trip changed the plaintext")
					}
				}
			})
		}
	}
}

// TestCorrupted damages a file Genos wrote in every way the format allows
// and checks that ReadFile reports it as corrupted, names the file and
// returns no data.
func TestCorrupted(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	dir := t.TempDir()
	good, err := v.SealFile([]byte("Likes green tea. Dentist on Friday."))
	if err != nil {
		t.Fatal(err)
	}
	e, err := parseFile(good)
	if err != nil {
		t.Fatal(err)
	}
	obj := string(good[len(fileMagic):])
	replace := func(old, new string) []byte {
		if !strings.Contains(obj, old) {
			t.Fatalf("%q not in envelope", old)
		}
		return []byte(fileMagic + strings.Replace(obj, old, new, 1))
	}
	saltHex := fmt.Sprintf("%x", e.salt)
	ivHex := fmt.Sprintf("%x", e.iv)
	tagHex := fmt.Sprintf("%x", e.tag)
	tests := map[string][]byte{
		"empty":             {},
		"header only":       []byte(fileMagic),
		"no header":         []byte("NYXENC2\n" + obj),
		"plaintext":         []byte("# Memory\nLikes green tea.\n"),
		"not json":          []byte(fileMagic + "salt=1"),
		"json array":        []byte(fileMagic + "[1,2]"),
		"trailing garbage":  append(bytes.Clone(good), "x"...),
		"second object":     append(bytes.Clone(good), obj...),
		"missing salt":      replace(`"salt"`, `"sal"`),
		"missing data":      replace(`"data"`, `"date"`),
		"null iv":           replace(`"iv":"`+ivHex+`"`, `"iv":null`),
		"numeric tag":       replace(`"tag":"`+tagHex+`"`, `"tag":1`),
		"bad hex salt":      replace(saltHex[:2], "zz"),
		"bad hex tag":       replace(tagHex[:1], "g"),
		"short iv":          replace(ivHex, ivHex[:22]),
		"long iv":           replace(ivHex, ivHex+"00"),
		"short salt":        replace(saltHex, saltHex[:62]),
		"short tag":         replace(tagHex, tagHex[:30]),
		"odd-length iv":     replace(ivHex, ivHex+"0"),
		"bad base64":        replace(`"data":"`, `"data":"*`),
		"unpadded base64":   replace(`="}`, `"}`),
		"flipped tag":       replace(tagHex, flipHex(tagHex)),
		"flipped iv":        replace(ivHex, flipHex(ivHex)),
		"flipped salt":      replace(saltHex, flipHex(saltHex)),
		"swapped data":      replace(`"data":"`, `"data":"AAAA`),
		"empty data":        []byte(fileMagic + fmt.Sprintf(`{"salt":"%s","iv":"%s","tag":"%s","data":""}`, saltHex, ivHex, tagHex)),
		"truncated in data": good[:len(good)-5],
		"truncated in tag":  good[:len(fileMagic)+120],
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".enc")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			assertCorrupted(t, v, path)
		})
	}
}

// flipHex changes the first hex digit so that it stays valid hex.
func flipHex(s string) string {
	c := s[0] ^ 1
	if c == '`' { // 'a'^1
		c = 'b'
	}
	return string(c) + s[1:]
}

func assertCorrupted(t *testing.T, v *Vault, path string) {
	t.Helper()
	pt, err := v.ReadFile(path)
	if pt != nil {
		t.Fatalf("ReadFile returned %d bytes with error %v", len(pt), err)
	}
	if !errors.Is(err, ErrCorrupted) {
		t.Fatalf("ReadFile error %v is not ErrCorrupted", err)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "corrupted") {
		t.Fatalf("error %q does not say corrupted and name %s", msg, path)
	}
}

// TestTruncatedAndFlipped cuts a sealed file at every length and flips one bit
// at every byte outside the salt (a changed salt costs a PBKDF2; TestCorrupted
// covers it once).
func TestTruncatedAndFlipped(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	good, err := v.SealFile([]byte("chunk text about the blue door"))
	if err != nil {
		t.Fatal(err)
	}
	saltStart := len(fileMagic) + len(jsonSalt)
	check := func(what string, b []byte) {
		pt, err := v.OpenFile(b)
		if pt != nil || !errors.Is(err, ErrCorrupted) {
			t.Fatalf("%s: got %d bytes, %v; want ErrCorrupted and no data", what, len(pt), err)
		}
	}
	for n := range len(good) {
		check(fmt.Sprintf("truncated to %d", n), good[:n])
	}
	for i := range good {
		if i >= saltStart && i < saltStart+2*saltLen {
			continue
		}
		for _, bit := range []byte{0x01, 0x02, 0x80} {
			b := bytes.Clone(good)
			b[i] ^= bit
			check(fmt.Sprintf("byte %d ^ %#x", i, bit), b)
		}
	}
	line, err := v.SealLine([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(line) {
		if _, err := v.OpenLine(line[:n]); !errors.Is(err, ErrCorrupted) {
			t.Fatalf("line truncated to %d: %v", n, err)
		}
	}
	inline, err := v.SealInline([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(inline) {
		if _, err := v.OpenInline(inline[:n]); !errors.Is(err, ErrCorrupted) {
			t.Fatalf("inline truncated to %d: %v", n, err)
		}
	}
}

// TestLenientReading covers the variations GenosOS may produce that must open.
func TestLenientReading(t *testing.T) {
	t.Parallel()
	v := newTestVault(t, Options{})
	pt := []byte("hello")
	sealed, err := v.SealFile(pt)
	if err != nil {
		t.Fatal(err)
	}
	obj := sealed[len(fileMagic):]
	e, _ := parseFile(sealed)
	pretty := fmt.Sprintf("{\n  \"salt\": \"%X\",\n  \"iv\": \"%x\",\n  \"tag\": \"%x\",\n  \"data\": \"%s\"\n}\n",
		e.salt, e.iv, e.tag, obj[bytes.LastIndex(obj, []byte(`"data":"`))+8:len(obj)-2])
	line, _ := v.SealLine(pt)
	padded := append(bytes.Clone(line), strings.Repeat("=", (4-(len(line)-len(linePrefix))%4)%4)...)
	tests := map[string]struct {
		open func([]byte) ([]byte, error)
		in   []byte
	}{
		"trailing newline":   {v.OpenFile, append(bytes.Clone(sealed), '\n')},
		"bare object":        {v.OpenFile, obj},
		"pretty upper hex":   {v.OpenFile, []byte(pretty)},
		"reordered + extra":  {v.OpenFile, reorder(t, e, obj)},
		"padded line":        {v.OpenLine, padded},
		"inline with spaces": {v.OpenInline, append([]byte(inlinePrefix), pretty...)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tt.open(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatal("plaintext mismatch")
			}
		})
	}
}

func reorder(t *testing.T, e *envelope, obj []byte) []byte {
	t.Helper()
	data := obj[bytes.LastIndex(obj, []byte(`"data":"`))+8 : len(obj)-2]
	return fmt.Appendf(nil, `{"v":1,"data":"%s","tag":"%x","iv":"%x","salt":"%x"}`, data, e.tag, e.iv, e.salt)
}

// TestIsSealed tells sealed values from plaintext ones.
func TestIsSealed(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"NYXENC1\n{}":   true,
		"NXLN:abc":      true,
		"NYXENC1:{}":    true,
		`{"model":"x"}`: false,
		"# Memory\n":    false,
		"":              false,
		`{"salt":"00","iv":"00","tag":"00","data":""}`: false, // wrong lengths: not an envelope
	}
	vaultEnc := readSample(t, "vault.enc.sample")
	if !IsSealed(vaultEnc) {
		t.Error("IsSealed(vault.enc.sample) = false")
	}
	for in, want := range tests {
		if got := IsSealed([]byte(in)); got != want {
			t.Errorf("IsSealed(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestKeyFormatRedacts makes sure no fmt verb prints key material.
func TestKeyFormatRedacts(t *testing.T) {
	t.Parallel()
	k, err := newKey([saltLen]byte{1}, bytes.Repeat([]byte{0xab}, keyLen))
	if err != nil {
		t.Fatal(err)
	}
	kr := newKeyring(&prf{inner: []byte{0xab, 0xab}, outer: []byte{0xab, 0xab}}, k)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		for _, val := range []any{k, kr} {
			out := fmt.Sprintf(verb, val)
			if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
				t.Errorf("%s of %T leaks key bytes: %s", verb, val, out)
			}
		}
	}
}
