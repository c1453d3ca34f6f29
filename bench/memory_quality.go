package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/memory"
	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
)

// evalNow is the clock of the quality runs: the day after the last note
// of the set, so recency decay gives the same scores on every run.
var evalNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// decayHalfLife is the recency half-life of the decay rows.
const decayHalfLife = 30 * 24 * time.Hour

// evalLimit is how many chunks a quality search asks for: enough distinct
// notes for MRR at depth 10 even when a note has several chunks.
const evalLimit = 20

// benchAgent owns every memory row the bench writes.
const benchAgent = "bench"

// qualityEnv is the labelled set indexed through core/memory, in a
// temporary workspace and genos.db.
type qualityEnv struct {
	dir   string
	db    *store.DB
	set   *retrievalSet
	emb   *benchEmbedder
	mem   *memory.Memory // core/memory's search defaults, as the gateway runs it
	decay *memory.Memory // same rows, with a 30-day recency half-life
	sync  memory.SyncStats
	vecs  map[string][]float32 // query vectors by id, when emb is set
}

// newQualityEnv copies the notes into a fresh workspace and syncs them
// into a fresh genos.db through core/memory, with the real embedder when
// there is one (nil: BM25 only).
func newQualityEnv(ctx context.Context, set *retrievalSet, emb *benchEmbedder) (_ *qualityEnv, err error) {
	dir, err := os.MkdirTemp("", "genos-bench-memory-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	q := &qualityEnv{dir: dir, set: set, emb: emb}
	defer func() {
		if err != nil {
			q.close()
		}
	}()
	ws := filepath.Join(dir, "workspace")
	if err := copyNotes(set.notesDir, ws); err != nil {
		return nil, err
	}
	if q.db, err = store.Open(ctx, filepath.Join(dir, "genos.db")); err != nil {
		return nil, err
	}
	var e embed.Embedder
	if emb != nil {
		e = emb.e
	}
	opts := memory.Options{AgentID: benchAgent, Workspace: ws, DB: q.db, Embedder: e, Now: func() time.Time { return evalNow }}
	if q.mem, err = memory.Open(ctx, opts); err != nil {
		return nil, err
	}
	if q.sync, err = q.mem.Sync(ctx); err != nil {
		return nil, err
	}
	if q.sync.EmbedError != "" {
		return nil, fmt.Errorf("the embedder failed while indexing the notes: %s", q.sync.EmbedError)
	}
	if q.sync.Skipped > 0 {
		return nil, fmt.Errorf("%d notes of the set were skipped by the indexer", q.sync.Skipped)
	}
	opts.Search = memory.SearchOptions{HalfLife: decayHalfLife}
	if q.decay, err = memory.Open(ctx, opts); err != nil {
		return nil, err
	}
	if emb != nil {
		texts := make([]string, len(set.queries))
		for i, qq := range set.queries {
			texts[i] = qq.Query
		}
		vs, err := emb.e.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embed the queries: %w", err)
		}
		if len(vs) != len(texts) {
			return nil, fmt.Errorf("embed the queries: %d vectors for %d texts", len(vs), len(texts))
		}
		q.vecs = make(map[string][]float32, len(vs))
		for i, qq := range set.queries {
			q.vecs[qq.ID] = vs[i]
		}
	}
	return q, nil
}

func (q *qualityEnv) close() {
	for _, m := range []*memory.Memory{q.mem, q.decay} {
		if m != nil {
			_ = m.Close()
		}
	}
	if q.db != nil {
		_ = q.db.Close()
	}
	_ = os.RemoveAll(q.dir)
}

// evaluate runs every labelled query against m in mode and scores the
// ranked notes.
func (q *qualityEnv) evaluate(ctx context.Context, m *memory.Memory, mode index.Mode) (evalResult, error) {
	results := make(map[string][]string, len(q.set.queries))
	for _, qq := range q.set.queries {
		req := memory.SearchRequest{Text: qq.Query, Mode: mode, Limit: evalLimit}
		if mode != index.ModeBM25 {
			req.Vector = q.vecs[qq.ID]
		}
		hits, err := m.Search(ctx, req)
		if err != nil {
			return evalResult{}, fmt.Errorf("%s: %w", qq.ID, err)
		}
		units := make([]string, len(hits))
		for i, h := range hits {
			units[i] = q.set.unitOf(h.Path, h.StartLine, h.EndLine)
		}
		results[qq.ID] = units
	}
	return scoreRuns(q.set.queries, results), nil
}

// prefetchTokens sums the TOON and JSON token estimates of the prefetch
// blocks of every labelled query (Memory.Prefetch with its default gate);
// blocks counts the queries that got a block at all.
func (q *qualityEnv) prefetchTokens(ctx context.Context, withVectors bool) (toonTok, jsonTok, blocks, rows int, err error) {
	for _, qq := range q.set.queries {
		var vec []float32
		if withVectors {
			vec = q.vecs[qq.ID]
		}
		p, err := q.mem.Prefetch(ctx, qq.Query, vec)
		if err != nil {
			return 0, 0, 0, 0, fmt.Errorf("prefetch %s: %w", qq.ID, err)
		}
		if p.Block == "" {
			continue
		}
		blocks++
		rows += len(p.Hits)
		toonTok += p.Tokens
		jsonTok += p.JSONTokens
	}
	return toonTok, jsonTok, blocks, rows, nil
}

