package memory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// SyncStats report what one Sync (or Reindex) did.
type SyncStats struct {
	// Notes is the number of notes found in the workspace.
	Notes int
	// Unchanged notes were skipped: same content, nothing to add.
	Unchanged int
	// Updated notes were (re-)chunked and their rows replaced.
	Updated int
	// Removed notes are gone from the workspace; their rows were deleted.
	Removed int
	// Skipped notes could not be read (too large, binary, sealed without
	// a vault, damaged); their previous rows, if any, are kept.
	Skipped int
	// Chunks is the number of chunks written.
	Chunks int
	// Embedded is the number of texts sent to the embedder.
	Embedded int
	// EmbedError is the embedder failure, if any; the chunks concerned were
	// indexed for keyword search only and are embedded at a later sync.
	EmbedError string
	// Duration is how long the sync took.
	Duration time.Duration
}

// Sync brings the index up to date with the notes in the workspace: a note
// whose content is unchanged costs a read and a hash; a changed or new note
// is re-chunked, its new chunks embedded (in batches; vectors of chunks
// whose text did not change are reused) and its rows replaced in one
// transaction; the rows of deleted notes are removed. An embedder failure
// does not fail the sync (see SyncStats.EmbedError); vault.ErrLocked does.
func (m *Memory) Sync(ctx context.Context) (SyncStats, error) {
	return m.sync(ctx, false, nil)
}

// Reindex is Sync that re-chunks and re-embeds every note, e.g. after the
// embedder changed (with the embedding cache in front, texts it has seen
// cost nothing).
func (m *Memory) Reindex(ctx context.Context) (SyncStats, error) {
	return m.sync(ctx, true, nil)
}

// syncState is the bookkeeping of one sync run.
type syncState struct {
	force   bool
	embedOK bool // false once the embedder failed in this run
	stats   SyncStats
}

func (m *Memory) sync(ctx context.Context, force bool, only []string) (SyncStats, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	start := time.Now()
	s := &syncState{force: force, embedOK: m.o.Embedder != nil}
	err := m.syncLocked(ctx, s, only)
	s.stats.Duration = time.Since(start)
	m.mu.Lock()
	if err == nil {
		m.st.lastSync = m.o.Now()
		m.st.lastError = ""
		if only == nil {
			m.st.skipped = s.stats.Skipped
		}
	} else if !errors.Is(err, ErrClosed) {
		m.st.lastError = err.Error()
	}
	m.mu.Unlock()
	if err != nil {
		return s.stats, fmt.Errorf("sync memory: %w", err)
	}
	return s.stats, nil
}

func (m *Memory) syncLocked(ctx context.Context, s *syncState, only []string) error {
	snap, err := m.snapshot()
	if err != nil {
		return err
	}
	if err := m.dropDamaged(ctx); err != nil {
		return err
	}
	root, err := openWorkspace(m.o.Workspace)
	if err != nil {
		return err
	}
	defer root.Close()
	paths := only
	if paths == nil {
		if paths, err = listNotes(root); err != nil {
			return err
		}
		if len(paths) == maxNotes {
			m.o.Logger.Warn("memory: too many notes; only the first ones are indexed", "agent", m.o.AgentID, "limit", maxNotes)
		}
	}
	present := make(map[string]bool, len(paths))
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		plain, skip, err := readNote(root, m.o.Sealer, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed below
		case err != nil:
			return err
		case skip != "":
			present[p] = true
			s.stats.Notes++
			s.stats.Skipped++
			m.o.Logger.Warn("memory: skipping a note", "agent", m.o.AgentID, "note", p, "reason", skip)
			continue
		}
		present[p] = true
		s.stats.Notes++
		if err := m.syncNote(ctx, s, p, plain, snap[p]); err != nil {
			return err
		}
	}
	candidates := paths
	if only == nil {
		candidates = make([]string, 0, len(snap))
		for p := range snap {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if ns := snap[p]; ns != nil && !present[p] {
			if err := m.removeNote(ctx, p, ns); err != nil {
				return err
			}
			s.stats.Removed++
		}
	}
	return nil
}

