package index

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// shard is one private in-memory SQLite database holding a contentless FTS5
// table over part of the documents (rowid = Doc.ID). The text itself lives
// in Go; FTS5 only keeps postings.
type shard struct {
	db *sql.DB
}

// ftsHashSize is the FTS5 pending-terms buffer: the default (1 MB) flushes a
// segment every few hundred documents during a bulk load, and the merging
// that follows costs a third of the load time. 32 MB per shard flushes
// rarely and is released after the transaction.
const ftsHashSize = 32 << 20

// openShards opens n empty shards.
func openShards(n int) ([]*shard, error) {
	out := make([]*shard, 0, n)
	for range n {
		s, err := openShard()
		if err != nil {
			closeShards(out)
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// openShard opens one private in-memory database with an empty FTS5 table.
func openShard() (*shard, error) {
	db, err := openDB()
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(createChunks); err != nil {
		db.Close()
		if strings.Contains(err.Error(), "no such module") {
			return nil, fmt.Errorf("this SQLite build has no FTS5 module, which memory search needs: %w", err)
		}
		return nil, fmt.Errorf("create fts5 table: %w", err)
	}
	if _, err := db.Exec(fmt.Sprintf(`INSERT INTO chunks(chunks, rank) VALUES ('hashsize', %d)`, ftsHashSize)); err != nil {
		db.Close()
		return nil, fmt.Errorf("set up fts5 table: %w", err)
	}
	return &shard{db: db}, nil
}

// createChunks creates a shard's FTS5 table. A change here changes what a
// snapshot holds: bump snapshotVersion.
const createChunks = `CREATE VIRTUAL TABLE chunks USING fts5(text, content='', contentless_delete=1,
		tokenize='unicode61 remove_diacritics 2')`

// openDB opens one private in-memory database with a single connection
// (each connection to ":memory:" would be a different database) and
// temp_store=MEMORY so even sorts spill to memory, never to a temp file.
func openDB() (*sql.DB, error) {
	var name [12]byte
	if _, err := rand.Read(name[:]); err != nil {
		return nil, fmt.Errorf("name in-memory database: %w", err)
	}
	dsn := "file:genos-index-" + hex.EncodeToString(name[:]) +
		"?mode=memory&cache=private&_pragma=temp_store(2)&_pragma=journal_mode(MEMORY)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open in-memory database: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// closeShards closes every shard, returning the errors joined.
func closeShards(shards []*shard) error {
	var errs []error
	for _, s := range shards {
		if err := s.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// shardOf maps a document ID to a shard with a multiplicative hash, so
// sequential IDs spread evenly.
func shardOf(id int64, n int) int {
	if n <= 1 {
		return 0
	}
	return int((uint64(id) * 0x9E3779B97F4A7C15 >> 32) % uint64(n))
}

// shardTx is one write transaction on a shard.
type shardTx struct {
	tx *sql.Tx
}

func (s *shard) begin(ctx context.Context) (*shardTx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &shardTx{tx: tx}, nil
}

// insert adds docs with one prepared statement.
func (t *shardTx) insert(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO chunks(rowid, text) VALUES (?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer st.Close()
	for _, d := range docs {
		if _, err := st.ExecContext(ctx, d.ID, d.Text); err != nil {
			return fmt.Errorf("insert doc %d: %w", d.ID, err)
		}
	}
	return nil
}

// delete removes the postings of ids (contentless_delete=1 makes that
// possible without the original text).
func (t *shardTx) delete(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	st, err := t.tx.PrepareContext(ctx, `DELETE FROM chunks WHERE rowid = ?`)
	if err != nil {
		return fmt.Errorf("prepare delete: %w", err)
	}
	defer st.Close()
	for _, id := range ids {
		if _, err := st.ExecContext(ctx, id); err != nil {
			return fmt.Errorf("delete doc %d: %w", id, err)
		}
	}
	return nil
}

func (t *shardTx) commit() error {
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (t *shardTx) rollback() { _ = t.tx.Rollback() }

// countUpTo returns how many of the shard's documents match the FTS5
// expression, counting at most max: FTS5 walks the postings in rowid order
// and stops there, so the cost is bounded by max even for a term found in
// every document.
func (s *shard) countUpTo(ctx context.Context, expr string, max int) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx,
		`SELECT count(*) FROM (SELECT rowid FROM chunks WHERE chunks MATCH ? LIMIT ?)`, expr, max).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count fts5 matches: %w", err)
	}
	return n, nil
}

// scored is one BM25 match: bm25 is FTS5's bm25() negated, so higher is
// better.
type scored struct {
	id   int64
	bm25 float64
}

// match returns up to limit documents matching the FTS5 query expression
// (built by ftsQuery, never raw user text), best first.
func (s *shard) match(ctx context.Context, expr string, limit int) ([]scored, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT rowid, bm25(chunks) FROM chunks WHERE chunks MATCH ? ORDER BY bm25(chunks), rowid LIMIT ?`, expr, limit)
	if err != nil {
		return nil, fmt.Errorf("fts5 match: %w", err)
	}
	defer rows.Close()
	var out []scored
	for rows.Next() {
		var r scored
		if err := rows.Scan(&r.id, &r.bm25); err != nil {
			return nil, fmt.Errorf("fts5 match: %w", err)
		}
		r.bm25 = -r.bm25
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fts5 match: %w", err)
	}
	return out, nil
}
