package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The embedding cache (table embed_cache, migration step 3) maps a keyed
// hash of (model, text) to a sealed vector, so the same text is never sent to
// an embedding provider twice. The store sees only the key, the model name,
// a last-use time and the sealed bytes; core/embed computes keys (HMAC under
// a vault secret, never a plain hash of what the user wrote) and seals values.

// Bounds on cache rows. A key is a hex HMAC-SHA256 (64 bytes); a sealed
// vector of 16384 float32 is 64 KiB before sealing.
const (
	maxEmbedKey      = 128
	maxEmbedModel    = 512
	maxEmbedSealed   = 1 << 20
	embedKeysPerStmt = 500 // well under SQLite's bound on host parameters
)

func checkEmbedKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty cache key")
	case len(k) > maxEmbedKey:
		return fmt.Errorf("cache key longer than %d bytes", maxEmbedKey)
	}
	return nil
}

func checkEmbedSealed(b []byte) error {
	switch {
	case len(b) == 0:
		return errors.New("empty sealed value")
	case len(b) > maxEmbedSealed:
		return fmt.Errorf("sealed value of %d bytes exceeds %d", len(b), maxEmbedSealed)
	}
	return nil
}

// embedPlaceholders returns "?,?,...,?" with n marks.
func embedPlaceholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// embedKeyArgs converts keys to query arguments.
func embedKeyArgs(keys []string) []any {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	return args
}

// GetEmbeddings returns the sealed values stored under keys, by key. Keys
// with no row are absent from the map; duplicates are harmless. It reads
// through the read pool, in one query per 500 keys.
func (db *DB) GetEmbeddings(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for start := 0; start < len(keys); start += embedKeysPerStmt {
		part := keys[start:min(start+embedKeysPerStmt, len(keys))]
		rows, err := db.r.QueryContext(ctx,
			`SELECT key, sealed FROM embed_cache WHERE key IN (`+embedPlaceholders(len(part))+`)`, embedKeyArgs(part)...)
		if err != nil {
			return nil, fmt.Errorf("get embeddings: %w", err)
		}
		for rows.Next() {
			var (
				k      string
				sealed []byte
			)
			if err := rows.Scan(&k, &sealed); err != nil {
				rows.Close()
				return nil, fmt.Errorf("get embeddings: %w", err)
			}
			out[k] = sealed
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("get embeddings: %w", err)
		}
	}
	return out, nil
}