// snapshot copies the note map, so a sync works on a consistent view
// without holding the lock that searches need.
func (m *Memory) snapshot() (map[string]*noteState, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	out := make(map[string]*noteState, len(m.notes))
	for p, ns := range m.notes {
		out[p] = ns
	}
	return out, nil
}

// dropDamaged deletes the rows Open could not read. They are derived from
// the notes, which the sync that follows indexes again.
func (m *Memory) dropDamaged(ctx context.Context) error {
	m.mu.Lock()
	notes, chunks := m.badNotes, m.badChunks
	m.badNotes, m.badChunks = nil, nil
	m.mu.Unlock()
	if _, err := m.o.DB.DeleteMemoryNotes(ctx, m.o.AgentID, notes...); err != nil {
		return err
	}
	_, err := m.o.DB.DeleteMemoryChunks(ctx, m.o.AgentID, chunks...)
	return err
}

// syncNote re-indexes one readable note unless it is up to date.
func (m *Memory) syncNote(ctx context.Context, s *syncState, p string, plain []byte, ns *noteState) error {
	hash := sha256.Sum256(plain)
	key := m.o.chunkerKey()
	if ns != nil && !s.force && !ns.dirty && ns.payload.Hash == hash && ns.payload.Chunker == key &&
		(ns.missing == 0 || !s.embedOK) {
		s.stats.Unchanged++
		return nil
	}
	var when int64
	if d, ok := noteDate(p); ok {
		when = d.UnixNano()
	}
	chunks := ChunkText(string(plain), m.o.Chunk)
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = docText(chunkContext(c), c.Text, when)
	}
	vecs, err := m.vectorsFor(ctx, s, ns, texts)
	if err != nil {
		return err
	}
	id := newID()
	if ns != nil {
		id = ns.id
	}
	model := m.embedderModel()
	rows := make([]store.MemoryChunk, len(chunks))
	docs := make([]index.Doc, len(chunks))
	next := &noteState{id: id, payload: notePayload{Path: p, Hash: hash, Size: int64(len(plain)), Chunker: key}}
	metas := make([]chunkMeta, len(chunks))
	for i, c := range chunks {
		cp := chunkPayload{NoteID: id, Seq: i, Text: c.Text, Context: chunkContext(c),
			StartLine: c.StartLine, EndLine: c.EndLine, Time: when}
		if v := vecs[i]; v != nil {
			cp.Model, cp.Vector = model, v
		} else {
			next.missing++
		}
		sealed, err := m.seal(cp.encode())
		if err != nil {
			return fmt.Errorf("seal chunk of %s: %w", p, err)
		}
		rows[i] = store.MemoryChunk{Seq: i, Sealed: sealed}
		docs[i] = index.Doc{Source: source(p, c.StartLine, c.EndLine), Text: texts[i], Vector: vecs[i]}
		if when != 0 {
			docs[i].Time = time.Unix(0, when).UTC()
		}
		metas[i] = chunkMeta{path: p, start: c.StartLine, end: c.EndLine}
	}
	sealedNote, err := m.seal(next.payload.encode())
	if err != nil {
		return fmt.Errorf("seal note row of %s: %w", p, err)
	}
	ids, err := m.o.DB.PutMemoryNote(ctx, store.MemoryNote{ID: id, AgentID: m.o.AgentID, UpdatedAt: m.o.Now(), Sealed: sealedNote}, rows)
	if err != nil {
		return err
	}
	for i := range docs {
		docs[i].ID = ids[i]
	}
	next.chunkIDs = ids
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if ns != nil {
		if err := m.ix.Remove(ctx, ns.chunkIDs...); err != nil {
			return fmt.Errorf("update index: %w", err)
		}
		for _, cid := range ns.chunkIDs {
			delete(m.chunks, cid)
		}
	}
	if err := m.ix.Add(ctx, docs...); err != nil {
		return fmt.Errorf("update index: %w", err)
	}
	for i, cid := range ids {
		m.chunks[cid] = metas[i]
	}
	m.notes[p] = next
	m.changed()
	s.stats.Updated++
	s.stats.Chunks += len(chunks)
	return nil
}

