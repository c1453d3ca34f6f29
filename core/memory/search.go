package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/rank"
	"github.com/genos-project/genos/core/tokens"
	"github.com/genos-project/genos/core/toon"
)

// snippetRunes bounds a snippet in prefetch blocks and tool results.
const snippetRunes = 300

// SearchRequest is one memory search.
type SearchRequest struct {
	// Text is the query. It is embedded (once) when Vector is nil and an
	// embedder is set, unless Mode is BM25.
	Text string
	// Vector is the query's embedding when the caller already has it (the
	// inbound message is embedded once and the vector shared).
	Vector []float32
	// Mode selects hybrid (the zero value), BM25 only or vectors only.
	Mode index.Mode
	// Limit caps the results; 0 means the Memory's default (5), at most 50.
	Limit int
	// MinScore drops results scoring below it (scores run 0..1).
	MinScore float64
}

// Hit is one search result.
type Hit struct {
	// Rank is 1-based.
	Rank  int
	Score float64
	// Path is the note (MEMORY.md or memory/...); StartLine and EndLine
	// the chunk's 1-based inclusive line range in it.
	Path               string
	StartLine, EndLine int
	// Source cites the chunk: "memory/2026-11-25.md#L3-L9".
	Source string
	// Text is the chunk as indexed: heading path, then text.
	Text string
	// BM25 and Cosine are the raw scores of each retriever (0 when the
	// chunk was not found by it).
	BM25   float64
	Cosine float32
}

// Snippet returns Text on one line, trimmed to about 300 characters.
func (h Hit) Snippet() string { return snippet(h.Text, snippetRunes) }

// Search runs req against the index. Without a vector (no embedder, or
// the embedder failed), a hybrid search falls back to BM25; a vector-only
// search then fails.
func (m *Memory) Search(ctx context.Context, req SearchRequest) ([]Hit, error) {
	return m.search(ctx, req, m.o.Search.MinCosine)
}

