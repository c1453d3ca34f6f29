package vault

import (
	"bytes"
	"testing"
)

func benchSeal(b *testing.B, size int) {
	v := newTestVault(b, Options{})
	pt := bytes.Repeat([]byte{'x'}, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.SealFile(pt); err != nil {
			b.Fatal(err)
		}
	}
}

func benchOpen(b *testing.B, size int) {
	v := newTestVault(b, Options{})
	sealed, err := v.SealFile(bytes.Repeat([]byte{'x'}, size))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.OpenFile(sealed); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeal1KiB(b *testing.B) { benchSeal(b, 1<<10) }
func BenchmarkOpen1KiB(b *testing.B) { benchOpen(b, 1<<10) }
func BenchmarkSeal1MiB(b *testing.B) { benchSeal(b, 1<<20) }
func BenchmarkOpen1MiB(b *testing.B) { benchOpen(b, 1<<20) }

// BenchmarkUnlock is one PBKDF2 and the check value: the cost paid once per
// unlock.
func BenchmarkUnlock(b *testing.B) {
	v := newTestVault(b, Options{})
	v.Lock()
	w, err := Open(v.Dir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := w.Unlock([]byte(testPass)); err != nil {
			b.Fatal(err)
		}
		w.Lock()
	}
}

// BenchmarkSealPBKDFPerWrite seals 1 KiB the way GenosOS does, with a fresh
// salt and so a full PBKDF2 for every write; compare with BenchmarkSeal1KiB.
func BenchmarkSealPBKDFPerWrite(b *testing.B) {
	pt := bytes.Repeat([]byte{'x'}, 1<<10)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		k, err := NewKey([]byte(testPass))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SealFile(k, pt); err != nil {
			b.Fatal(err)
		}
		k.Destroy()
	}
}
