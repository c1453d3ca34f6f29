// Package memory is an agent's long-term memory: its notes (MEMORY.md and
// memory/*.md in the agent workspace, sealed at rest once a vault exists),
// the chunks cut from them, and hybrid search over those chunks.
//
// Chunks live in genos.db with everything but random ids sealed (text, line
// range, vector). The searchable index (BM25 plus vectors, core/memory/index)
// exists only in memory: Open rebuilds it from the sealed rows after unlock
// (or loads a sealed snapshot of its FTS5 part, reconciled with the rows;
// see Options.SnapshotPath), Sync keeps it current as notes change, Close
// drops it at lock. Nothing plaintext about a note reaches the disk once a
// vault exists.
//
// Without an embedder everything works on keywords alone (BM25), with a
// one-line notice in Status; a failing embedder degrades the same way and
// never fails a sync.
package memory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// Sealer seals note files at rest; *vault.Vault implements it (the same
// contract as core/tools.Sealer). Nil means plaintext files, before a vault
// exists.
type Sealer interface {
	SealFile(plaintext []byte) ([]byte, error)
	OpenFile(data []byte) ([]byte, error)
}

// ValueCodec seals the database rows; vault.InlineCodec implements it. Nil
// stores rows as they are, before a vault exists.
type ValueCodec interface {
	EncodeValue(plain []byte) ([]byte, error)
	DecodeValue(stored []byte) ([]byte, error)
}

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("memory is closed")

// Search defaults (see SearchOptions).
const (
	DefaultMMRLambda     = 0.7
	DefaultLimit         = 5
	DefaultPrefetchLimit = 5
	// DefaultPrefetchMinScore gates prefetch on the fused score (0..1,
	// see index.Hit.Score). Fusion scores are relative (rank-based), so
	// this mostly drops the tail; the absolute gate on vector matches is
	// DefaultPrefetchMinCosine.
	DefaultPrefetchMinScore = 0.35
	// DefaultPrefetchMinCosine drops prefetch candidates found only by
	// vector similarity below this cosine: a vector search always returns
	// nearest neighbours, however unrelated, and prefetch must not spend
	// tokens on them. Embedding models differ in their cosine ranges, so
	// it is configurable.
	DefaultPrefetchMinCosine = 0.3
	defaultEmbedBatch        = 64
	maxLimit                 = 50
	maxQueryBytes            = 8 << 10
)

// SearchOptions are the search defaults of a Memory.
type SearchOptions struct {
	// HalfLife is the recency decay of dated notes; MEMORY.md and undated
	// notes are evergreen. 0 (the default) or negative disables decay:
	// fused scores are rank-based and close together, so decay would
	// reorder results by age more than by relevance.
	HalfLife time.Duration
	// MMRLambda trades relevance (1) for diversity (0); 0 means 0.7,
	// negative disables MMR.
	MMRLambda float64
	// MinCosine drops matches found only by vector below this cosine
	// similarity (0 = no gate).
	MinCosine float64
	// MinScore is the default score gate of Search (0 = none).
	MinScore float64
	// Limit is the default number of search results; 0 means 5.
	Limit int
	// PrefetchLimit is how many chunks Prefetch may inject; 0 means 5.
	PrefetchLimit int
	// PrefetchMinScore is the score a chunk needs to be prefetched; 0
	// means DefaultPrefetchMinScore.
	PrefetchMinScore float64
	// PrefetchMinCosine is the cosine a chunk found only by vector needs
	// to be prefetched; 0 means DefaultPrefetchMinCosine, negative none.
	PrefetchMinCosine float64
}

