package memory

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// Bulk load tuning: documents go to the index in batches of loadBatch
// (each batch is one FTS5 transaction per shard), over at most
// maxLoadShards shards.
const (
	loadBatch     = 8192
	maxLoadShards = 4
)

// decoded is one chunk row after opening, or the reason it could not be.
type decoded struct {
	row store.MemoryChunk
	p   chunkPayload
	err error
}

// load fills the index from the agent's rows. Chunk rows are opened in
// parallel (GOMAXPROCS workers): at unlock an agent with a hundred thousand
// chunks must become searchable within seconds, and each row costs an
// AES-GCM open plus a decode.
func (m *Memory) load(ctx context.Context) error {
	count, err := m.o.DB.CountMemoryChunks(ctx, m.o.AgentID)
	if err != nil {
		return err
	}
	// A large memory is split over several FTS5 shards from the start, so
	// documents can be added in batches while later rows are still being
	// opened (the index shards automatically only on one bulk Add).
	shards := 0
	if count >= index.AutoShardMin {
		shards = min(runtime.GOMAXPROCS(0), maxLoadShards)
	}
	if m.ix, err = index.New(index.Options{Logger: m.o.Logger, Shards: shards}); err != nil {
		return err
	}
	rows, err := m.o.DB.MemoryNotes(ctx, m.o.AgentID)
	if err != nil {
		return err
	}
	byID := make(map[string]*noteState, len(rows))
	for _, r := range rows {
		pt, err := m.open(r.Sealed)
		if errors.Is(err, vault.ErrLocked) || errors.Is(err, errSealedNoCodec) {
			return fmt.Errorf("open note row: %w", err)
		}
		var p notePayload
		if err == nil {
			p, err = decodeNote(pt)
		}
		if err == nil && m.notes[p.Path] != nil {
			err = errors.New("a second row for the same note")
		}
		if err != nil {
			m.o.Logger.Warn("memory: skipping a damaged note row", "agent", m.o.AgentID, "row", r.ID, "err", err)
			m.badNotes = append(m.badNotes, r.ID)
			m.st.damaged++
			continue
		}
		ns := &noteState{id: r.ID, payload: p}
		m.notes[p.Path] = ns
		byID[r.ID] = ns
	}

	g, gctx := errgroup.WithContext(ctx)
	in := make(chan store.MemoryChunk, 256)
	out := make(chan decoded, 256)
	g.Go(func() error {
		defer close(in)
		return m.o.DB.EachMemoryChunk(gctx, m.o.AgentID, func(c store.MemoryChunk) error {
			select {
			case in <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	var workers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for c := range in {
				d := decoded{row: c}
				pt, err := m.open(c.Sealed)
				if errors.Is(err, vault.ErrLocked) || errors.Is(err, errSealedNoCodec) {
					g.Go(func() error { return fmt.Errorf("open chunk row: %w", err) })
					return
				}
				if err == nil {
					d.p, err = decodeChunk(pt)
				}
				d.err = err
				select {
				case out <- d:
				case <-gctx.Done():
					return
				}
			}
		})
	}
	go func() {
		workers.Wait()
		close(out)
	}()

	consumeErr := m.consume(gctx, out, byID)
	if consumeErr != nil {
		g.Go(func() error { return consumeErr })
	}
	for range out { // drain so the workers can finish after an error
	}
	return g.Wait()
}

// consume adds the decoded rows to the index.
func (m *Memory) consume(ctx context.Context, out <-chan decoded, byID map[string]*noteState) error {
	model := m.embedderModel()
	dims := 0
	if m.o.Embedder != nil {
		dims = m.o.Embedder.Dimensions()
	}
	batch := make([]index.Doc, 0, loadBatch)
	flush := func() error {
		err := m.ix.Add(ctx, batch...)
		batch = batch[:0]
		return err
	}
	for d := range out {
		ns := byID[d.row.NoteID]
		err := d.err
		if err == nil && (ns == nil || d.p.NoteID != d.row.NoteID) {
			err = errors.New("chunk of a missing or different note")
		}
		if err != nil {
			m.o.Logger.Warn("memory: skipping a damaged chunk row", "agent", m.o.AgentID, "row", d.row.ID, "err", err)
			m.badChunks = append(m.badChunks, d.row.ID)
			m.st.damaged++
			if ns != nil {
				ns.dirty = true
			}
			continue
		}
		vec := d.p.Vector
		if vec != nil && (d.p.Model != model || (dims > 0 && len(vec) != dims)) {
			vec = nil // another embedder's vector: as good as none
		}
		if vec != nil && dims == 0 {
			dims = len(vec)
		}
		if vec == nil {
			ns.missing++
		}
		doc := index.Doc{
			ID:     d.row.ID,
			Source: source(ns.payload.Path, d.p.StartLine, d.p.EndLine),
			Text:   docText(d.p.Context, d.p.Text, d.p.Time),
			Vector: vec,
		}
		if d.p.Time != 0 {
			doc.Time = time.Unix(0, d.p.Time).UTC()
		}
		batch = append(batch, doc)
		ns.chunkIDs = append(ns.chunkIDs, d.row.ID)
		m.chunks[d.row.ID] = chunkMeta{path: ns.payload.Path, start: d.p.StartLine, end: d.p.EndLine}
		if len(batch) == loadBatch {
			if err := flush(); err != nil {
				return fmt.Errorf("index chunks: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("index chunks: %w", err)
	}
	return nil
}
