package index

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// snapDocs returns n docs with Zipf texts (so BM25 statistics matter),
// vectors on every other doc and times.
func snapDocs(seed uint64, n int) []Doc {
	c := newCorpus(seed)
	docs := make([]Doc, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range docs {
		docs[i] = Doc{ID: int64(i*7 + 3), Source: fmt.Sprintf("memory/n%d.md", i), Text: c.text(20 + c.r.IntN(60)),
			Time: base.Add(time.Duration(i) * time.Hour)}
		if i%2 == 0 {
			docs[i].Vector = randUnit(c.r, 8)
		}
	}
	return docs
}

// snapQueries returns queries covering BM25, vector and hybrid search,
// their words drawn from docs (the corpus vocabulary depends on its seed).
func snapQueries(seed uint64, docs []Doc, n int) []Query {
	r := rand.New(rand.NewPCG(seed, 0))
	qs := make([]Query, 0, n)
	for i := range n {
		words := strings.Fields(docs[r.IntN(len(docs))].Text)
		var picked []string
		for range 1 + i%4 {
			picked = append(picked, words[r.IntN(len(words))])
		}
		q := Query{Text: strings.Join(picked, " "), Limit: 20, Now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
		switch i % 3 {
		case 1:
			q.Mode = ModeBM25
		case 2:
			q.Vector = randUnit(r, 8)
			q.MMRLambda = 0.7
		}
		qs = append(qs, q)
	}
	return qs
}

// encodeDecode runs a snapshot through its encoding.
func encodeDecode(t *testing.T, s *Snapshot) *Snapshot {
	t.Helper()
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d", n, err, buf.Len())
	}
	out, err := ReadSnapshot(&buf, int64(buf.Len()))
	if err != nil {
		t.Fatalf("ReadSnapshot: %v", err)
	}
	return out
}

func takeSnapshot(t *testing.T, opts Options, docs []Doc) *Snapshot {
	t.Helper()
	ix := newIndex(t, opts, docs...)
	s, err := ix.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return encodeDecode(t, s)
}

func restoreIndex(t *testing.T, opts Options, s *Snapshot, docs []Doc) (*Index, RestoreStats) {
	t.Helper()
	ix, st, err := Restore(t.Context(), opts, s, docs)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix, st
}

// sameResults checks that both indexes answer every query identically,
// scores included.
func sameResults(t *testing.T, want, got *Index, qs []Query) {
	t.Helper()
	if want.Len() != got.Len() {
		t.Errorf("Len = %d, want %d", got.Len(), want.Len())
	}
	nonEmpty := 0
	for i, q := range qs {
		w, g := search(t, want, q), search(t, got, q)
		if len(w) > 0 {
			nonEmpty++
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("query %d (%s %q): results differ (-fresh +restored):\n%s", i, q.Mode, q.Text, diff)
		}
	}
	if nonEmpty < len(qs)*9/10 {
		t.Fatalf("only %d of %d queries found anything: the comparison proves little", nonEmpty, len(qs))
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, shards := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			opts := Options{Shards: shards}
			docs := snapDocs(1, 600)
			fresh := newIndex(t, opts, docs...)
			snap := takeSnapshot(t, opts, docs)
			if snap.Len() != len(docs) || snap.Shards() != max(shards, 1) {
				t.Fatalf("snapshot holds %d docs in %d shards", snap.Len(), snap.Shards())
			}
			ix, st := restoreIndex(t, opts, snap, docs)
			if want := (RestoreStats{Used: true, Kept: len(docs), Took: st.Took}); st != want {
				t.Errorf("stats = %+v, want %+v", st, want)
			}
			sameResults(t, fresh, ix, snapQueries(2, docs, 60))
			// The restored index keeps working as an index.
			if err := ix.Add(t.Context(), Doc{ID: 1, Text: "zebra crossing"}); err != nil {
				t.Fatal(err)
			}
			if got := hitIDs(search(t, ix, Query{Text: "zebra"})); !cmp.Equal(got, []int64{1}) {
				t.Errorf("search after Add = %v", got)
			}
		})
	}
}

func TestSnapshotReconcile(t *testing.T) {
	for _, shards := range []int{0, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) { testReconcile(t, Options{Shards: shards}) })
	}
}

