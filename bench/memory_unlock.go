package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/genos-project/genos/core/memory"
	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// The unlock rows: an agent whose memory holds 100k chunks, sealed at rest
// by a real vault in a real genos.db, goes from locked to searchable. The
// rows are written the way the agent writes them (notes sealed in the
// workspace, then Memory.Sync), and the clock runs over what the gateway
// does at unlock: open the vault with the passphrase, open genos.db,
// memory.Open (open every row, rebuild the in-memory index), first search.

// unlockTarget is the target for unlock-to-searchable at 100k.
const unlockTarget = 5 * time.Second

// chunksPerNote is how many "## " sections (one chunk each) a synthetic
// note holds: 100k chunks make 2,000 notes of a few dozen KiB.
const chunksPerNote = 50

// unlockResult is what the unlock step measured.
type unlockResult struct {
	chunks   int
	sync     memory.SyncStats
	dbBytes  int64
	unlock   time.Duration // vault.Open + Unlock (one PBKDF2)
	dbOpen   time.Duration // store.Open of the existing genos.db
	memOpen  time.Duration // memory.Open: open rows, rebuild the index
	first    time.Duration // the first search
	searches []time.Duration
}

func (r *unlockResult) total() time.Duration { return r.unlock + r.dbOpen + r.memOpen + r.first }