// copyNotes copies MEMORY.md and memory/*.md from src into a new workspace
// dst, as an agent's notes are laid out.
func copyNotes(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !strings.HasSuffix(p, ".md") || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
}

// qualityRows measures the labelled set and returns its rows and notes.
func qualityRows(ctx context.Context, set *retrievalSet, emb *benchEmbedder) ([]row, []string, error) {
	q, err := newQualityEnv(ctx, set, emb)
	if err != nil {
		return nil, nil, err
	}
	defer q.close()
	base := fmt.Sprintf("%s: %d daily notes + MEMORY.md (%d sections), %d labelled queries; synced with core/memory into a temp workspace and genos.db (%d chunks), clock fixed at %s; memory.Search limit %d, a note counts once at its best chunk, MRR to depth %d",
		retrievalDir, set.notes, len(set.sections), len(set.queries), q.sync.Chunks, evalNow.Format("2006-01-02"), evalLimit, mrrDepth)
	type variant struct {
		name string
		m    *memory.Memory
		mode index.Mode
		desc string
	}
	// Recency decay is off by default (core/memory and the gateway's
	// config); the decay rows show what memory.halfLifeDays = 30 costs.
	off := "search defaults: recency decay off, MMR λ 0.7"
	decay := "30-day recency half-life on dated notes (memory.halfLifeDays = 30), MMR λ 0.7"
	vs := []variant{
		{"BM25 only", q.mem, index.ModeBM25, off},
		{"BM25 only", q.decay, index.ModeBM25, decay},
	}
	if emb != nil {
		vs = append(vs,
			variant{"vectors only", q.mem, index.ModeVector, off},
			variant{"hybrid (RRF k=60)", q.mem, index.ModeHybrid, off},
			variant{"vectors only", q.decay, index.ModeVector, decay},
			variant{"hybrid (RRF k=60)", q.decay, index.ModeHybrid, decay},
		)
	}
	var rows []row
	var notes []string
	for _, v := range vs {
		r, err := q.evaluate(ctx, v.m, v.mode)
		if err != nil {
			return rows, notes, fmt.Errorf("%s: %w", v.name, err)
		}
		cmd := base + "; " + v.desc
		if v.mode != index.ModeBM25 {
			cmd += "; embedder " + emb.desc
		}
		rows = append(rows, row{Name: fmt.Sprintf("memory retrieval quality, %s (%s)", v.name, v.desc), Value: qualityValue(r), Command: cmd})
		if len(r.Missed) > 0 && len(r.Missed) <= 40 {
			notes = append(notes, fmt.Sprintf("Retrieval, %s (%s): not in the top %d for %s.", v.name, v.desc, recallAt, strings.Join(r.Missed, ", ")))
		}
	}
	if emb == nil {
		rows = append(rows, row{Name: "memory retrieval quality, vectors only and hybrid", Value: noEmbedderNote, Command: base})
	}

	// TOON against JSON for the same prefetch rows.
	for _, withVec := range []bool{false, true} {
		if withVec && emb == nil {
			break
		}
		t, j, blocks, n, err := q.prefetchTokens(ctx, withVec)
		if err != nil {
			return rows, notes, err
		}
		mode := "BM25 (no vector)"
		if withVec {
			mode = "hybrid, embedder " + emb.desc
		}
		val := "no query passed the prefetch gate"
		if blocks > 0 {
			val = fmt.Sprintf("TOON %d vs JSON %d tokens (%s), %d blocks of %.1f rows on average, %d of %d queries got a block",
				t, j, pctChange(t, j), blocks, float64(n)/float64(blocks), blocks, len(set.queries))
		}
		rows = append(rows, row{
			Name:  "memory prefetch block tokens, TOON vs JSON",
			Value: val,
			Command: fmt.Sprintf("%s: Memory.Prefetch of each labelled query, %s, default gate (score ≥ %.2f, top %d); tokens.Estimate of the TOON table memories[N]{rank,score,source,snippet} vs the same rows as compact JSON",
				retrievalDir, mode, memory.DefaultPrefetchMinScore, memory.DefaultPrefetchLimit),
		})
	}
	return rows, notes, nil
}

// pctChange renders a relative to b as a signed percentage ("−31%").
func pctChange(a, b int) string {
	if b == 0 {
		return "n/a"
	}
	p := 100 * float64(a-b) / float64(b)
	if p < 0 {
		return fmt.Sprintf("−%.0f%%", -p)
	}
	return fmt.Sprintf("+%.0f%%", p)
}