// PutEmbeddings stores rows (key -> sealed value) of model with last use
// usedAt, in one transaction, replacing any row with the same key (a
// damaged value is overwritten by a fresh one). Invalid input changes
// nothing.
func (db *DB) PutEmbeddings(ctx context.Context, model string, rows map[string][]byte, usedAt time.Time) error {
	if len(rows) == 0 {
		return nil
	}
	var errs []error
	if model == "" {
		errs = append(errs, errors.New("empty model"))
	} else if len(model) > maxEmbedModel {
		errs = append(errs, fmt.Errorf("model name longer than %d bytes", maxEmbedModel))
	}
	if usedAt.IsZero() {
		errs = append(errs, errors.New("zero use time"))
	}
	for k, v := range rows {
		if err := errors.Join(checkEmbedKey(k), checkEmbedSealed(v)); err != nil {
			errs = append(errs, fmt.Errorf("row %.16q: %w", k, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("put embeddings: %w", err)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("put embeddings: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, `
INSERT INTO embed_cache (key, model, used_at, sealed) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET model = excluded.model, used_at = excluded.used_at, sealed = excluded.sealed`)
	if err != nil {
		return fmt.Errorf("put embeddings: %w", err)
	}
	defer stmt.Close()
	at := usedAt.UnixNano()
	for k, v := range rows {
		if _, err := stmt.ExecContext(ctx, k, model, at, v); err != nil {
			return fmt.Errorf("put embeddings: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put embeddings: %w", err)
	}
	return nil
}

// TouchEmbeddings sets the last use of the rows with the given keys to
// usedAt (never moving it backwards), so they are pruned last. Missing keys
// are ignored. It is one statement per 500 keys, in one transaction.
func (db *DB) TouchEmbeddings(ctx context.Context, keys []string, usedAt time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("touch embeddings: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	at := usedAt.UnixNano()
	for start := 0; start < len(keys); start += embedKeysPerStmt {
		part := keys[start:min(start+embedKeysPerStmt, len(keys))]
		args := append([]any{at, at}, embedKeyArgs(part)...)
		if _, err := tx.ExecContext(ctx,
			`UPDATE embed_cache SET used_at = ? WHERE used_at < ? AND key IN (`+embedPlaceholders(len(part))+`)`,
			args...); err != nil {
			return fmt.Errorf("touch embeddings: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("touch embeddings: %w", err)
	}
	return nil
}

// PruneEmbeddings deletes the least recently used rows beyond the max most
// recent ones and returns how many it deleted. max must not be negative.
func (db *DB) PruneEmbeddings(ctx context.Context, max int) (int, error) {
	if max < 0 {
		return 0, fmt.Errorf("prune embeddings: negative limit %d", max)
	}
	// key breaks ties between rows used in the same nanosecond, so the
	// survivors are deterministic.
	res, err := db.w.ExecContext(ctx, `
DELETE FROM embed_cache WHERE key IN (
	SELECT key FROM embed_cache ORDER BY used_at DESC, key LIMIT -1 OFFSET ?)`, max)
	if err != nil {
		return 0, fmt.Errorf("prune embeddings: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune embeddings: %w", err)
	}
	return int(n), nil
}

// CountEmbeddings returns the number of cached embeddings.
func (db *DB) CountEmbeddings(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM embed_cache`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count embeddings: %w", err)
	}
	return n, nil
}

// RewriteEmbedCache passes every sealed value of the embedding cache through
// fn and stores what it returns, all in one transaction: it seals the values
// when a vault is created and reseals them under a new key on rekey. fn
// returning the value unchanged (same bytes) skips the row; returning nil
// with no error deletes the row (a cache entry that cannot be resealed, say a
// damaged one, is worth nothing); an error aborts and changes nothing. It
// returns the number of rows rewritten or deleted. The caller should Scrub
// afterwards so the old values leave the file.
func (db *DB) RewriteEmbedCache(ctx context.Context, fn func(stored []byte) ([]byte, error)) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("rewrite embedding cache: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n, err := rewriteSealed(ctx, tx, "embed_cache", "key", checkEmbedSealed, true, fn)
	if err != nil {
		return 0, fmt.Errorf("rewrite embedding cache: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rewrite embedding cache: %w", err)
	}
	return n, nil
}

// rewriteSealed passes the sealed column of every row of table (keyed by
// idCol) through fn and stores what it returns: the same bytes skip the
// row, a value must pass check, and with deletable a nil value deletes the
// row. table and idCol are always constants from this package.
func rewriteSealed(ctx context.Context, tx *sql.Tx, table, idCol string, check func([]byte) error, deletable bool,
	fn func([]byte) ([]byte, error)) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+idCol+`, sealed FROM `+table+` ORDER BY `+idCol)
	if err != nil {
		return 0, err
	}
	type value struct {
		id     string
		sealed []byte
	}
	var vals []value
	for rows.Next() {
		var v value
		if err := rows.Scan(&v.id, &v.sealed); err != nil {
			rows.Close()
			return 0, err
		}
		vals = append(vals, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	n := 0
	for _, v := range vals {
		out, err := fn(v.sealed)
		if err != nil {
			// Row ids are random or keyed hashes: safe to show.
			return 0, fmt.Errorf("row %s: %w", v.id, err)
		}
		switch {
		case out == nil && deletable:
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+idCol+` = ?`, v.id); err != nil {
				return 0, err
			}
		case string(out) == string(v.sealed):
			continue
		default:
			if err := check(out); err != nil {
				return 0, fmt.Errorf("row %s: %w", v.id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET sealed = ? WHERE `+idCol+` = ?`, out, v.id); err != nil {
				return 0, err
			}
		}
		n++
	}
	return n, nil
}