// vectorsFor returns a vector (or nil) per text: reused from the note's
// previous rows when the text and the embedder are the same (not on
// Reindex), embedded otherwise while the embedder works.
func (m *Memory) vectorsFor(ctx context.Context, s *syncState, ns *noteState, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	if m.o.Embedder == nil {
		return out, nil
	}
	model := m.embedderModel()
	reuse := map[string][]float32{}
	if ns != nil && !s.force {
		rows, err := m.o.DB.MemoryChunksOf(ctx, ns.id)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			pt, err := m.open(r.Sealed)
			if errors.Is(err, vault.ErrLocked) || errors.Is(err, errSealedNoCodec) {
				return nil, fmt.Errorf("open chunk row: %w", err)
			}
			if err != nil {
				continue
			}
			if cp, err := decodeChunk(pt); err == nil && cp.Model == model && cp.Vector != nil {
				reuse[docText(cp.Context, cp.Text, cp.Time)] = cp.Vector
			}
		}
	}
	var todo []string
	seen := map[string]bool{}
	for i, t := range texts {
		if v, ok := reuse[t]; ok {
			out[i] = v
		} else if !seen[t] {
			seen[t] = true
			todo = append(todo, t)
		}
	}
	if len(todo) == 0 || !s.embedOK {
		return out, nil
	}
	got, err := m.embed(ctx, todo)
	s.stats.Embedded += len(todo)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.embedFailed(s, err)
		return out, nil
	}
	m.embedWorks()
	byText := make(map[string][]float32, len(todo))
	for i, t := range todo {
		byText[t] = got[i]
	}
	for i, t := range texts {
		if out[i] == nil {
			out[i] = byText[t]
		}
	}
	return out, nil
}

// embedFailed records an embedder failure: the rest of this sync indexes
// for keyword search only.
func (m *Memory) embedFailed(s *syncState, err error) {
	s.embedOK = false
	s.stats.EmbedError = err.Error()
	m.o.Logger.Warn("memory: embedder failed; indexing for keyword search only", "agent", m.o.AgentID, "err", err)
	m.mu.Lock()
	m.st.embedErr = err.Error()
	m.mu.Unlock()
}

// embed embeds texts in batches and checks what comes back: one vector per
// text, all of one dimension.
func (m *Memory) embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	dims := m.o.Embedder.Dimensions()
	for start := 0; start < len(texts); start += m.o.EmbedBatch {
		batch := texts[start:min(start+m.o.EmbedBatch, len(texts))]
		vs, err := m.o.Embedder.Embed(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(vs) != len(batch) {
			return nil, fmt.Errorf("embedder returned %d vectors for %d texts", len(vs), len(batch))
		}
		for _, v := range vs {
			if dims == 0 {
				dims = len(v)
			}
			if len(v) == 0 || len(v) != dims || len(v) > maxVectorDims {
				return nil, fmt.Errorf("embedder returned a vector of %d dimensions, want %d", len(v), dims)
			}
		}
		out = append(out, vs...)
	}
	return out, nil
}

// removeNote deletes the rows of a note that is gone and drops its chunks
// from the index.
func (m *Memory) removeNote(ctx context.Context, p string, ns *noteState) error {
	if _, err := m.o.DB.DeleteMemoryNotes(ctx, m.o.AgentID, ns.id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := m.ix.Remove(ctx, ns.chunkIDs...); err != nil {
		return fmt.Errorf("update index: %w", err)
	}
	for _, cid := range ns.chunkIDs {
		delete(m.chunks, cid)
	}
	delete(m.notes, p)
	m.changed()
	return nil
}

// newID returns a random row id that carries no content.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
