package memory

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/memory/index"
)

func TestSyncIncremental(t *testing.T) {
	e := newEnv(t)
	srv, emb := newEmbedder(t, "bag-32")
	e.write(t, "MEMORY.md", memoryNote)
	e.write(t, "memory/2026-11-20.md", datedNote)
	e.write(t, "memory/notes.txt", "not a note")
	m := openMem(t, e.options(emb))
	ctx := t.Context()

	st, err := m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Notes != 2 || st.Updated != 2 || st.Chunks == 0 || st.Embedded != st.Chunks || st.EmbedError != "" {
		t.Fatalf("first sync: %+v", st)
	}
	_, inputs := srv.counts()
	if inputs != st.Chunks {
		t.Fatalf("embedded %d inputs for %d chunks", inputs, st.Chunks)
	}

	// Nothing changed: nothing is read twice, nothing embedded.
	reqs, _ := srv.counts()
	st, err = m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Unchanged != 2 || st.Updated != 0 || st.Embedded != 0 {
		t.Fatalf("second sync: %+v", st)
	}
	if r, _ := srv.counts(); r != reqs {
		t.Fatalf("an unchanged sync made %d embedding requests", r-reqs)
	}

	// One section added to one note: only the new chunk is embedded.
	e.write(t, "MEMORY.md", memoryNote+"\n## Pets\n- A cat named Miso.\n")
	_, before := srv.counts()
	st, err = m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, after := srv.counts()
	if st.Updated != 1 || st.Unchanged != 1 || after-before != 1 || st.Embedded != 1 {
		t.Fatalf("sync after an edit: %+v, %d inputs embedded", st, after-before)
	}
	hits, err := m.Search(ctx, SearchRequest{Text: "cat Miso"})
	if err != nil || len(hits) == 0 || hits[0].Path != "MEMORY.md" || !strings.Contains(hits[0].Text, "Miso") {
		t.Fatalf("search for the new fact: %+v, %v", hits, err)
	}
	if hits[0].Source != "MEMORY.md#L11-L12" || hits[0].StartLine != 11 || hits[0].EndLine != 12 {
		t.Errorf("source = %s (%d-%d)", hits[0].Source, hits[0].StartLine, hits[0].EndLine)
	}

	// A deleted note leaves the index and the database.
	if err := os.Remove(filepath.Join(e.ws, "memory", "2026-11-20.md")); err != nil {
		t.Fatal(err)
	}
	st, err = m.Sync(ctx)
	if err != nil || st.Removed != 1 {
		t.Fatalf("sync after delete: %+v, %v", st, err)
	}
	hits, _ = m.Search(ctx, SearchRequest{Text: "Lisbon flight TP1234", Mode: index.ModeBM25})
	if len(hits) != 0 {
		t.Fatalf("a deleted note is still found: %v", sources(hits))
	}
	rows, _ := e.db.MemoryNotes(ctx, "a1")
	if len(rows) != 1 {
		t.Fatalf("%d note rows after delete", len(rows))
	}
	if s := m.Status(ctx); s.Notes != 1 || s.Mode != "hybrid" || s.Notice != "" || s.Embedder == "" || s.Dimensions != 32 {
		t.Fatalf("status: %+v", s)
	}
}