func testReconcile(t *testing.T, opts Options) {
	old := snapDocs(3, 500)
	snap := takeSnapshot(t, opts, old)

	// Between the snapshot and the restore: every 5th doc changed, every
	// 7th deleted, 50 new ones, one doc's vector changed only.
	c := newCorpus(4)
	var docs []Doc
	changed, deleted := 0, 0
	for i, d := range old {
		switch {
		case i%7 == 0:
			deleted++
			continue
		case i%5 == 0:
			d.Text = c.text(30)
			changed++
		case i == 1:
			d.Vector = randUnit(c.r, 8)
		}
		docs = append(docs, d)
	}
	for i := range 50 {
		docs = append(docs, Doc{ID: int64(100000 + i), Source: "memory/new.md", Text: c.text(40), Vector: randUnit(c.r, 8)})
	}
	// The docs arrive in another order than they were added.
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(docs), func(i, j int) { docs[i], docs[j] = docs[j], docs[i] })

	fresh := newIndex(t, opts, docs...)
	ix, st := restoreIndex(t, opts, snap, docs)
	want := RestoreStats{Used: true, Kept: len(docs) - 50 - changed, Inserted: 50 + changed, Changed: changed, Deleted: deleted, Took: st.Took}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	sameResults(t, fresh, ix, snapQueries(7, docs, 90))
	// A deleted doc's words no longer match.
	for _, h := range search(t, ix, Query{Text: old[7].Text, Mode: ModeBM25, Limit: 1000}) {
		if h.ID == old[7].ID {
			t.Errorf("deleted doc %d still found", h.ID)
		}
	}
}

