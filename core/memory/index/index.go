// Package index is the in-memory hybrid search index over memory chunks that
// core/memory builds when the vault unlocks and drops when it locks. Text is
// indexed by SQLite FTS5 (bm25) in private in-memory databases and vectors
// are searched by brute-force dot product in Go; the two ranked lists are
// fused by reciprocal rank, then recency decay, gates and MMR diversity
// apply. Nothing is ever written to disk: the databases are in-memory with a
// single connection each and temp_store=MEMORY, so plaintext note text never
// reaches a file even while sealed at rest elsewhere.
//
// Snapshot copies the FTS5 databases with a manifest of what they hold, and
// Restore rebuilds an index from such a copy, reconciled with the caller's
// documents, in a fraction of the time tokenising them again takes. The
// copy holds the notes' vocabulary: the caller seals it before it stores it.
//
// Large corpora are split by document ID over several FTS5 shards (one
// database each) so a bulk Add and each search use every core; see
// Options.Shards for the trade-off.
package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("index closed")

// Doc is one searchable chunk.
type Doc struct {
	// ID is the caller's chunk id, unique; Add with an existing ID replaces it.
	ID int64
	// Source names where the chunk came from, e.g. "MEMORY.md" or
	// "memory/2026-11-25.md".
	Source string
	// Text is the chunk's plain text.
	Text string
	// Vector is the chunk's embedding, nil when there is no embedder. All
	// docs with vectors share one dimension. It is copied and normalised to
	// unit length on Add.
	Vector []float32
	// Time drives recency decay; zero means evergreen (never decays).
	Time time.Time
}

// Options configures New.
type Options struct {
	// Logger receives debug-level build and search statistics (never text
	// or queries). Nil discards.
	Logger *slog.Logger
	// Shards is the number of FTS5 databases the text is split over by
	// document ID. Each shard inserts and searches on its own core, but
	// computes BM25 statistics (document count, term frequencies, average
	// length) over its own documents only; with IDs spread uniformly those
	// match the global ones closely on large corpora. 0 means automatic: one
	// shard, switching to min(GOMAXPROCS, 4) shards when a single Add into an
	// empty index brings at least AutoShardMin documents (the bulk load at
	// unlock), so small corpora keep exact statistics.
	Shards int
}

// AutoShardMin is the bulk-load size from which automatic sharding splits
// the FTS5 index (see Options.Shards).
const AutoShardMin = 20000

// maxAutoShards caps automatic sharding: past 4 shards the per-shard fixed
// costs outweigh the gain on the machines Genos targets.
const maxAutoShards = 4

// Index is an in-memory hybrid (BM25 + vector) index. It is safe for
// concurrent use: searches run in parallel with each other, Add and Remove
// run exclusively.
type Index struct {
	log        *slog.Logger
	autoShards bool

	mu     sync.RWMutex
	closed bool
	docs   map[int64]*entry
	shards []*shard
	vecs   vectors

	// dfMu guards dfCache, which concurrent searches fill (see docFreqs);
	// Add and Remove clear it under mu.
	dfMu    sync.Mutex
	dfCache map[string]int
}

// entry is what the index keeps per document besides the FTS5 postings.
type entry struct {
	source string
	text   string
	time   time.Time
	vecPos int    // position in vecs, -1 without a vector
	fp     uint64 // fingerprint of text (see fingerprint), for snapshots
}

// New returns an empty index. It fails when the SQLite build lacks FTS5.
func New(opts Options) (*Index, error) {
	if opts.Shards < 0 {
		return nil, fmt.Errorf("new index: shards %d is negative", opts.Shards)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := opts.Shards
	if n == 0 {
		n = 1
	}
	shards, err := openShards(n)
	if err != nil {
		return nil, fmt.Errorf("new index: %w", err)
	}
	return &Index{
		log:        log,
		autoShards: opts.Shards == 0,
		docs:       map[int64]*entry{},
		shards:     shards,
		dfCache:    map[string]int{},
	}, nil
}

// Len returns the number of documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.docs)
}