func (m *Memory) search(ctx context.Context, req SearchRequest, minCosine float64) ([]Hit, error) {
	text := strings.TrimSpace(req.Text)
	switch {
	case len(text) > maxQueryBytes:
		return nil, fmt.Errorf("search memory: the query is %d bytes, more than %d", len(text), maxQueryBytes)
	case text == "" && req.Vector == nil:
		return nil, errors.New("search memory: empty query")
	case req.Limit < 0 || req.MinScore < 0 || req.MinScore > 1:
		return nil, errors.New("search memory: limit must be positive and min score within 0..1")
	case req.Mode != index.ModeHybrid && req.Mode != index.ModeBM25 && req.Mode != index.ModeVector:
		return nil, fmt.Errorf("search memory: unknown mode %d", req.Mode)
	}
	vec := req.Vector
	if vec == nil && req.Mode != index.ModeBM25 && m.o.Embedder != nil && text != "" {
		vs, err := m.o.Embedder.Embed(ctx, []string{text})
		switch {
		case err == nil && len(vs) == 1:
			vec = vs[0]
			m.embedWorks()
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			if err == nil {
				err = fmt.Errorf("embedder returned %d vectors for one text", len(vs))
			}
			m.o.Logger.Warn("memory: could not embed the query; searching keywords only", "agent", m.o.AgentID, "err", err)
			m.mu.Lock()
			m.st.embedErr = err.Error()
			m.mu.Unlock()
		}
	}
	mode := req.Mode
	if vec == nil {
		if mode == index.ModeVector {
			return nil, errors.New("search memory: a vector search needs an embedder")
		}
		mode = index.ModeBM25
	}
	limit := req.Limit
	if limit == 0 {
		limit = m.o.Search.Limit
	}
	minScore := req.MinScore
	if minScore == 0 {
		minScore = m.o.Search.MinScore
	}
	q := index.Query{
		Text: text, Vector: vec, Mode: mode, Limit: min(limit, maxLimit), MinScore: minScore,
		MinCosine: minCosine, HalfLife: m.o.Search.HalfLife, MMRLambda: m.o.Search.MMRLambda,
		Now: m.o.Now(),
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if vec != nil && m.ix.Dim() != 0 && len(vec) != m.ix.Dim() {
		if mode == index.ModeVector {
			return nil, fmt.Errorf("search memory: the query vector has %d dimensions, the index %d", len(vec), m.ix.Dim())
		}
		q.Vector, q.Mode = nil, index.ModeBM25
	}
	found, err := m.ix.Search(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("search memory: %w", err)
	}
	hits := make([]Hit, 0, len(found))
	for _, f := range found {
		meta, ok := m.chunks[f.ID]
		if !ok {
			continue
		}
		hits = append(hits, Hit{
			Rank: len(hits) + 1, Score: f.Score, Path: meta.path, StartLine: meta.start, EndLine: meta.end,
			Source: f.Source, Text: f.Text, BM25: f.BM25, Cosine: f.Cosine,
		})
	}
	return hits, nil
}

// Prefetch is the memory block injected before a model call.
type Prefetch struct {
	// Block is the TOON table "memories[N]{rank,score,source,snippet}:",
	// or "" when nothing passed the score gate.
	Block string
	// Hits are the rows of Block.
	Hits []Hit
	// Tokens is tokens.Estimate(Block); JSONTokens the estimate of the same
	// rows as compact JSON, for the TOON-versus-JSON accounting.
	Tokens, JSONTokens int
}

// Prefetch finds the chunks most relevant to an inbound message. vec is
// the message's embedding, computed once by the caller and shared with the
// tool filter; nil searches keywords only (Prefetch never embeds). Only
// chunks scoring at least the prefetch gate are kept.
func (m *Memory) Prefetch(ctx context.Context, text string, vec []float32) (Prefetch, error) {
	text = strings.TrimSpace(text)
	if len(text) > maxQueryBytes {
		text = text[:maxQueryBytes]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	if text == "" && vec == nil {
		return Prefetch{}, nil
	}
	mode := index.ModeHybrid
	if vec == nil {
		// Keywords alone: match on content words only. Fused scores are
		// rank-based, so the score gate cannot tell a note that shares
		// only "the" with the message from a real match; a message of
		// nothing but function words ("is it?") prefetches nothing.
		mode = index.ModeBM25
		if text = rank.ContentWords(text); text == "" {
			return Prefetch{}, nil
		}
	}
	hits, err := m.search(ctx, SearchRequest{Text: text, Vector: vec, Mode: mode,
		Limit: m.o.Search.PrefetchLimit, MinScore: m.o.Search.PrefetchMinScore},
		max(m.o.Search.MinCosine, m.o.Search.PrefetchMinCosine))
	if err != nil || len(hits) == 0 {
		return Prefetch{}, err
	}
	block, err := renderTable("memories", hits)
	if err != nil {
		return Prefetch{}, err
	}
	js, err := json.Marshal(map[string]any{"memories": jsonRows(hits)})
	if err != nil {
		return Prefetch{}, fmt.Errorf("prefetch: %w", err)
	}
	return Prefetch{Block: block, Hits: hits, Tokens: tokens.Estimate(block), JSONTokens: tokens.Estimate(string(js))}, nil
}

// renderTable renders hits as the TOON table name[N]{rank,score,source,snippet}.
func renderTable(name string, hits []Hit) (string, error) {
	rows := make([]any, len(hits))
	for i, h := range hits {
		rows[i] = toon.Object{
			{Key: "rank", Value: h.Rank},
			{Key: "score", Value: json.Number(roundScore(h.Score))},
			{Key: "source", Value: h.Source},
			{Key: "snippet", Value: h.Snippet()},
		}
	}
	out, err := toon.Marshal(toon.Object{{Key: name, Value: rows}}, toon.EncodeOptions{})
	if err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return string(out), nil
}

type jsonRow struct {
	Rank    int         `json:"rank"`
	Score   json.Number `json:"score"`
	Source  string      `json:"source"`
	Snippet string      `json:"snippet"`
}

func jsonRows(hits []Hit) []jsonRow {
	out := make([]jsonRow, len(hits))
	for i, h := range hits {
		out[i] = jsonRow{h.Rank, json.Number(roundScore(h.Score)), h.Source, h.Snippet()}
	}
	return out
}

// roundScore renders a score with at most two decimals.
func roundScore(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		s = 0
	}
	r := math.Round(s*100) / 100
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// snippet collapses whitespace and trims s to about n runes at a word
// boundary, marking the cut with "…".
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := runeOffset(s, n)
	if i := strings.LastIndexByte(s[:cut], ' '); i > cut*2/3 {
		cut = i
	}
	return s[:cut] + "…"
}

// Status describes the memory for `genos memory status` and the UI.
type Status struct {
	// Notes and Chunks are what the index holds.
	Notes, Chunks int
	// Embedder is the embedder's model, "" without one; Dimensions its
	// vector length (0 until known).
	Embedder   string
	Dimensions int
	// Mode is "hybrid" when vectors serve search, "bm25" otherwise.
	Mode string
	// Notice explains a degraded mode in one line; "" when all is well.
	Notice string
	// Damaged counts rows skipped as unreadable since Open; Skipped the
	// notes the last full sync could not read.
	Damaged, Skipped int
	LastSync         time.Time
	LastError        string
	// IndexFrom says how Open built the index: "snapshot" (loaded from the
	// sealed index snapshot, then reconciled with the rows) or "rows"
	// (rebuilt from the rows); IndexNote says why there was no snapshot to
	// use, or what reconciling it changed; OpenDuration is how long Open
	// took.
	IndexFrom, IndexNote string
	OpenDuration         time.Duration
	// SnapshotSaved is when this Memory last wrote the index snapshot
	// (zero if it has not); SnapshotError is the last write failure.
	SnapshotSaved time.Time
	SnapshotError string
}

// Status reports the memory's state. It works after Close too (zero
// counts).
func (m *Memory) Status(ctx context.Context) Status {
	m.mu.RLock()
	defer m.mu.RUnlock()
	st := Status{
		Notes: len(m.notes), Chunks: len(m.chunks), Embedder: m.embedderModel(), Mode: "bm25",
		Damaged: m.st.damaged, Skipped: m.st.skipped, LastSync: m.st.lastSync, LastError: m.st.lastError,
		IndexFrom: m.snap.from, IndexNote: m.snap.note, OpenDuration: m.snap.openTook,
		SnapshotSaved: m.snap.written, SnapshotError: m.snap.writeErr,
	}
	if m.o.Embedder != nil {
		st.Dimensions = m.o.Embedder.Dimensions()
	}
	missing := 0
	for _, ns := range m.notes {
		missing += ns.missing
	}
	switch {
	case m.o.Embedder == nil:
		st.Notice = "no embedder configured: memory search uses keywords only (BM25)"
	case m.st.embedErr != "":
		st.Notice = "the embedder is failing (" + oneLine(m.st.embedErr) + "): memory search uses keywords only until it answers again"
	case missing > 0:
		st.Mode = "hybrid"
		st.Notice = fmt.Sprintf("%d chunks are not embedded yet: they are found by keywords only until the next sync", missing)
	default:
		st.Mode = "hybrid"
	}
	if m.closed {
		st.Notice = "memory is closed (vault locked)"
	}
	return st
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:runeOffset(s, 200)] + "…"
	}
	return s
}

// embedWorks clears a recorded embedder failure. The read lock is tried
// first so that searches, which call it every time, rarely take the write
// lock.
func (m *Memory) embedWorks() {
	m.mu.RLock()
	failing := m.st.embedErr != ""
	m.mu.RUnlock()
	if failing {
		m.mu.Lock()
		m.st.embedErr = ""
		m.mu.Unlock()
	}
}
