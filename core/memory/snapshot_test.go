package memory

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/vault"
)

// snapEnv is a sealed memory with notes and a snapshot path.
type snapEnv struct {
	*env
	v    *vault.Vault
	o    Options
	path string
}

func newSnapEnv(t *testing.T) *snapEnv {
	t.Helper()
	e := newEnv(t)
	v := newVault(t)
	o := e.options(nil)
	o.Sealer, o.Codec = v, v.InlineCodec()
	o.SnapshotPath = filepath.Join(e.dir, "memory-index", "a1.idx")
	o.SnapshotDelay = time.Hour // written by SaveSnapshot in these tests
	se := &snapEnv{env: e, v: v, o: o, path: o.SnapshotPath}
	se.writeSealed(t, "MEMORY.md", memoryNote)
	se.writeSealed(t, "memory/2026-11-20.md", datedNote)
	for i := range 30 {
		se.writeSealed(t, fmt.Sprintf("memory/2026-10-%02d.md", i+1), fmt.Sprintf(
			"# Day %d\n\n## Errands\nPicked up parcel %d at the post office; the courier was Zed%d.\n\n## Work\nReviewed invoice %d for vendor Acme%d.\n",
			i, 1000+i, i, 4000+i, i%4))
	}
	return se
}

func (se *snapEnv) writeSealed(t *testing.T, rel, content string) {
	t.Helper()
	sealed, err := se.v.SealFile([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	se.write(t, rel, string(sealed))
}

// results runs a fixed set of searches.
func results(t *testing.T, m *Memory) [][]Hit {
	t.Helper()
	var out [][]Hit
	found := 0
	for _, q := range []string{"Kowalski sister Porto", "dentist", "flight Lisbon seat", "invoice vendor Acme2",
		"parcel post office courier", "Zed7", "quarterly report budget", "green tea", "Friday 20 November 2026"} {
		hits, err := m.Search(t.Context(), SearchRequest{Text: q, Mode: index.ModeBM25, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) > 0 {
			found++
		}
		out = append(out, hits)
	}
	if found < 8 {
		t.Fatalf("only %d queries found anything", found)
	}
	return out
}

// fresh opens the same rows without a snapshot: what a restore must equal.
func (se *snapEnv) fresh(t *testing.T) [][]Hit {
	t.Helper()
	o := se.o
	o.SnapshotPath = ""
	m := openMem(t, o)
	defer m.Close()
	if st := m.Status(t.Context()); st.IndexFrom != "rows" {
		t.Fatalf("fresh open: IndexFrom = %q", st.IndexFrom)
	}
	return results(t, m)
}

func TestSnapshotReopen(t *testing.T) {
	se := newSnapEnv(t)
	ctx := t.Context()
	m := openMem(t, se.o)
	if st := m.Status(ctx); st.IndexFrom != "rows" || st.IndexNote != "no snapshot yet" {
		t.Errorf("first open: %q %q", st.IndexFrom, st.IndexNote)
	}
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(ctx); st.SnapshotSaved.IsZero() || st.SnapshotError != "" {
		t.Errorf("after SaveSnapshot: saved %v, error %q", st.SnapshotSaved, st.SnapshotError)
	}
	chunks := m.Status(ctx).Chunks
	m.Close()

	t.Run("unchanged", func(t *testing.T) {
		m := openMem(t, se.o)
		st := m.Status(ctx)
		if st.IndexFrom != "snapshot" || st.IndexNote != fmt.Sprintf("%d chunks kept, 0 indexed, 0 dropped", chunks) {
			t.Errorf("reopen: %q %q", st.IndexFrom, st.IndexNote)
		}
		if diff := cmp.Diff(se.fresh(t), results(t, m)); diff != "" {
			t.Errorf("restored results differ (-fresh +restored):\n%s", diff)
		}
		// Nothing changed: nothing to write.
		info, _ := os.Stat(se.path)
		if err := m.SaveSnapshot(ctx); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.Stat(se.path); !again.ModTime().Equal(info.ModTime()) {
			t.Error("an unchanged index rewrote its snapshot")
		}
	})

	t.Run("stale", func(t *testing.T) {
		// Notes change and the memory closes before its snapshot is
		// rewritten: the next open reconciles the old snapshot.
		m := openMem(t, se.o)
		se.writeSealed(t, "memory/2026-10-03.md", "# Day 2\n\n## Errands\nThe courier Quill brought a new parcel.\n")
		if err := os.Remove(filepath.Join(se.ws, "memory", "2026-10-04.md")); err != nil {
			t.Fatal(err)
		}
		se.writeSealed(t, "memory/2026-11-24.md", "# Late\n\nThe plumber Vasquez comes on Monday.\n")
		if _, err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		m.Close()
		m2 := openMem(t, se.o)
		st := m2.Status(ctx)
		if st.IndexFrom != "snapshot" || strings.HasSuffix(st.IndexNote, "0 indexed, 0 dropped") {
			t.Errorf("stale reopen: %q %q", st.IndexFrom, st.IndexNote)
		}
		got := results(t, m2)
		if diff := cmp.Diff(se.fresh(t), got); diff != "" {
			t.Errorf("reconciled results differ (-fresh +restored):\n%s", diff)
		}
		for _, q := range []string{"Quill", "Vasquez"} {
			if hits, _ := m2.Search(ctx, SearchRequest{Text: q, Mode: index.ModeBM25}); len(hits) == 0 {
				t.Errorf("%s not found after reconciling", q)
			}
		}
		if hits, _ := m2.Search(ctx, SearchRequest{Text: "Zed3", Mode: index.ModeBM25}); len(hits) != 0 {
			t.Errorf("a deleted note is still found: %v", sources(hits))
		}
		// The reconciled index is dirty: the next save writes it.
		if err := m2.SaveSnapshot(ctx); err != nil {
			t.Fatal(err)
		}
		m2.Close()
		m3 := openMem(t, se.o)
		if st := m3.Status(ctx); !strings.HasSuffix(st.IndexNote, "0 indexed, 0 dropped") {
			t.Errorf("after resave: %q", st.IndexNote)
		}
	})
}

// TestSnapshotSealedAtRest scans the snapshot file for the notes' words.
func TestSnapshotSealedAtRest(t *testing.T) {
	se := newSnapEnv(t)
	m := openMem(t, se.o)
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveSnapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	raw, err := os.ReadFile(se.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(snapMagic+"S")) {
		t.Fatalf("snapshot header %q", raw[:min(len(raw), 9)])
	}
	if info, _ := os.Stat(se.path); info.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v", info.Mode().Perm())
	}
	for _, w := range []string{"kowalski", "Kowalski", "okafor", "porto", "lisbon", "tp1234", "courier", "parcel", "invoice", "SQLite format"} {
		if bytes.Contains(raw, []byte(w)) {
			t.Errorf("snapshot file holds %q in plaintext", w)
		}
	}
	// The same memory without a vault writes a plain one (it does hold the
	// words): the scan above would have caught them.
	e := newEnv(t)
	o := e.options(nil)
	o.SnapshotPath = filepath.Join(e.dir, "plain.idx")
	e.write(t, "MEMORY.md", memoryNote)
	pm := openMem(t, o)
	if _, err := pm.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := pm.SaveSnapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	pm.Close()
	if plain, _ := os.ReadFile(o.SnapshotPath); !bytes.Contains(plain, []byte("kowalski")) || !bytes.HasPrefix(plain, []byte(snapMagic+"P")) {
		t.Error("the plain snapshot does not hold the indexed words: the scan proves nothing")
	}
}

// savedEnv returns a snapEnv whose snapshot file has been written.
func savedEnv(t *testing.T) *snapEnv {
	t.Helper()
	se := newSnapEnv(t)
	m := openMem(t, se.o)
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveSnapshot(t.Context()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	return se
}

func TestSnapshotDamagedRebuilds(t *testing.T) {
	other, err := vault.Create(filepath.Join(t.TempDir(), "other"), []byte("another passphrase"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, se *snapEnv, raw []byte) []byte
		note   string
	}{
		{"truncated", func(_ *testing.T, _ *snapEnv, raw []byte) []byte { return raw[:len(raw)/2] }, "snapshot damaged"},
		{"no end mark", func(_ *testing.T, _ *snapEnv, raw []byte) []byte { return raw[:len(raw)-4] }, "snapshot damaged"},
		{"flipped byte", func(_ *testing.T, _ *snapEnv, raw []byte) []byte { raw[len(raw)/2] ^= 1; return raw }, "snapshot damaged"},
		{"garbage", func(_ *testing.T, _ *snapEnv, _ []byte) []byte { return []byte("not a snapshot at all") }, "snapshot unreadable"},
		{"empty", func(_ *testing.T, _ *snapEnv, _ []byte) []byte { return nil }, "snapshot unreadable"},
		{"another vault", func(t *testing.T, se *snapEnv, raw []byte) []byte {
			return resealed(t, se, raw, other)
		}, "snapshot damaged"},
		{"pieces swapped", func(t *testing.T, se *snapEnv, raw []byte) []byte {
			return swapPieces(t, raw)
		}, "snapshot damaged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			se := savedEnv(t)
			raw, err := os.ReadFile(se.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(se.path, tc.damage(t, se, raw), 0o600); err != nil {
				t.Fatal(err)
			}
			m := openMem(t, se.o)
			st := m.Status(t.Context())
			if st.IndexFrom != "rows" || st.IndexNote != tc.note {
				t.Errorf("status %q %q, want rows, %q", st.IndexFrom, st.IndexNote, tc.note)
			}
			if diff := cmp.Diff(se.fresh(t), results(t, m)); diff != "" {
				t.Errorf("rebuilt results differ:\n%s", diff)
			}
			// The next save replaces the damaged file.
			if err := m.SaveSnapshot(t.Context()); err != nil {
				t.Fatal(err)
			}
			m.Close()
			if st := openMem(t, se.o).Status(t.Context()); st.IndexFrom != "snapshot" {
				t.Errorf("after resave: %q %q", st.IndexFrom, st.IndexNote)
			}
		})
	}
}

// pieces splits a snapshot file into its stored pieces.
func pieces(t *testing.T, raw []byte) [][]byte {
	t.Helper()
	var out [][]byte
	b := raw[len(snapMagic)+1:]
	for {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n == 0 {
			return out
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
}

func joinPieces(raw []byte, ps [][]byte) []byte {
	out := append([]byte(nil), raw[:len(snapMagic)+1]...)
	for _, p := range ps {
		out = append(out, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
		out = append(out, p...)
	}
	return append(out, 0, 0, 0, 0)
}

// resealed opens every piece with se's vault and seals it with other.
func resealed(t *testing.T, se *snapEnv, raw []byte, other *vault.Vault) []byte {
	t.Helper()
	ps := pieces(t, raw)
	for i, p := range ps {
		pt, err := se.v.OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if ps[i], err = other.SealFile(pt); err != nil {
			t.Fatal(err)
		}
	}
	return joinPieces(raw, ps)
}

// swapPieces makes the file two pieces long (splitting the first one's
// data) and swaps them: each still opens, their order is wrong.
func swapPieces(t *testing.T, raw []byte) []byte {
	t.Helper()
	ps := pieces(t, raw)
	if len(ps) < 2 {
		// A small snapshot is one piece: repeat it instead, which is
		// refused just the same (a piece out of place).
		return joinPieces(raw, [][]byte{ps[0], ps[0]})
	}
	ps[0], ps[1] = ps[1], ps[0]
	return joinPieces(raw, ps)
}

// lockedSealer opens nothing: as if the vault locked while Open read the
// snapshot (the rows still open through the codec).
type lockedSealer struct{ Sealer }

func (lockedSealer) OpenFile([]byte) ([]byte, error) { return nil, vault.ErrLocked }

func TestSnapshotLockedFailsOpen(t *testing.T) {
	se := savedEnv(t)
	o := se.o
	o.Sealer = lockedSealer{se.v}
	if m, err := Open(t.Context(), o); !errors.Is(err, vault.ErrLocked) {
		if m != nil {
			m.Close()
		}
		t.Fatalf("Open with a locked sealer = %v, want vault.ErrLocked", err)
	}
}

func TestSnapshotPlainAndSealedMismatch(t *testing.T) {
	t.Run("plain file with a vault is removed", func(t *testing.T) {
		se := newSnapEnv(t)
		if err := os.MkdirAll(filepath.Dir(se.path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(se.path, []byte(snapMagic+"P\x00\x00\x00\x00"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := openMem(t, se.o)
		if st := m.Status(t.Context()); st.IndexNote != "plaintext snapshot removed" {
			t.Errorf("note %q", st.IndexNote)
		}
		if _, err := os.Stat(se.path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("plain snapshot still there: %v", err)
		}
	})
	t.Run("sealed file without a vault is kept", func(t *testing.T) {
		se := savedEnv(t)
		raw, _ := os.ReadFile(se.path)
		e := newEnv(t)
		o := e.options(nil)
		o.SnapshotPath = se.path
		e.write(t, "MEMORY.md", memoryNote)
		m := openMem(t, o)
		if _, err := m.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if st := m.Status(t.Context()); st.IndexNote != "snapshot sealed, no vault" {
			t.Errorf("note %q", st.IndexNote)
		}
		if err := m.SaveSnapshot(t.Context()); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(se.path); !bytes.Equal(raw, again) {
			t.Error("a sealed snapshot was overwritten without a vault")
		}
	})
}

func TestSnapshotBackgroundWrite(t *testing.T) {
	se := newSnapEnv(t)
	o := se.o
	o.SnapshotDelay = time.Millisecond
	m := openMem(t, o)
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for m.Status(t.Context()).SnapshotSaved.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("no background snapshot write")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.Close()
	if st := openMem(t, se.o).Status(t.Context()); st.IndexFrom != "snapshot" {
		t.Errorf("reopen: %q %q", st.IndexFrom, st.IndexNote)
	}
}

// blockingSealer holds SealFile until released, recording that it was
// entered and when it returned.
type blockingSealer struct {
	Sealer
	entered  chan struct{}
	release  chan struct{}
	once     sync.Once
	returned atomic.Bool
	calls    atomic.Int32
}

func (b *blockingSealer) SealFile(p []byte) ([]byte, error) {
	b.calls.Add(1)
	b.once.Do(func() { close(b.entered) })
	<-b.release
	defer b.returned.Store(true)
	return b.Sealer.SealFile(p)
}

func TestCloseCancelsSnapshotWrite(t *testing.T) {
	se := newSnapEnv(t)
	m := openMem(t, se.o)
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	bs := &blockingSealer{Sealer: se.v, entered: make(chan struct{}), release: make(chan struct{})}
	m.o.Sealer = bs
	saved := make(chan error, 1)
	go func() { saved <- m.SaveSnapshot(t.Context()) }()
	<-bs.entered
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a snapshot write was sealing")
	case <-time.After(50 * time.Millisecond):
	}
	close(bs.release)
	<-closed
	if !bs.returned.Load() {
		t.Error("Close returned before the write stopped")
	}
	if err := <-saved; !errors.Is(err, ErrClosed) {
		t.Errorf("SaveSnapshot = %v, want ErrClosed", err)
	}
	calls := bs.calls.Load()
	if _, err := os.Stat(se.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cancelled write left the snapshot file: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(se.path), ".*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	if bs.calls.Load() != calls {
		t.Error("sealing went on after Close")
	}
}
