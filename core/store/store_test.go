package store

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "genos.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func appliedVersions(t *testing.T, path string) []int {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// versionsUpTo returns 1..n, the versions a fully migrated database records.
func versionsUpTo(n int) []int {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = i + 1
	}
	return vs
}

func TestOpenPragmasAndMode(t *testing.T) {
	db, path := openTest(t)
	ctx := t.Context()
	if err := db.UpsertSession(ctx, SessionRow{Key: "k", ID: "i", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}

	for _, p := range []struct {
		pool *sql.DB
		name string
		want string
	}{
		{db.w, "journal_mode", "wal"},
		{db.r, "journal_mode", "wal"},
		{db.w, "foreign_keys", "1"},
		{db.w, "busy_timeout", fmt.Sprint(busyTimeoutMS)},
		{db.r, "busy_timeout", fmt.Sprint(busyTimeoutMS)},
		{db.w, "synchronous", "2"},
		{db.r, "query_only", "1"},
		{db.w, "query_only", "0"},
	} {
		var got string
		if err := p.pool.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", p.name, err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %q, want %q", p.name, got, p.want)
		}
	}

	for _, f := range []string{path, path + "-wal"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode = %v, want 0600", filepath.Base(f), m)
		}
	}
}

func TestOpenRestrictsExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genos.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode = %v, want 0600", m)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", filepath.Join(t.TempDir(), "a?b.db")} {
		t.Run(p, func(t *testing.T) {
			if db, err := Open(t.Context(), p); err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", p)
			}
		})
	}
}

func TestMigrationsIdempotentAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genos.db")
	ctx := t.Context()
	want := SessionRow{Key: "agent:0123abcd:main", ID: "id1", AgentID: "0123abcd",
		CreatedAt: time.Unix(100, 0).UTC(), UpdatedAt: time.Unix(200, 0).UTC()}

	for i := range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		if i == 0 {
			if err := db.UpsertSession(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		got, ok, err := db.GetSession(ctx, want.Key)
		if err != nil || !ok {
			t.Fatalf("open #%d: GetSession = %v, %v", i, ok, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("open #%d: row (-want +got):\n%s", i, d)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(versionsUpTo(len(migrations)), appliedVersions(t, path)); d != "" {
		t.Errorf("applied versions (-want +got):\n%s", d)
	}

	// A later release appends a step: it is applied once, on top of the data.
	extended := append(append([]migration(nil), migrations...),
		migration{len(migrations) + 1, `ALTER TABLE sessions ADD COLUMN extra TEXT NOT NULL DEFAULT 'x'`})
	for range 2 {
		db, err := open(ctx, path, extended)
		if err != nil {
			t.Fatalf("open with step 2: %v", err)
		}
		var extra string
		if err := db.r.QueryRowContext(ctx, `SELECT extra FROM sessions WHERE key = ?`, want.Key).Scan(&extra); err != nil {
			t.Fatal(err)
		}
		if extra != "x" {
			t.Errorf("extra = %q", extra)
		}
		db.Close()
	}
	if d := cmp.Diff(versionsUpTo(len(migrations)+1), appliedVersions(t, path)); d != "" {
		t.Errorf("applied versions (-want +got):\n%s", d)
	}
}

func TestFailingMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genos.db")
	ctx := t.Context()
	bad := append(append([]migration(nil), migrations...),
		migration{len(migrations) + 1, `CREATE TABLE t2 (a INTEGER)`},
		migration{len(migrations) + 2, `THIS IS NOT SQL`})
	if db, err := open(ctx, path, bad); err == nil {
		db.Close()
		t.Fatal("open with a broken step succeeded")
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen after failed migration: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.r.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('sessions', 't2')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("tables after rollback and reopen = %d, want only sessions", n)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	_, path := openTest(t)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`,
		len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := Open(t.Context(), path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("err = %v, want ErrSchemaTooNew", err)
	}
}

func TestRefusesInconsistentSchemaTable(t *testing.T) {
	_, path := openTest(t)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// The last version recorded without version 1: a hand-edited table.
	if _, err := raw.Exec(`DELETE FROM schema_migrations WHERE version = 1`); err != nil {
		t.Fatal(err)
	}
	if len(migrations) == 1 {
		if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (2, 0)`); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	more := append(append([]migration(nil), migrations...), migration{len(migrations) + 1, `SELECT 1`})
	if db, err := open(t.Context(), path, more); err == nil {
		db.Close()
		t.Fatal("open with a gap in schema_migrations succeeded")
	}
}