func TestReopenLoadsIndex(t *testing.T) {
	e := newEnv(t)
	srv, emb := newEmbedder(t, "bag-32")
	e.write(t, "MEMORY.md", memoryNote)
	e.write(t, "memory/2026-11-20.md", datedNote)
	m := openMem(t, e.options(emb))
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := m.Status(t.Context())
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Search(t.Context(), SearchRequest{Text: "tea"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("search after Close: %v", err)
	}

	m2 := openMem(t, e.options(emb))
	got := m2.Status(t.Context())
	if got.Notes != want.Notes || got.Chunks != want.Chunks || got.Mode != "hybrid" {
		t.Fatalf("reopened status %+v, want %+v", got, want)
	}
	hits, err := m2.Search(t.Context(), SearchRequest{Text: "booked flight to Lisbon seat", Mode: index.ModeVector, Limit: 1})
	if err != nil || len(hits) != 1 || hits[0].Path != "memory/2026-11-20.md" {
		t.Fatalf("vector search after reopen: %+v, %v", hits, err)
	}
	reqs, _ := srv.counts()
	if st, err := m2.Sync(t.Context()); err != nil || st.Unchanged != 2 || st.Embedded != 0 {
		t.Fatalf("sync after reopen: %+v, %v", st, err)
	}
	if r, _ := srv.counts(); r != reqs {
		t.Fatal("a sync after reopen re-embedded unchanged notes")
	}
}

func TestSearchModesAndValidation(t *testing.T) {
	e := newEnv(t)
	_, emb := newEmbedder(t, "bag-32")
	e.write(t, "MEMORY.md", memoryNote)
	e.write(t, "memory/2026-11-20.md", datedNote)
	m := openMem(t, e.options(emb))
	ctx := t.Context()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []index.Mode{index.ModeHybrid, index.ModeBM25, index.ModeVector} {
		hits, err := m.Search(ctx, SearchRequest{Text: "budget code 7731", Mode: mode})
		if err != nil || len(hits) == 0 || hits[0].Path != "memory/2026-11-20.md" || hits[0].Rank != 1 {
			t.Errorf("mode %d: %v, %v", mode, sources(hits), err)
		}
	}
	for _, req := range []SearchRequest{
		{},
		{Text: "   "},
		{Text: strings.Repeat("x", maxQueryBytes+1)},
		{Text: "x", Limit: -1},
		{Text: "x", MinScore: 2},
		{Text: "x", Mode: index.Mode(9)},
	} {
		if _, err := m.Search(ctx, req); err == nil {
			t.Errorf("Search(%.20q, %d, %v) succeeded", req.Text, req.Limit, req.MinScore)
		}
	}
	// A caller's vector of the wrong size falls back to keywords.
	hits, err := m.Search(ctx, SearchRequest{Text: "green tea", Vector: []float32{1, 0}})
	if err != nil || len(hits) == 0 || hits[0].Path != "MEMORY.md" {
		t.Fatalf("search with a wrong-size vector: %v, %v", sources(hits), err)
	}
}

func TestNoEmbedder(t *testing.T) {
	e := newEnv(t)
	e.write(t, "MEMORY.md", memoryNote)
	m := openMem(t, e.options(nil))
	ctx := t.Context()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st := m.Status(ctx)
	if st.Mode != "bm25" || st.Notice != "no embedder configured: memory search uses keywords only (BM25)" || st.Embedder != "" {
		t.Fatalf("status: %+v", st)
	}
	hits, err := m.Search(ctx, SearchRequest{Text: "Okafor"})
	if err != nil || len(hits) == 0 || !strings.Contains(hits[0].Text, "Okafor") {
		t.Fatalf("BM25 search: %v, %v", hits, err)
	}
	if _, err := m.Search(ctx, SearchRequest{Text: "Okafor", Mode: index.ModeVector}); err == nil {
		t.Fatal("a vector search without an embedder succeeded")
	}
}

func TestEmbedderFailureKeepsBM25(t *testing.T) {
	e := newEnv(t)
	srv, emb := newEmbedder(t, "bag-32")
	srv.setFail(true)
	e.write(t, "MEMORY.md", memoryNote)
	e.write(t, "memory/2026-11-20.md", datedNote)
	m := openMem(t, e.options(emb))
	ctx := t.Context()
	st, err := m.Sync(ctx)
	if err != nil {
		t.Fatalf("a failing embedder failed the sync: %v", err)
	}
	if st.EmbedError == "" || st.Updated != 2 {
		t.Fatalf("stats: %+v", st)
	}
	if reqs, _ := srv.counts(); reqs != 1 {
		t.Fatalf("%d embedding requests after the first failure; the sync should stop trying", reqs)
	}
	s := m.Status(ctx)
	if s.Mode != "bm25" || !strings.Contains(s.Notice, "embedder is failing") {
		t.Fatalf("status: %+v", s)
	}
	hits, err := m.Search(ctx, SearchRequest{Text: "Porto sister"})
	if err != nil || len(hits) == 0 || hits[0].Path != "MEMORY.md" {
		t.Fatalf("search while the embedder fails: %v, %v", sources(hits), err)
	}

	// The embedder is back: the next sync embeds what was missed.
	srv.setFail(false)
	st, err = m.Sync(ctx)
	if err != nil || st.Updated != 2 || st.Embedded == 0 || st.EmbedError != "" {
		t.Fatalf("sync after recovery: %+v, %v", st, err)
	}
	if s := m.Status(ctx); s.Mode != "hybrid" || s.Notice != "" {
		t.Fatalf("status after recovery: %+v", s)
	}
	if st, _ := m.Sync(ctx); st.Unchanged != 2 {
		t.Fatalf("sync after that: %+v", st)
	}
}

func TestEmbedderModelChange(t *testing.T) {
	e := newEnv(t)
	_, embA := newEmbedder(t, "model-a")
	e.write(t, "MEMORY.md", memoryNote)
	m := openMem(t, e.options(embA))
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = m.Close()

	srvB, embB := newEmbedder(t, "model-b")
	m2 := openMem(t, e.options(embB))
	if s := m2.Status(t.Context()); !strings.Contains(s.Notice, "not embedded yet") {
		t.Fatalf("vectors of another model were used: %+v", s)
	}
	st, err := m2.Sync(t.Context())
	if err != nil || st.Updated != 1 {
		t.Fatalf("sync with a new model: %+v, %v", st, err)
	}
	if _, inputs := srvB.counts(); inputs != st.Chunks {
		t.Fatalf("model b embedded %d texts for %d chunks", inputs, st.Chunks)
	}
	if s := m2.Status(t.Context()); s.Notice != "" {
		t.Fatalf("status: %+v", s)
	}
	// Reindex re-embeds everything even when nothing changed.
	st, err = m2.Reindex(t.Context())
	if err != nil || st.Updated != 1 || st.Embedded != st.Chunks {
		t.Fatalf("reindex: %+v, %v", st, err)
	}
}

func TestSkippedNotes(t *testing.T) {
	e := newEnv(t)
	e.write(t, "MEMORY.md", "binary\x00data")
	e.write(t, "memory/latin1.md", "caf\xe9 au lait with Zygmunt\n")
	e.write(t, "memory/.hidden.md", "hidden")
	if err := os.Symlink(filepath.Join(e.ws, "memory", "latin1.md"), filepath.Join(e.ws, "memory", "link.md")); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("word ", maxSealedNoteBytes/5+10)
	e.write(t, "memory/big.md", big)
	m := openMem(t, e.options(nil))
	st, err := m.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Notes != 3 || st.Skipped != 2 || st.Updated != 1 {
		t.Fatalf("stats: %+v", st)
	}
	hits, err := m.Search(t.Context(), SearchRequest{Text: "Zygmunt"})
	if err != nil || len(hits) != 1 || !strings.Contains(hits[0].Text, "caf\uFFFD") {
		t.Fatalf("the non-UTF-8 note: %+v, %v", hits, err)
	}
	if s := m.Status(t.Context()); s.Skipped != 2 {
		t.Fatalf("status: %+v", s)
	}
}

func TestOpenValidates(t *testing.T) {
	e := newEnv(t)
	for _, o := range []Options{
		{Workspace: e.ws, DB: e.db},
		{AgentID: "a", Workspace: "relative", DB: e.db},
		{AgentID: "a", Workspace: e.ws},
		{AgentID: strings.Repeat("a", 65), Workspace: e.ws, DB: e.db},
	} {
		if _, err := Open(t.Context(), o); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func TestNoteDate(t *testing.T) {
	for p, want := range map[string]string{
		"memory/2026-11-25.md":      "2026-11-25",
		"memory/2026-11-25-trip.md": "2026-11-25",
		"memory/ideas.md":           "",
		"MEMORY.md":                 "",
		"memory/2026-13-45.md":      "",
	} {
		d, ok := noteDate(p)
		got := ""
		if ok {
			got = d.Format(dateLayout)
		}
		if got != want {
			t.Errorf("noteDate(%q) = %q; want %q", p, got, want)
		}
	}
	valid := []string{"MEMORY.md", "memory/a.md", "memory/2026-11-25.md"}
	invalid := []string{"memory.md", "memory/.a.md", "memory/a/b.md", "memory/.md", "AGENTS.md", "../MEMORY.md", "memory/a.txt", "/MEMORY.md"}
	for _, p := range append(slices.Clone(valid), invalid...) {
		if got := validNotePath(p); got != slices.Contains(valid, p) {
			t.Errorf("validNotePath(%q) = %v", p, got)
		}
	}
}

// TestRecencyDecay: with a 30-day half-life (decay is opt-in), of two
// equally matching notes the recent dated one ranks above the old one, and MEMORY.md
// (evergreen) does not decay.
func TestRecencyDecay(t *testing.T) {
	e := newEnv(t)
	e.write(t, "memory/2026-11-24.md", "# 2026-11-24\nCalled the plumber about the boiler.\n")
	e.write(t, "memory/2025-11-24.md", "# 2025-11-24\nCalled the plumber about the boiler.\n")
	e.write(t, "MEMORY.md", "# Memory\nCalled the plumber about the boiler.\n")
	o := e.options(nil)
	o.Search.HalfLife = 30 * 24 * time.Hour
	m := openMem(t, o)
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	hits, err := m.Search(t.Context(), SearchRequest{Text: "plumber boiler"})
	if err != nil || len(hits) != 3 {
		t.Fatalf("search: %v, %v", sources(hits), err)
	}
	if hits[2].Path != "memory/2025-11-24.md" || hits[2].Score > 0.1 {
		t.Fatalf("the year-old note is not last and decayed: %+v", hits)
	}
	if hits[0].Path == "memory/2025-11-24.md" {
		t.Fatalf("order: %v", sources(hits))
	}
}

// TestPrefetchUsesCallerVector: Prefetch never embeds; the caller's vector
// (computed once per inbound message) drives the vector half.
func TestPrefetchUsesCallerVector(t *testing.T) {
	e := newEnv(t)
	srv, emb := newEmbedder(t, "bag-32")
	e.write(t, "memory/2026-11-20.md", datedNote)
	m := openMem(t, e.options(emb))
	ctx := t.Context()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	const msg = "when do I fly to Lisbon"
	vs, err := emb.Embed(ctx, []string{msg})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := srv.counts()
	p, err := m.Prefetch(ctx, msg, vs[0])
	if err != nil || len(p.Hits) == 0 || p.Hits[0].Cosine == 0 {
		t.Fatalf("prefetch: %+v, %v", p, err)
	}
	if after, _ := srv.counts(); after != before {
		t.Fatalf("Prefetch made %d embedding requests", after-before)
	}
}

// TestConcurrentSearchAndWrite runs searches while notes are appended and
// synced (run with -race).
func TestConcurrentSearchAndWrite(t *testing.T) {
	e := newEnv(t)
	e.write(t, "MEMORY.md", memoryNote)
	m := openMem(t, e.options(nil))
	ctx := t.Context()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := range 10 {
			if err := m.Append(ctx, Target{}, "Concurrent fact number "+strings.Repeat("x", i)); err != nil {
				done <- err
				return
			}
		}
		_, err := m.Sync(ctx)
		done <- err
	}()
	for range 50 {
		if _, err := m.Search(ctx, SearchRequest{Text: "concurrent fact tea"}); err != nil {
			t.Fatal(err)
		}
		_ = m.Status(ctx)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hits, err := m.Search(ctx, SearchRequest{Text: "concurrent fact"})
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v, %v", hits, err)
	}
}

// TestSealExistingRows is the vault-creation path: rows written before the
// vault are sealed in place with RewriteMemory, and open with the codec.
func TestSealExistingRows(t *testing.T) {
	e := newEnv(t)
	e.write(t, "MEMORY.md", memoryNote)
	m := openMem(t, e.options(nil))
	if _, err := m.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	chunks := m.Status(t.Context()).Chunks
	_ = m.Close()

	v := newVault(t)
	codec := v.InlineCodec()
	n, err := e.db.RewriteMemory(t.Context(), codec.EncodeValue)
	if err != nil || n != chunks+1 {
		t.Fatalf("RewriteMemory = %d, %v; want %d rows", n, err, chunks+1)
	}
	o := e.options(nil)
	o.Codec = codec
	m2 := openMem(t, o)
	if s := m2.Status(t.Context()); s.Damaged != 0 || s.Chunks != chunks {
		t.Fatalf("status after sealing: %+v", s)
	}
	// Without the codec, sealed rows fail Open: taken for damaged, they
	// would be deleted and the notes indexed again unsealed.
	if _, err := Open(t.Context(), e.options(nil)); !errors.Is(err, errSealedNoCodec) {
		t.Fatalf("Open of sealed rows without a codec: %v", err)
	}
}