// Dim returns the dimension of the stored vectors, 0 while none is stored.
func (ix *Index) Dim() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.vecs.dim
}

// Add inserts docs, replacing any document with the same ID (within one call
// the last doc with an ID wins). It validates everything first and changes
// nothing on error; each shard applies its part in one transaction.
func (ix *Index) Add(ctx context.Context, docs ...Doc) error {
	if len(docs) == 0 {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	docs, vecs, dim, err := ix.prepare(docs)
	if err != nil {
		return fmt.Errorf("add to index: %w", err)
	}
	if err := ix.reshard(len(docs)); err != nil {
		return fmt.Errorf("add to index: %w", err)
	}
	start := time.Now()
	parts := make([][]Doc, len(ix.shards))
	replaced := make([][]int64, len(ix.shards))
	busy := make([]bool, len(ix.shards))
	for _, d := range docs {
		s := shardOf(d.ID, len(ix.shards))
		parts[s] = append(parts[s], d)
		busy[s] = true
		if _, ok := ix.docs[d.ID]; ok {
			replaced[s] = append(replaced[s], d.ID)
		}
	}
	if err := ix.applyShards(ctx, busy, func(ctx context.Context, i int, tx *shardTx) error {
		if err := tx.delete(ctx, replaced[i]); err != nil {
			return err
		}
		return tx.insert(ctx, parts[i])
	}); err != nil {
		return fmt.Errorf("add to index: %w", err)
	}
	ix.store(docs, vecs, dim, fingerprints(docs))
	ix.clearDF()
	ix.log.Debug("index add", "docs", len(docs), "total", len(ix.docs), "shards", len(ix.shards), "took", time.Since(start))
	return nil
}

// store records docs (already in the FTS5 shards) on the Go side: text,
// source, time, fingerprint and vector (vecs[i] is docs[i]'s normalised
// vector or nil, fps[i] its fingerprint).
func (ix *Index) store(docs []Doc, vecs [][]float32, dim int, fps []uint64) {
	newVecs := 0
	for i, d := range docs {
		if e := ix.docs[d.ID]; vecs[i] != nil && (e == nil || e.vecPos < 0) {
			newVecs++
		}
	}
	ix.vecs.grow(newVecs, dim)
	for i, d := range docs {
		e := ix.docs[d.ID]
		if e == nil {
			e = &entry{vecPos: -1}
			ix.docs[d.ID] = e
		}
		e.source, e.text, e.time, e.fp = d.Source, d.Text, d.Time, fps[i]
		switch {
		case vecs[i] != nil && e.vecPos >= 0:
			ix.vecs.set(e.vecPos, vecs[i])
		case vecs[i] != nil:
			e.vecPos = ix.vecs.add(d.ID, vecs[i])
		case e.vecPos >= 0:
			ix.removeVec(e)
		}
	}
}

// prepare validates docs, drops all but the last doc per ID and returns the
// normalised copies of their vectors (nil entries for docs without one) and
// the vector dimension in use.
func (ix *Index) prepare(in []Doc) ([]Doc, [][]float32, int, error) {
	last := make(map[int64]int, len(in))
	for i, d := range in {
		last[d.ID] = i
	}
	docs := in
	if len(last) != len(in) {
		docs = make([]Doc, 0, len(last))
		for i, d := range in {
			if last[d.ID] == i {
				docs = append(docs, d)
			}
		}
	}
	dim := ix.vecs.dim
	vecs := make([][]float32, len(docs))
	var slab []float32
	for i, d := range docs {
		if d.Vector == nil {
			continue
		}
		if dim == 0 {
			dim = len(d.Vector)
		}
		if len(d.Vector) != dim {
			return nil, nil, 0, fmt.Errorf("doc %d: vector has %d dimensions, index uses %d", d.ID, len(d.Vector), dim)
		}
		if slab == nil {
			slab = make([]float32, 0, dim*(len(docs)-i))
		}
		v, err := normalized(slab[len(slab):len(slab)+dim:len(slab)+dim], d.Vector)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("doc %d: %w", d.ID, err)
		}
		slab = slab[:len(slab)+dim]
		vecs[i] = v
	}
	return docs, vecs, dim, nil
}