// Options configure Open.
type Options struct {
	// AgentID owns the rows; required.
	AgentID string
	// Workspace is the agent workspace, an absolute path; required.
	Workspace string
	// DB is genos.db; required.
	DB *store.DB
	// Sealer seals note files; nil before a vault exists.
	Sealer Sealer
	// Codec seals database rows; nil before a vault exists.
	Codec ValueCodec
	// Embedder vectorises chunks and queries; nil means BM25 only. The
	// caller wraps it with the sealed embedding cache, so re-embedding an
	// unchanged text costs nothing.
	Embedder embed.Embedder
	// EmbedBatch is how many texts go in one Embed call; 0 means 64.
	EmbedBatch int
	// Logger receives warnings (never note text); nil discards.
	Logger *slog.Logger
	// Now is the clock (today's note, recency); nil is time.Now.
	Now func() time.Time
	// Chunk sizes the chunks.
	Chunk ChunkOptions
	// Search holds the search defaults.
	Search SearchOptions
	// SnapshotPath is the file that keeps a sealed snapshot of the search
	// index between unlocks (the daemon uses <stateDir>/memory/<agent>.idx),
	// an absolute path; "" keeps none and every Open rebuilds the index
	// from the rows. See SaveSnapshot.
	SnapshotPath string
	// SnapshotDelay is how long the index must stay unchanged before the
	// snapshot is rewritten in the background; 0 means
	// DefaultSnapshotDelay.
	SnapshotDelay time.Duration
}

