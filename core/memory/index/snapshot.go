package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Snapshot is a copy of an index's FTS5 shards (the serialised SQLite
// databases) and the manifest of what they hold: every document ID with a
// fingerprint of its indexed text. Restoring one costs a memory copy per
// shard instead of tokenising every text again, which is most of an
// unlock. It holds the notes' vocabulary and positions, so whoever stores
// it must seal it (core/memory does). Texts and vectors are not in it: the
// caller has them from its own rows.
type Snapshot struct {
	shards [][]byte
	ids    []int64  // ascending
	sums   []uint64 // fingerprint per id
}

// Len returns the number of documents the snapshot holds.
func (s *Snapshot) Len() int { return len(s.ids) }

// Shards returns the number of FTS5 shards in the snapshot.
func (s *Snapshot) Shards() int { return len(s.shards) }

// fingerprint identifies a document's indexed text: the first 8 bytes of
// its SHA-256 (SHA-256 runs at memory speed with SHA extensions, so it costs
// about what a non-cryptographic 64-bit hash would).
func fingerprint(text string) uint64 {
	h := sha256.Sum256([]byte(text))
	return binary.LittleEndian.Uint64(h[:8])
}

// fingerprints returns the fingerprint of each doc's text, hashed on every
// core for large inputs.
func fingerprints(docs []Doc) []uint64 {
	out := make([]uint64, len(docs))
	workers := 1
	if len(docs) >= 1024 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := len(docs)*w/workers, len(docs)*(w+1)/workers
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = fingerprint(docs[i].Text)
			}
		})
	}
	wg.Wait()
	return out
}

// Snapshot copies the index's FTS5 shards and manifest. Searches go on
// meanwhile; Add and Remove wait (a shard serialises at memory speed,
// about 100 ms for 100k chunks of 400 tokens).
func (ix *Index) Snapshot(ctx context.Context) (*Snapshot, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	s := &Snapshot{shards: make([][]byte, len(ix.shards))}
	g, gctx := errgroup.WithContext(ctx)
	for i, sh := range ix.shards {
		g.Go(func() (err error) {
			s.shards[i], err = sh.serialize(gctx)
			if err != nil {
				return fmt.Errorf("shard %d: %w", i, err)
			}
			return nil
		})
	}
	s.ids = make([]int64, 0, len(ix.docs))
	for id := range ix.docs {
		s.ids = append(s.ids, id)
	}
	slices.Sort(s.ids)
	s.sums = make([]uint64, len(s.ids))
	for i, id := range s.ids {
		s.sums[i] = ix.docs[id].fp
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("snapshot index: %w", err)
	}
	return s, nil
}

// RestoreStats tells how Restore built the index.
type RestoreStats struct {
	// Used is true when the snapshot's shards were used; false when the
	// index was built from the documents alone (Reason says why).
	Used   bool
	Reason string
	// Kept documents were in the snapshot with the same text; Inserted
	// were new or changed (Changed of them were replaced); Deleted were in
	// the snapshot but not in the documents.
	Kept, Inserted, Changed, Deleted int
	// Took is how long Restore ran.
	Took time.Duration
}

// Restore returns an index over docs (as New followed by Add would), built
// from snap where it can: the snapshot's shards are loaded as they are,
// then reconciled with docs, which are authoritative: a document whose ID
// and text fingerprint are in the manifest only gets its Go-side data
// (text, vector, time); a new or changed one is (re)inserted into FTS5; a
// manifest entry without a document is deleted. Search results then equal
// those of a fresh build over docs, BM25 scores included.
//
// A nil snapshot, one whose shard count differs from what New and Add
// would use for len(docs) documents (opts.Shards, or the automatic
// layout), or one whose databases do not load or do not match their
// manifest is ignored: the index is built from docs alone, and Stats.Reason
// says why. Errors are reserved for invalid docs, cancellation and SQLite
// failures.
func Restore(ctx context.Context, opts Options, snap *Snapshot, docs []Doc) (*Index, RestoreStats, error) {
	start := time.Now()
	ix, st, err := restore(ctx, opts, snap, docs)
	if err == nil && !st.Used {
		ix, err = build(ctx, opts, docs)
		st.Inserted = len(docs)
	}
	st.Took = time.Since(start)
	if err != nil {
		return nil, st, fmt.Errorf("restore index: %w", err)
	}
	ix.log.Debug("index restore", "used", st.Used, "reason", st.Reason, "kept", st.Kept, "inserted", st.Inserted,
		"changed", st.Changed, "deleted", st.Deleted, "took", st.Took)
	return ix, st, nil
}