// normalized copies v into dst (len(v) long) scaled to unit length. It
// rejects empty, zero and non-finite vectors.
func normalized(dst, v []float32) ([]float32, error) {
	if len(v) == 0 {
		return nil, errors.New("vector is empty")
	}
	var ss float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("vector has a non-finite component")
		}
		ss += f * f
	}
	if ss == 0 {
		return nil, errors.New("vector is zero")
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
	return dst, nil
}

// Remove deletes the documents with the given IDs; unknown IDs are ignored.
func (ix *Index) Remove(ctx context.Context, ids ...int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return ErrClosed
	}
	parts := make([][]int64, len(ix.shards))
	busy := make([]bool, len(ix.shards))
	n := 0
	for _, id := range ids {
		if _, ok := ix.docs[id]; ok {
			s := shardOf(id, len(ix.shards))
			parts[s] = append(parts[s], id)
			busy[s] = true
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := ix.applyShards(ctx, busy, func(ctx context.Context, i int, tx *shardTx) error {
		return tx.delete(ctx, parts[i])
	}); err != nil {
		return fmt.Errorf("remove from index: %w", err)
	}
	ix.clearDF()
	for _, id := range ids {
		if e, ok := ix.docs[id]; ok {
			if e.vecPos >= 0 {
				ix.removeVec(e)
			}
			delete(ix.docs, id)
		}
	}
	return nil
}

// clearDF drops the cached document frequencies after a change.
func (ix *Index) clearDF() {
	ix.dfMu.Lock()
	clear(ix.dfCache)
	ix.dfMu.Unlock()
}

// removeVec drops e's vector, moving the last vector into its slot.
func (ix *Index) removeVec(e *entry) {
	if moved, ok := ix.vecs.remove(e.vecPos); ok {
		ix.docs[moved].vecPos = e.vecPos
	}
	e.vecPos = -1
}

// applyShards runs fn in one transaction per busy shard, all shards in
// parallel. Either every transaction commits or all roll back (a commit of an
// in-memory database does not fail short of running out of memory).
func (ix *Index) applyShards(ctx context.Context, busy []bool, fn func(context.Context, int, *shardTx) error) error {
	txs := make([]*shardTx, len(ix.shards))
	defer func() {
		for _, tx := range txs {
			if tx != nil {
				tx.rollback()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range ix.shards {
		if !busy[i] {
			continue
		}
		g.Go(func() error {
			// The transaction lives past g.Wait, which cancels gctx.
			tx, err := s.begin(ctx)
			if err != nil {
				return err
			}
			txs[i] = tx
			return fn(gctx, i, tx)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, tx := range txs {
		if tx == nil {
			continue
		}
		if err := tx.commit(); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		txs[i] = nil
	}
	return nil
}

// reshard switches an empty index to the automatic shard layout for a bulk
// load of n documents.
func (ix *Index) reshard(n int) error {
	if !ix.autoShards || len(ix.docs) != 0 {
		return nil
	}
	want := 1
	if n >= AutoShardMin {
		want = min(runtime.GOMAXPROCS(0), maxAutoShards)
	}
	if want == len(ix.shards) {
		return nil
	}
	shards, err := openShards(want)
	if err != nil {
		return err
	}
	closeShards(ix.shards)
	ix.shards = shards
	return nil
}

// Close drops everything: it closes the in-memory databases and releases the
// texts and vectors (vector memory is zeroed first). Further calls return
// ErrClosed; Close itself is idempotent.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	err := closeShards(ix.shards)
	ix.shards = nil
	ix.docs = nil
	ix.vecs.clear()
	if err != nil {
		return fmt.Errorf("close index: %w", err)
	}
	return nil
}
