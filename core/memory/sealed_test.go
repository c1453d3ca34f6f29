package memory

import (
	"bytes"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/vault"
)

func mustNotes(t *testing.T, e *env) []store.MemoryNote {
	t.Helper()
	rows, err := e.db.MemoryNotes(t.Context(), "a1")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func toolsEnv() tools.Env { return tools.Env{Workspace: "/elsewhere"} }

// TestSealedAtRest writes notes through Append and as a plaintext file
// dropped into the workspace, syncs with an embedder, then scans every byte
// under the state dir (genos.db, its WAL, the workspace): no note text,
// snippet or vector may appear in plaintext, except the dropped file itself,
// which the user wrote and Genos does not rewrite.
func TestSealedAtRest(t *testing.T) {
	e := newEnv(t)
	v := newVault(t)
	_, emb := newEmbedder(t, "bag-32")
	o := e.options(emb)
	o.Sealer, o.Codec = v, v.InlineCodec()
	const (
		todayMarker  = "canary-today-9137"
		memMarker    = "canary-memory-9138"
		droppedMark  = "canary-dropped-9139"
		sectionTitle = "canary-section-9140"
	)
	e.write(t, "memory/ideas.md", "# Ideas\nA plaintext note with "+droppedMark+" in it.\n")
	m := openMem(t, o)
	ctx := t.Context()
	if err := m.Append(ctx, Target{}, "Remember "+todayMarker+" for the trip."); err != nil {
		t.Fatal(err)
	}
	if err := m.Append(ctx, Target{File: TargetMemory, Section: sectionTitle}, "Fact "+memMarker+"."); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{todayMarker, memMarker, droppedMark} {
		hits, err := m.Search(ctx, SearchRequest{Text: q, Mode: index.ModeBM25})
		if err != nil || len(hits) == 0 || !strings.Contains(hits[0].Text, q) {
			t.Fatalf("search %s: %v, %v", q, hits, err)
		}
	}
	// The sealed notes open with the vault, and the chunk rows are sealed.
	raw, err := os.ReadFile(filepath.Join(e.ws, "MEMORY.md"))
	if err != nil || !vault.IsSealed(raw) {
		t.Fatalf("MEMORY.md is not sealed: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	scan := func(when string) {
		t.Helper()
		markers := []string{todayMarker, memMarker, sectionTitle, "Remember", "for the trip"}
		files := 0
		err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for _, mk := range markers {
				if bytes.Contains(data, []byte(mk)) {
					t.Errorf("%s: %s holds %q in plaintext", when, p, mk)
				}
			}
			if filepath.Base(p) != "ideas.md" && bytes.Contains(data, []byte(droppedMark)) {
				t.Errorf("%s: %s holds the dropped note's text in plaintext", when, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files < 4 {
			t.Fatalf("%s: scanned only %d files", when, files)
		}
	}
	if _, err := os.Stat(filepath.Join(e.dir, "genos.db-wal")); err != nil {
		t.Fatalf("expected a WAL to scan: %v", err)
	}
	scan("db open")

	// Locked: Open and Sync fail with ErrLocked, never an empty memory.
	v.Lock()
	if _, err := Open(ctx, o); !errors.Is(err, vault.ErrLocked) {
		t.Fatalf("Open while locked: %v", err)
	}
	if err := v.Unlock([]byte(testPass)); err != nil {
		t.Fatal(err)
	}
	m2 := openMem(t, o)
	if s := m2.Status(ctx); s.Notes != 3 || s.Damaged != 0 || s.Mode != "hybrid" {
		t.Fatalf("status after reopen: %+v", s)
	}
	v.Lock()
	if _, err := m2.Sync(ctx); !errors.Is(err, vault.ErrLocked) {
		t.Fatalf("Sync while locked: %v", err)
	}
	res := runToolErr(t, m2, "memory_get", `{"path":"MEMORY.md"}`)
	if !errors.Is(res, vault.ErrLocked) {
		t.Fatalf("memory_get while locked: %v", res)
	}
	_ = m2.Close()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	scan("db closed")
}

func runToolErr(t *testing.T, m *Memory, name, args string) error {
	t.Helper()
	for _, tool := range m.Tools() {
		if tool.Name == name {
			_, err := tool.Run(t.Context(), toolsEnv(), []byte(args))
			return err
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

// TestDamagedRows damages one chunk row and one note row: Open skips them
// with a count in Status, search keeps working, and the next Sync deletes
// them and indexes the notes again.
func TestDamagedRows(t *testing.T) {
	e := newEnv(t)
	v := newVault(t)
	o := e.options(nil)
	o.Sealer, o.Codec = v, v.InlineCodec()
	e.write(t, "MEMORY.md", memoryNote)
	e.write(t, "memory/2026-11-20.md", datedNote)
	m := openMem(t, o)
	ctx := t.Context()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	chunks := m.Status(ctx).Chunks
	_ = m.Close()

	raw, err := sql.Open("sqlite", filepath.Join(e.dir, "genos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var dated string
	for _, n := range mustNotes(t, e) {
		pt, _ := v.InlineCodec().DecodeValue(n.Sealed)
		if p, _ := decodeNote(pt); p.Path == "memory/2026-11-20.md" {
			dated = n.ID
		}
	}
	if _, err := raw.Exec(`UPDATE memory_notes SET sealed = CAST('NYXENC1:{garbage' AS BLOB) WHERE id = ?`, dated); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE memory_chunks SET sealed = CAST('plaintext row' AS BLOB)
		WHERE id = (SELECT MIN(id) FROM memory_chunks WHERE note_id != ?)`, dated); err != nil {
		t.Fatal(err)
	}

	m2 := openMem(t, o)
	s := m2.Status(ctx)
	// The damaged note row orphans its chunks (each counted), plus the note
	// row itself and the damaged chunk.
	if s.Damaged < 3 || s.Notes != 1 || s.Chunks >= chunks-1 {
		t.Fatalf("status with damaged rows: %+v (had %d chunks)", s, chunks)
	}
	if hits, err := m2.Search(ctx, SearchRequest{Text: "green tea"}); err != nil || len(hits) == 0 {
		t.Fatalf("search with damaged rows: %v, %v", hits, err)
	}
	st, err := m2.Sync(ctx)
	if err != nil || st.Updated != 2 {
		t.Fatalf("sync: %+v, %v", st, err)
	}
	if s := m2.Status(ctx); s.Chunks != chunks || s.Notes != 2 {
		t.Fatalf("status after sync: %+v", s)
	}
	if n := len(mustNotes(t, e)); n != 2 {
		t.Fatalf("%d note rows after sync", n)
	}
	var rows int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM memory_chunks`).Scan(&rows); err != nil || rows != chunks {
		t.Fatalf("%d chunk rows after sync, want %d (%v)", rows, chunks, err)
	}
	hits, err := m2.Search(ctx, SearchRequest{Text: "TP1234 Lisbon"})
	if err != nil || len(hits) == 0 || hits[0].Path != "memory/2026-11-20.md" {
		t.Fatalf("search after repair: %v, %v", sources(hits), err)
	}
}