// measureUnlock writes texts as sealed notes, syncs them into a sealed
// genos.db with timing-only vectors, locks everything, then times unlock
// to the first answered search, and times searches through the Memory.
func measureUnlock(ctx context.Context, texts []string, load searchLoad) (_ *unlockResult, err error) {
	dir, err := os.MkdirTemp("", "genos-bench-unlock-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	pass := []byte("bench passphrase, not a secret")
	vdir, ws, dbPath := filepath.Join(dir, "vault"), filepath.Join(dir, "workspace"), filepath.Join(dir, "genos.db")
	res := &unlockResult{}

	v, err := vault.Create(vdir, pass, vault.Options{})
	if err != nil {
		return nil, err
	}
	if err := writeSealedNotes(ws, v, texts); err != nil {
		v.Lock()
		return nil, err
	}
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		v.Lock()
		return nil, err
	}
	opts := memory.Options{AgentID: benchAgent, Workspace: ws, DB: db, Sealer: v, Codec: v.InlineCodec(), Embedder: timingVectors{}, Now: func() time.Time { return evalNow }}
	m, err := memory.Open(ctx, opts)
	if err == nil {
		res.sync, err = m.Sync(ctx)
		err = errors.Join(err, m.Close())
	}
	err = errors.Join(err, db.Close())
	v.Lock()
	if err != nil {
		return nil, fmt.Errorf("write the sealed rows: %w", err)
	}
	if res.sync.EmbedError != "" || res.sync.Skipped > 0 {
		return nil, fmt.Errorf("write the sealed rows: %d notes skipped, embed error %q", res.sync.Skipped, res.sync.EmbedError)
	}
	res.chunks = res.sync.Chunks
	for _, p := range []string{dbPath, dbPath + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			res.dbBytes += st.Size()
		}
	}
	heapInUse() // start the clock on a collected heap, as after a fresh start

	// The clock: locked vault and closed database to the first answer.
	t0 := time.Now()
	v2, err := vault.Open(vdir, vault.Options{})
	if err != nil {
		return nil, err
	}
	defer v2.Lock()
	if err := v2.Unlock(pass); err != nil {
		return nil, err
	}
	t1 := time.Now()
	db2, err := store.Open(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer db2.Close()
	t2 := time.Now()
	opts.DB, opts.Sealer, opts.Codec = db2, v2, v2.InlineCodec()
	m2, err := memory.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer m2.Close()
	t3 := time.Now()
	req := func(i int) memory.SearchRequest {
		return memory.SearchRequest{Text: load.texts[i%len(load.texts)], Vector: load.vecs[i%len(load.vecs)], Mode: index.ModeHybrid}
	}
	hits, err := m2.Search(ctx, req(0))
	t4 := time.Now()
	if err != nil {
		return nil, fmt.Errorf("first search: %w", err)
	}
	if len(hits) == 0 {
		return nil, errors.New("first search after unlock found nothing")
	}
	res.unlock, res.dbOpen, res.memOpen, res.first = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3)

	res.searches, err = timeEach(ctx, scaleSearchMax, scaleSearchBudget, func(i int) error {
		_, err := m2.Search(ctx, req(i+1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

// writeSealedNotes writes texts as dated notes of chunksPerNote sections
// each, sealed with v as memory_write would leave them.
func writeSealedNotes(ws string, v *vault.Vault, texts []string) error {
	if err := os.MkdirAll(filepath.Join(ws, memory.NotesDir), 0o700); err != nil {
		return err
	}
	var b strings.Builder
	for n := 0; n*chunksPerNote < len(texts); n++ {
		day := chunkDate(n).Format("2006-01-02")
		b.Reset()
		fmt.Fprintf(&b, "# %s\n", day)
		for i := n * chunksPerNote; i < min(len(texts), (n+1)*chunksPerNote); i++ {
			fmt.Fprintf(&b, "\n## Entry %d\n\n%s\n", i-n*chunksPerNote+1, texts[i])
		}
		sealed, err := v.SealFile([]byte(b.String()))
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%s-%04d.md", day, n)
		if err := os.WriteFile(filepath.Join(ws, memory.NotesDir, name), sealed, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// unlockRows turns the unlock measurement into table rows.
func unlockRows(r *unlockResult, cores int) []row {
	s := summarize(r.searches)
	setup := fmt.Sprintf("%d synthetic chunks (as the scale rows) written as %d sealed notes and synced with Memory.Sync into a temp genos.db, rows sealed by a real core/vault (InlineCodec), vectors from random 384-dim unit vectors (timing only)",
		r.chunks, (r.chunks+chunksPerNote-1)/chunksPerNote)
	return []row{
		{
			Name: fmt.Sprintf("memory unlock → first search answered, %s chunks", fmtCount(r.chunks)),
			Value: fmt.Sprintf("%s (vault unlock %s, genos.db open %s, memory.Open %s, first hybrid search %s; %d cores)",
				fmtDur(r.total()), fmtDur(r.unlock), fmtShortDur(r.dbOpen), fmtDur(r.memOpen), fmtShortDur(r.first), cores),
			Target:  "< " + fmtDur(unlockTarget) + " on 2 cores",
			Verdict: judge(r.total() < unlockTarget),
			Command: "in process: " + setup + "; then, timed: vault.Open + Unlock, store.Open, memory.Open (open every sealed row, rebuild the in-memory FTS5 + vector index), Memory.Search hybrid",
		},
		{
			Name:    fmt.Sprintf("memory search p50 / p99 through core/memory, hybrid, %s sealed chunks", fmtCount(r.chunks)),
			Value:   fmt.Sprintf("%s / %s (max %s, n=%d)", fmtShortDur(s.P50), fmtShortDur(s.P99), fmtShortDur(s.Max), s.N),
			Target:  "p99 < " + fmtDur(searchTarget),
			Verdict: judge(s.P99 < searchTarget),
			Command: fmt.Sprintf("same Memory after unlock: Memory.Search back to back (at most %d or %s), mode hybrid, search defaults (limit 5, no recency decay, MMR λ 0.7), labelled query texts with random vectors", scaleSearchMax, scaleSearchBudget),
		},
		{
			Name: fmt.Sprintf("memory sync of %s chunks into sealed rows (first index)", fmtCount(r.chunks)),
			Value: fmt.Sprintf("%.0f chunks/s (%s; %d notes; genos.db %s)", float64(r.sync.Chunks)/r.sync.Duration.Seconds(),
				fmtDur(r.sync.Duration), r.sync.Notes, fmtMiB(r.dbBytes)),
			Command: "in process: " + setup + "; Memory.Sync timed: open each sealed note, chunk, embed (instant here), seal text and vector, one transaction per note, index",
		},
	}
}