func TestSnapshotIgnored(t *testing.T) {
	docs := snapDocs(8, 200)
	good := takeSnapshot(t, Options{Shards: 2}, docs)
	foreign := func() []byte {
		db, err := openDB()
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE chunks(text)`); err != nil {
			t.Fatal(err)
		}
		s := &shard{db: db}
		b, err := s.serialize(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}()
	with := func(f func(s *Snapshot)) *Snapshot {
		s := &Snapshot{shards: bytes2(good.shards), ids: append([]int64(nil), good.ids...), sums: append([]uint64(nil), good.sums...)}
		f(s)
		return s
	}
	cases := []struct {
		name   string
		opts   Options
		snap   *Snapshot
		reason string
	}{
		{"nil", Options{Shards: 2}, nil, "no snapshot"},
		{"shard count", Options{Shards: 3}, good, "snapshot has 2 shards, this index uses 3"},
		{"auto layout wants one shard", Options{}, good, "snapshot has 2 shards, this index uses 1"},
		{"not sqlite", Options{Shards: 2}, with(func(s *Snapshot) { s.shards[1] = bytes.Repeat([]byte("x"), 4096) }), "not an SQLite database"},
		{"truncated database", Options{Shards: 2}, with(func(s *Snapshot) { s.shards[0] = s.shards[0][:len(s.shards[0])/2] }), "snapshot does not load"},
		{"foreign database", Options{Shards: 2}, with(func(s *Snapshot) { s.shards[0] = foreign }), "unexpected schema"},
		{"manifest lies", Options{Shards: 2}, with(func(s *Snapshot) { s.ids, s.sums = s.ids[:100], s.sums[:100] }), "documents, its manifest"},
	}
	fresh := newIndex(t, Options{Shards: 2}, docs...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ix, st := restoreIndex(t, tc.opts, tc.snap, docs)
			if st.Used || !bytes.Contains([]byte(st.Reason), []byte(tc.reason)) {
				t.Errorf("stats = %+v, want unused because %q", st, tc.reason)
			}
			if st.Inserted != len(docs) || ix.Len() != len(docs) {
				t.Errorf("rebuilt %d docs (stats %d), want %d", ix.Len(), st.Inserted, len(docs))
			}
			if tc.opts.Shards == 2 {
				sameResults(t, fresh, ix, snapQueries(9, docs, 30))
			}
		})
	}
}

func bytes2(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = bytes.Clone(b)
	}
	return out
}

// TestSnapshotInMemoryOnly checks that a restored shard still keeps its
// journal in memory and that Restore rejects invalid docs.
func TestSnapshotInMemoryOnly(t *testing.T) {
	docs := snapDocs(10, 50)
	snap := takeSnapshot(t, Options{}, docs)
	ix, st := restoreIndex(t, Options{}, snap, docs)
	if !st.Used {
		t.Fatalf("snapshot unused: %s", st.Reason)
	}
	for i, s := range ix.shards {
		var mode, temp string
		if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := s.db.QueryRow(`PRAGMA temp_store`).Scan(&temp); err != nil {
			t.Fatal(err)
		}
		if mode != "memory" || temp != "2" {
			t.Errorf("shard %d: journal_mode %q temp_store %q, want memory and 2", i, mode, temp)
		}
		var file sql.NullString
		if err := s.db.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
			t.Fatal(err)
		}
		if file.String != "" {
			t.Errorf("shard %d is backed by file %q", i, file.String)
		}
	}
	bad := append([]Doc(nil), docs...)
	bad[3].Vector = []float32{1, 2}
	if _, _, err := Restore(t.Context(), Options{}, snap, bad); err == nil {
		t.Error("Restore accepted a doc with a vector of another dimension")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	changed := append([]Doc(nil), docs...)
	changed[0].Text = "something else entirely"
	if _, _, err := Restore(ctx, Options{}, snap, changed); !errors.Is(err, context.Canceled) {
		t.Errorf("Restore with a cancelled context = %v", err)
	}
}

func TestSnapshotClosed(t *testing.T) {
	ix := newIndex(t, Options{}, Doc{ID: 1, Text: "a"})
	ix.Close()
	if _, err := ix.Snapshot(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Snapshot after Close = %v", err)
	}
}

func TestReadSnapshotRejects(t *testing.T) {
	snap := takeSnapshot(t, Options{Shards: 2}, snapDocs(11, 40))
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	// Every truncation fails.
	for n := 0; n < len(enc); n += 1 + n/50 {
		if _, err := ReadSnapshot(bytes.NewReader(enc[:n]), int64(n)); err == nil {
			t.Fatalf("truncated to %d of %d bytes: accepted", n, len(enc))
		}
	}
	// Every flipped byte fails (the checksum, or a structural check).
	for i := 0; i < len(enc); i += 1 + i/40 {
		b := bytes.Clone(enc)
		b[i] ^= 0x10
		if _, err := ReadSnapshot(bytes.NewReader(b), int64(len(b))); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	// A limit below the size fails; trailing data fails.
	if _, err := ReadSnapshot(bytes.NewReader(enc), int64(len(enc)-1)); err == nil {
		t.Error("accepted beyond its limit")
	}
	if _, err := ReadSnapshot(bytes.NewReader(append(bytes.Clone(enc), 0)), int64(len(enc)+1)); err == nil {
		t.Error("accepted trailing data")
	}
	// Another version is told apart.
	b := bytes.Clone(enc)
	binary.LittleEndian.PutUint32(b[8:], snapshotVersion+1)
	if _, err := ReadSnapshot(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrSnapshotVersion) {
		t.Errorf("other version: %v", err)
	}
	// A huge claimed shard is refused before it is allocated.
	huge := binary.LittleEndian.AppendUint32([]byte(snapshotMagic), snapshotVersion)
	huge = binary.LittleEndian.AppendUint32(huge, 1)
	huge = binary.LittleEndian.AppendUint64(huge, 1<<40)
	if _, err := ReadSnapshot(bytes.NewReader(huge), 1<<50); err == nil {
		t.Error("accepted a shard of 1 TiB")
	}
}

// FuzzReadSnapshot feeds arbitrary bytes to the decoder: it must never
// panic, and whatever it accepts must encode back to an equal snapshot.
func FuzzReadSnapshot(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(snapshotMagic))
	f.Add(fuzzSeed(1, []int64{-5, 1, 2, 1 << 40}, 3))
	f.Add(fuzzSeed(2, []int64{7}, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadSnapshot(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if _, err := s.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := ReadSnapshot(&buf, int64(buf.Len()))
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !cmp.Equal(s, again, cmp.AllowUnexported(Snapshot{})) {
			t.Fatal("re-encoded snapshot differs")
		}
	})
}

// fuzzSeed encodes a small valid snapshot with nShards fake databases of a
// few bytes (ReadSnapshot does not open them).
func fuzzSeed(seed uint64, ids []int64, nShards int) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	s := &Snapshot{ids: ids, sums: make([]uint64, len(ids))}
	for i := range s.sums {
		s.sums[i] = r.Uint64()
	}
	for i := range max(nShards, 1) {
		s.shards = append(s.shards, []byte(fmt.Sprintf("shard-%d", i)))
	}
	var buf bytes.Buffer
	_, _ = s.WriteTo(&buf)
	return buf.Bytes()
}

// TestFuzzSeedChecksum keeps the committed corpus honest: the seeds are
// valid encodings.
func TestFuzzSeedChecksum(t *testing.T) {
	b := fuzzSeed(1, []int64{-5, 1, 2, 1 << 40}, 3)
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != sum {
		t.Fatal("seed checksum wrong")
	}
	if _, err := ReadSnapshot(bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}
