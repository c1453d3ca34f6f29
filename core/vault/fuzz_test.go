package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
)

// fuzzVault returns an unlocked vault for fuzzing. Real PBKDF2 runs only for
// the salts of the seeds (GenosOS vectors and samples under testPass); any
// other salt gets a cheap stand-in key, which can never authenticate, so a
// mutated salt costs nothing instead of 50 ms.
func fuzzVault(f *testing.F, seeds [][]byte) *Vault {
	f.Helper()
	v, err := Create(filepath.Join(f.TempDir(), "vault"), []byte(testPass), Options{})
	if err != nil {
		f.Fatal(err)
	}
	known := map[[saltLen]byte]bool{}
	for _, s := range seeds {
		if e, err := parseAny(s); err == nil {
			known[e.salt] = true
		}
	}
	v.kdf = func(p *prf, salt [saltLen]byte) (*Key, error) {
		if known[salt] {
			return p.key(salt)
		}
		sum := sha256.Sum256(salt[:])
		return newKey(salt, sum[:])
	}
	return v
}

// fuzzSeeds returns the vectors of one form plus samples and edge cases.
func fuzzSeeds(f *testing.F, form string) [][]byte {
	var seeds [][]byte
	for _, c := range loadVectors(f) {
		if c.Form == form && len(c.Sealed) < 4096 {
			seeds = append(seeds, []byte(c.Sealed))
		}
	}
	switch form {
	case "file":
		seeds = append(seeds, readSample(f, "genosos.json.sample"), readSample(f, "vault.enc.sample"),
			[]byte("NYXENC1\n"), []byte("{}"), []byte("NYXENC1\n{\"salt\":null}"))
	case "line":
		lines := bytes.Split(readSample(f, "transcript.jsonl.sample"), []byte("\n"))
		for _, l := range lines {
			if bytes.HasPrefix(l, []byte(linePrefix)) {
				seeds = append(seeds, l, append(bytes.Clone(l), '='))
			}
		}
		seeds = append(seeds, []byte("NXLN:"), []byte("NXLN:e30"))
	case "inline":
		seeds = append(seeds, []byte("NYXENC1:"), []byte(`NYXENC1:{"salt":"","iv":"","tag":"","data":""}`))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	return seeds
}

// fuzzOpen is the property shared by the three targets: never panic; every
// failure is ErrCorrupted with no data; anything that opens re-seals and
// re-opens to the same plaintext; and the fast canonical parser agrees with
// encoding/json wherever it accepts an object.
func fuzzOpen(t *testing.T, v *Vault, in []byte, open, seal func([]byte) ([]byte, error), object []byte) {
	if object != nil {
		if fast, ok := parseCanonical(object); ok {
			slow, err := parseJSON(object)
			if err != nil {
				t.Fatalf("canonical parser accepted what encoding/json rejects: %v", err)
			}
			if fast.salt != slow.salt || fast.iv != slow.iv || fast.tag != slow.tag || !bytes.Equal(fast.data, slow.data) {
				t.Fatal("canonical parser and encoding/json disagree")
			}
		}
	}
	pt, err := open(in)
	if err != nil {
		if pt != nil {
			t.Fatalf("open returned %d bytes with error %v", len(pt), err)
		}
		if !errors.Is(err, ErrCorrupted) {
			t.Fatalf("open error %v is not ErrCorrupted", err)
		}
		return
	}
	resealed, err := seal(pt)
	if err != nil {
		t.Fatal(err)
	}
	again, err := open(resealed)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	if !bytes.Equal(again, pt) {
		t.Fatal("re-sealed plaintext differs")
	}
}

func FuzzOpenFile(f *testing.F) {
	v := fuzzVault(f, fuzzSeeds(f, "file"))
	f.Fuzz(func(t *testing.T, in []byte) {
		obj, _ := bytes.CutPrefix(in, []byte(fileMagic))
		fuzzOpen(t, v, in, v.OpenFile, v.SealFile, obj)
	})
}

func FuzzOpenLine(f *testing.F) {
	v := fuzzVault(f, fuzzSeeds(f, "line"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzOpen(t, v, in, v.OpenLine, v.SealLine, nil)
	})
}

func FuzzOpenInline(f *testing.F) {
	v := fuzzVault(f, fuzzSeeds(f, "inline"))
	f.Fuzz(func(t *testing.T, in []byte) {
		obj, _ := bytes.CutPrefix(in, []byte(inlinePrefix))
		fuzzOpen(t, v, in, v.OpenInline, v.SealInline, obj)
	})
}

// FuzzParseJournal checks that the rekey journal parser never panics, that
// everything it rejects is ErrCorrupted, and that what it accepts encodes
// back to something it parses to the same journal.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"genos":"vault-rekey","version":1,"check":"","newKeys":"","oldKeys":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"genos":"vault-rekey","version":1,"extra":1}`))
	v, err := Create(filepath.Join(f.TempDir(), "vault"), []byte(testPass), Options{kdf: fastKDF})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := v.BeginRekey([]byte(testPass), []byte("next")); err != nil {
		f.Fatal(err)
	}
	f.Add(readFile(f, filepath.Join(v.Dir(), RekeyFile)))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := parseJournal(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupted) {
				t.Fatalf("rejected without ErrCorrupted: %v", err)
			}
			return
		}
		enc := j.encode()
		j2, err := parseJournal(enc)
		if err != nil {
			t.Fatalf("re-encoded journal does not parse: %v", err)
		}
		if !bytes.Equal(j2.encode(), enc) {
			t.Fatal("journal changed across an encode/parse round trip")
		}
	})
}