func (o *Options) validate() error {
	var errs []error
	if o.AgentID == "" || len(o.AgentID) > 64 {
		errs = append(errs, errors.New("agent id must be 1 to 64 bytes"))
	}
	if o.Workspace == "" || !filepath.IsAbs(o.Workspace) {
		errs = append(errs, fmt.Errorf("workspace %q is not an absolute path", o.Workspace))
	}
	if o.DB == nil {
		errs = append(errs, errors.New("database is required"))
	}
	if o.SnapshotPath != "" && !filepath.IsAbs(o.SnapshotPath) {
		errs = append(errs, fmt.Errorf("snapshot path %q is not an absolute path", o.SnapshotPath))
	}
	if o.SnapshotDelay < 0 {
		errs = append(errs, errors.New("snapshot delay is negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("open memory: %w", errors.Join(errs...))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SnapshotDelay == 0 {
		o.SnapshotDelay = DefaultSnapshotDelay
	}
	if o.EmbedBatch <= 0 {
		o.EmbedBatch = defaultEmbedBatch
	}
	o.Chunk = o.Chunk.normalised()
	s := &o.Search
	if s.HalfLife < 0 {
		s.HalfLife = 0
	}
	if s.MMRLambda == 0 {
		s.MMRLambda = DefaultMMRLambda
	} else if s.MMRLambda < 0 || s.MMRLambda > 1 {
		s.MMRLambda = 1 // pure relevance: MMR off
	}
	if s.Limit <= 0 {
		s.Limit = DefaultLimit
	}
	s.Limit = min(s.Limit, maxLimit)
	if s.PrefetchLimit <= 0 {
		s.PrefetchLimit = DefaultPrefetchLimit
	}
	s.PrefetchLimit = min(s.PrefetchLimit, maxLimit)
	if s.PrefetchMinScore == 0 {
		s.PrefetchMinScore = DefaultPrefetchMinScore
	}
	if s.PrefetchMinCosine == 0 {
		s.PrefetchMinCosine = DefaultPrefetchMinCosine
	} else if s.PrefetchMinCosine < 0 {
		s.PrefetchMinCosine = 0
	}
	if s.MinScore < 0 || s.MinScore > 1 || s.PrefetchMinScore < 0 || s.PrefetchMinScore > 1 ||
		s.MinCosine < -1 || s.MinCosine > 1 || s.PrefetchMinCosine > 1 {
		return errors.New("open memory: scores must be within 0..1 and cosines within -1..1")
	}
	return nil
}

// chunkerKey identifies the chunk options in note rows, so a change of
// options re-chunks every note at the next sync.
func (o *Options) chunkerKey() string {
	return fmt.Sprintf("v1/%d/%d", o.Chunk.TargetTokens, o.Chunk.OverlapTokens)
}

// noteState is what the Memory knows of one stored note.
type noteState struct {
	id       string
	payload  notePayload
	chunkIDs []int64
	// missing counts chunks without a vector of the current embedder.
	missing int
	// dirty forces a re-chunk: a chunk row of the note was damaged.
	dirty bool
}

// chunkMeta locates an indexed chunk in its note.
type chunkMeta struct {
	path       string
	start, end int
}

// Memory is one agent's memory. It is safe for concurrent use.
type Memory struct {
	o Options

	// syncMu serialises Sync, Reindex and Append, which read notes and
	// replace rows; searches do not take it.
	syncMu sync.Mutex

	mu     sync.RWMutex
	closed bool
	ix     *index.Index
	notes  map[string]*noteState // by note path
	chunks map[int64]chunkMeta
	// Rows that could not be opened: deleted (they are derived data) at
	// the next sync.
	badNotes  []string
	badChunks []int64
	st        statusState
	snap      snapState
	// snapMu serialises snapshot writes.
	snapMu sync.Mutex
}

// statusState is the mutable part of Status.
type statusState struct {
	damaged   int    // rows skipped as damaged since Open
	skipped   int    // notes skipped at the last sync
	embedErr  string // the last embedder failure, "" once it works again
	lastSync  time.Time
	lastError string
}

// Open loads the sealed rows of o.AgentID into a fresh in-memory index and
// returns the Memory, ready to search what was indexed before; call Sync to
// pick up notes changed since. Rows that cannot be opened are skipped with
// a warning and counted in Status (and deleted at the next Sync, since they
// can be rebuilt from the notes); an error wrapping vault.ErrLocked fails
// Open.
func Open(ctx context.Context, o Options) (*Memory, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	m := &Memory{o: o, notes: map[string]*noteState{}, chunks: map[int64]chunkMeta{}}
	start := time.Now()
	if err := m.load(ctx); err != nil {
		if m.ix != nil {
			_ = m.ix.Close()
		}
		return nil, fmt.Errorf("open memory: %w", err)
	}
	m.snap.openTook = time.Since(start)
	m.startSnapshots()
	return m, nil
}

// Close drops the index and everything decrypted; it is called when the
// vault locks. A snapshot write in progress is cancelled and waited for
// (the vault's keys go away after Close); none is started. Later calls
// return ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	m.stopSnapshots()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notes, m.chunks = nil, nil
	err := m.ix.Close()
	m.ix = nil
	return err
}

func (m *Memory) embedderModel() string {
	if m.o.Embedder == nil {
		return ""
	}
	return m.o.Embedder.Model()
}

func (m *Memory) seal(p []byte) ([]byte, error) {
	if m.o.Codec == nil {
		return p, nil
	}
	return m.o.Codec.EncodeValue(p)
}

// errSealedNoCodec stops a Memory without a codec from treating sealed
// rows as damaged: it would delete them at the next sync and write the
// notes back unsealed.
var errSealedNoCodec = errors.New("memory rows are sealed but no vault codec was given")

func (m *Memory) open(p []byte) ([]byte, error) {
	if m.o.Codec == nil {
		if vault.IsSealed(p) {
			return nil, errSealedNoCodec
		}
		return p, nil
	}
	return m.o.Codec.DecodeValue(p)
}

// source renders a chunk location the way results cite it.
func source(p string, start, end int) string {
	return fmt.Sprintf("%s#L%d-L%d", p, start, end)
}

// chunkContext is the heading path a chunk is indexed under: its
// headings, less its own section heading when the chunk opens with that
// heading line anyway.
func chunkContext(c Chunk) string {
	hs := c.Headings
	if len(hs) > 0 && strings.HasPrefix(c.Text, "#") {
		hs = hs[:len(hs)-1]
	}
	ctx := strings.Join(hs, " > ")
	if len(ctx) > maxContextBytes {
		ctx = ctx[:runeOffset(ctx, maxContextBytes/4)] + "…"
	}
	return ctx
}

// maxContextBytes bounds the heading path stored with a chunk (six levels
// of headings could otherwise add up to several chunks' worth).
const maxContextBytes = 512

// docText is what a chunk is indexed and embedded as: the date of a dated
// note spelled out, its heading path, then its text, so a chunk cut from
// the middle of a section still says what it is about, and "14 March 2025"
// finds the note named 2025-03-14 (when is unix nanoseconds, 0 if undated).
func docText(context, text string, when int64) string {
	var b strings.Builder
	if when != 0 {
		b.WriteString(time.Unix(0, when).UTC().Format("Monday 2 January 2006"))
		b.WriteByte('\n')
	}
	if context != "" {
		b.WriteString(context)
		b.WriteByte('\n')
	}
	b.WriteString(text)
	return b.String()
}
