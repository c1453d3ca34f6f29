// Package store owns genos.db, the SQLite database that indexes sessions (and,
// as features land, pairing, approvals, cron and memory rows). It opens the
// database with the pragmas Genos relies on, applies ordered schema migrations
// at open and exposes typed queries; no other package writes SQL against it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a newer
// Genos than this one. Opening it anyway could corrupt data the newer schema
// depends on, so the caller must upgrade instead.
var ErrSchemaTooNew = errors.New("database schema is newer than this version of genos supports")

// ErrNotFound is returned when a row addressed by key does not exist.
var ErrNotFound = errors.New("not found")

// busyTimeoutMS bounds how long a connection waits for a lock held by another
// process (an offline CLI tool, a second daemon) before failing with SQLITE_BUSY.
const busyTimeoutMS = 10000

// maxReaders is the size of the read pool. Reads are short index queries; a
// few connections let the UI list sessions while a run appends.
const maxReaders = 4

// DB is the open genos.db. It is safe for concurrent use.
//
// Connections are split in two pools. All writes go through a pool of exactly
// one connection whose transactions begin IMMEDIATE: writers queue inside
// database/sql instead of racing for SQLite's write lock, so concurrent
// goroutines never see SQLITE_BUSY (or the deadlock-shaped BUSY that a
// deferred transaction upgrading from read to write can hit, which
// busy_timeout cannot resolve). Reads use a separate query_only pool: in WAL
// mode readers never block the writer nor wait for it, so listing sessions is
// not stuck behind an fsync. A single pool of one connection would also be
// correct but would serialise every read behind every write.
type DB struct {
	w *sql.DB
	r *sql.DB
}

// Open opens (creating if needed) the database at path with mode 0600,
// applies pending migrations in one transaction and returns it. It fails with
// ErrSchemaTooNew if the file was migrated by a newer version.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, migrations)
}

func open(ctx context.Context, path string, steps []migration) (*DB, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := createFile(path); err != nil {
		return nil, err
	}

	// busy_timeout is listed first by the driver whatever the order here; it
	// must precede journal_mode, which needs a lock to switch to WAL.
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busyTimeoutMS)
	// synchronous(FULL): commits are rare (one per appended run) and the
	// database holds pairing and approval decisions that must survive a power
	// cut, so the extra fsync per commit is worth it.
	// secure_delete(1): content columns are sealed once a vault exists, but
	// values written before it (and pages freed since) must not linger in
	// free pages for a disk scan to find.
	w, err := sql.Open("sqlite", path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	if err := migrate(ctx, w, steps); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}

	// The read pool is opened after the writer switched the file to WAL
	// (a persistent setting), so readers need not set journal_mode.
	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	if err := r.PingContext(ctx); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return &DB{w: w, r: r}, nil
}

// Scrub rewrites the database so that no old version of any row survives
// in the file, the WAL or free pages: after the vault seals the content
// columns, the plaintext they held before must be gone from disk too.
func (db *DB) Scrub(ctx context.Context) error {
	for _, q := range []string{`PRAGMA wal_checkpoint(TRUNCATE)`, `VACUUM`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("scrub database: %s: %w", q, err)
		}
	}
	return nil
}

// Close closes both connection pools. The last connection to close
// checkpoints the WAL into the main file.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// checkPath rejects paths the driver would misread: the DSN is split at the
// first '?', and ":memory:" or an empty name would silently give each pool its
// own private database.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("open database: empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("open database %s: a plain file path is required", path)
	case strings.ContainsAny(path, "?\x00"):
		return fmt.Errorf("open database %s: path must not contain '?' or NUL", path)
	}
	return nil
}

// createFile makes sure the database file exists with mode 0600 before SQLite
// opens it. SQLite would otherwise create it with 0644 (minus umask), and it
// gives the -wal and -shm files the same mode as the main file, so creating
// the main file right keeps all three private.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	// An existing file created by another tool may be wider than 0600; so may
	// its -wal and -shm companions, which SQLite reuses as they are.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restrict database %s: %w", p, err)
		}
	}
	return nil
}