// build is New followed by one Add.
func build(ctx context.Context, opts Options, docs []Doc) (*Index, error) {
	ix, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := ix.Add(ctx, docs...); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

// restore loads snap and reconciles it with docs. It returns a nil index
// and Used false when the snapshot cannot be used.
func restore(ctx context.Context, opts Options, snap *Snapshot, docs []Doc) (*Index, RestoreStats, error) {
	var st RestoreStats
	if snap == nil {
		st.Reason = "no snapshot"
		return nil, st, nil
	}
	ix, err := New(opts)
	if err != nil {
		return nil, st, err
	}
	defer func() {
		if !st.Used {
			ix.Close()
		}
	}()
	docs, vecs, dim, err := ix.prepare(docs)
	if err != nil {
		return nil, st, err
	}
	want := len(ix.shards)
	if ix.autoShards && len(docs) >= AutoShardMin {
		want = min(runtime.GOMAXPROCS(0), maxAutoShards)
	}
	if len(snap.shards) != want {
		st.Reason = fmt.Sprintf("snapshot has %d shards, this index uses %d", len(snap.shards), want)
		return nil, st, nil
	}
	schema, err := ix.shards[0].schema(ctx)
	if err != nil {
		return nil, st, err
	}
	perShard := make([]int, want)
	for _, id := range snap.ids {
		perShard[shardOf(id, want)]++
	}
	shards := make([]*shard, want)
	var g errgroup.Group
	for i := range shards {
		g.Go(func() (err error) {
			shards[i], err = openShardFrom(ctx, snap.shards[i], schema, perShard[i])
			if err != nil {
				return fmt.Errorf("shard %d: %w", i, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		closeShards(slices.DeleteFunc(shards, func(s *shard) bool { return s == nil }))
		if ctx.Err() != nil {
			return nil, st, ctx.Err()
		}
		st.Reason = "snapshot does not load: " + err.Error()
		return nil, st, nil
	}
	closeShards(ix.shards)
	ix.shards = shards

	fps := fingerprints(docs)
	manifest := make(map[int64]uint64, len(snap.ids))
	for i, id := range snap.ids {
		manifest[id] = snap.sums[i]
	}
	ins := make([][]Doc, want)
	del := make([][]int64, want)
	busy := make([]bool, want)
	for i, d := range docs {
		fp, ok := manifest[d.ID]
		if ok {
			delete(manifest, d.ID)
			if fp == fps[i] {
				st.Kept++
				continue
			}
		}
		s := shardOf(d.ID, want)
		if ok {
			del[s] = append(del[s], d.ID)
			st.Changed++
		}
		ins[s] = append(ins[s], d)
		busy[s] = true
		st.Inserted++
	}
	for id := range manifest {
		s := shardOf(id, want)
		del[s] = append(del[s], id)
		busy[s] = true
		st.Deleted++
	}
	if err := ix.applyShards(ctx, busy, func(ctx context.Context, i int, tx *shardTx) error {
		slices.Sort(del[i])
		if err := tx.delete(ctx, del[i]); err != nil {
			return err
		}
		return tx.insert(ctx, ins[i])
	}); err != nil {
		return nil, st, err
	}
	ix.store(docs, vecs, dim, fps)
	st.Used = true
	return ix, st, nil
}

// serialize returns the shard's database as SQLite would write it to a
// file.
func (s *shard) serialize(ctx context.Context) ([]byte, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []byte
	err = conn.Raw(func(dc any) error {
		ser, ok := dc.(interface{ Serialize() ([]byte, error) })
		if !ok {
			return errors.New("the sqlite driver cannot serialise a database")
		}
		var err error
		out, err = ser.Serialize()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("serialise: %w", err)
	}
	return out, nil
}

// schema returns a description of every object in the shard's database,
// which a database loaded from a snapshot must match exactly.
func (s *shard) schema(ctx context.Context) (string, error) {
	var out sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT group_concat(type || ' ' || name || ' ' || tbl_name || ' ' || ifnull(sql, ''), char(10))
		FROM (SELECT * FROM sqlite_schema ORDER BY type, name)`).Scan(&out)
	if err != nil {
		return "", fmt.Errorf("read schema: %w", err)
	}
	return out.String, nil
}

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// openShardFrom opens a private in-memory database holding a copy of blob
// (a serialised shard) and checks it: the schema must equal a fresh
// shard's, the journal must stay in memory, and it must index exactly docs
// documents.
func openShardFrom(ctx context.Context, blob []byte, schema string, docs int) (*shard, error) {
	if len(blob) < 512 || string(blob[:len(sqliteHeader)]) != sqliteHeader {
		return nil, errors.New("not an SQLite database")
	}
	db, err := openDB()
	if err != nil {
		return nil, err
	}
	s := &shard{db: db}
	if err := s.load(ctx, blob, schema, docs); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *shard) load(ctx context.Context, blob []byte, schema string, docs int) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		de, ok := dc.(interface{ Deserialize([]byte) error })
		if !ok {
			return errors.New("the sqlite driver cannot deserialise a database")
		}
		return de.Deserialize(blob)
	})
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("deserialise: %w", err)
	}
	got, err := s.schema(ctx)
	if err != nil {
		return err
	}
	if got != schema {
		return errors.New("unexpected schema")
	}
	// A deserialised database lives in SQLite's memdb VFS, whose journal
	// is in memory; check, since a journal on disk would hold index pages.
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if mode != "memory" {
		if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode=MEMORY`).Scan(&mode); err != nil || mode != "memory" {
			return fmt.Errorf("journal mode %q cannot be set to memory: %v", mode, err)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM chunks_docsize`).Scan(&n); err != nil {
		return fmt.Errorf("count documents: %w", err)
	}
	if n != docs {
		return fmt.Errorf("holds %d documents, its manifest %d", n, docs)
	}
	return nil
}
