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
	// The snapshot file is read and opened while the rows are.
	var snapc chan snapResult
	if m.o.SnapshotPath != "" {
		snapc = make(chan snapResult, 1)
		go func() { snapc <- m.readSnapshot() }()
	}
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

	consumeErr := m.consume(gctx, out, byID, snapc, shards)
	if consumeErr != nil {
		g.Go(func() error { return consumeErr })
	}
	for range out { // drain so the workers can finish after an error
	}
	return g.Wait()
}

// loadSink receives the decoded chunks. While a usable snapshot may come
// it collects them (index.Restore needs them all); without one it streams
// them into the index in batches, so tokenising overlaps with opening rows.
type loadSink struct {
	m      *Memory
	shards int  // the shard count the load uses (0 = automatic)
	stream bool // no snapshot: add in batches
	snap   *index.Snapshot
	all    []index.Doc
	batch  []index.Doc
}

func (k *loadSink) add(ctx context.Context, d index.Doc) error {
	if !k.stream {
		k.all = append(k.all, d)
		return nil
	}
	k.batch = append(k.batch, d)
	if len(k.batch) == loadBatch {
		return k.flush(ctx)
	}
	return nil
}

func (k *loadSink) flush(ctx context.Context) error {
	err := k.m.ix.Add(ctx, k.batch...)
	k.batch = k.batch[:0]
	if err != nil {
		return fmt.Errorf("index chunks: %w", err)
	}
	return nil
}

// snapshot takes the snapshot file's outcome: a snapshot to restore from,
// or none, and then the chunks collected so far go to the index.
func (k *loadSink) snapshot(ctx context.Context, r snapResult) error {
	if r.err != nil {
		return r.err
	}
	m := k.m
	want := max(k.shards, 1)
	if r.snap != nil && r.snap.Shards() != want {
		// The memory grew past index.AutoShardMin since the snapshot.
		r.note = fmt.Sprintf("snapshot has %d shards, the index %d", r.snap.Shards(), want)
		r.snap = nil
	}
	if r.snap != nil {
		k.snap = r.snap
		return nil
	}
	m.snap.note = r.note
	k.stream = true
	for len(k.all) > 0 {
		n := min(len(k.all), loadBatch)
		k.batch = append(k.batch, k.all[:n]...)
		k.all = k.all[n:]
		if err := k.flush(ctx); err != nil {
			return err
		}
	}
	k.all = nil
	return nil
}

// finish completes the index: the last batch, or the restore from the
// snapshot reconciled with every chunk.
func (k *loadSink) finish(ctx context.Context) error {
	m := k.m
	if k.stream {
		m.snap.from, m.snap.gen = "rows", 1
		return k.flush(ctx)
	}
	ix, st, err := index.Restore(ctx, index.Options{Logger: m.o.Logger, Shards: k.shards}, k.snap, k.all)
	if err != nil {
		return err
	}
	_ = m.ix.Close() // the empty index made for streaming
	m.ix = ix
	k.all = nil
	if !st.Used {
		m.snap.from, m.snap.note, m.snap.gen = "rows", st.Reason, 1
		return nil
	}
	m.snap.from = "snapshot"
	m.snap.note = fmt.Sprintf("%d chunks kept, %d indexed, %d dropped", st.Kept, st.Inserted, st.Deleted)
	if st.Inserted+st.Deleted > 0 {
		m.snap.gen = 1
	}
	return nil
}

// consume adds the decoded rows to the index, from the snapshot when
// snapc delivers a usable one (nil snapc: no snapshot).
func (m *Memory) consume(ctx context.Context, out <-chan decoded, byID map[string]*noteState, snapc <-chan snapResult, shards int) error {
	model := m.embedderModel()
	dims := 0
	if m.o.Embedder != nil {
		dims = m.o.Embedder.Dimensions()
	}
	sink := &loadSink{m: m, shards: shards, stream: snapc == nil, batch: make([]index.Doc, 0, loadBatch)}
	if snapc == nil {
		m.snap.note = "no snapshot path"
	}
	for out != nil {
		var d decoded
		select {
		case r := <-snapc:
			snapc = nil
			if err := sink.snapshot(ctx, r); err != nil {
				return err
			}
			continue
		case dd, ok := <-out:
			if !ok {
				out = nil
				continue
			}
			d = dd
		}
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
		ns.chunkIDs = append(ns.chunkIDs, d.row.ID)
		m.chunks[d.row.ID] = chunkMeta{path: ns.payload.Path, start: d.p.StartLine, end: d.p.EndLine}
		if err := sink.add(ctx, doc); err != nil {
			return err
		}
	}
	if snapc != nil {
		select {
		case r := <-snapc:
			if err := sink.snapshot(ctx, r); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return sink.finish(ctx)
}
