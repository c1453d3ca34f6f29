package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func memNote(id, agent string) MemoryNote {
	return MemoryNote{ID: id, AgentID: agent, UpdatedAt: t0, Sealed: []byte("note-" + id)}
}

func memChunks(note string, n int) []MemoryChunk {
	out := make([]MemoryChunk, n)
	for i := range out {
		out[i] = MemoryChunk{Seq: i, Sealed: []byte(fmt.Sprintf("chunk-%s-%d", note, i))}
	}
	return out
}

func chunkPayloads(t *testing.T, db *DB, agent string) []string {
	t.Helper()
	var out []string
	err := db.EachMemoryChunk(t.Context(), agent, func(c MemoryChunk) error {
		if c.AgentID != agent {
			t.Errorf("chunk %d of agent %q listed for %q", c.ID, c.AgentID, agent)
		}
		out = append(out, string(c.Sealed))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMemoryRows(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()

	ids, err := db.PutMemoryNote(ctx, memNote("n1", "a1"), memChunks("n1", 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("chunk ids = %v", ids)
	}
	if _, err := db.PutMemoryNote(ctx, memNote("n2", "a1"), memChunks("n2", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutMemoryNote(ctx, memNote("m1", "a2"), memChunks("m1", 2)); err != nil {
		t.Fatal(err)
	}

	notes, err := db.MemoryNotes(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]MemoryNote{memNote("n1", "a1"), memNote("n2", "a1")}, notes); d != "" {
		t.Errorf("MemoryNotes (-want +got):\n%s", d)
	}
	if n, err := db.CountMemoryChunks(ctx, "a1"); err != nil || n != 4 {
		t.Fatalf("CountMemoryChunks = %d, %v", n, err)
	}
	want := []string{"chunk-n1-0", "chunk-n1-1", "chunk-n1-2", "chunk-n2-0"}
	if d := cmp.Diff(want, chunkPayloads(t, db, "a1")); d != "" {
		t.Errorf("chunks (-want +got):\n%s", d)
	}

	// Replacing a note replaces all its chunks at once.
	upd := memNote("n1", "a1")
	upd.Sealed = []byte("note-n1-v2")
	if _, err := db.PutMemoryNote(ctx, upd, []MemoryChunk{{Seq: 0, Sealed: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	of, err := db.MemoryChunksOf(ctx, "n1")
	if err != nil || len(of) != 1 || string(of[0].Sealed) != "new" || of[0].NoteID != "n1" {
		t.Fatalf("MemoryChunksOf(n1) = %+v, %v", of, err)
	}
	notes, _ = db.MemoryNotes(ctx, "a1")
	if string(notes[0].Sealed) != "note-n1-v2" {
		t.Errorf("note not updated: %q", notes[0].Sealed)
	}

	// A note id of another agent cannot be taken over.
	if _, err := db.PutMemoryNote(ctx, memNote("m1", "a1"), nil); err == nil {
		t.Error("PutMemoryNote over another agent's note succeeded")
	}
	if got := chunkPayloads(t, db, "a2"); len(got) != 2 {
		t.Errorf("a2 chunks after refused takeover = %v", got)
	}

	// Deleting ignores other agents' ids.
	if n, err := db.DeleteMemoryNotes(ctx, "a1", "n2", "m1", "none"); err != nil || n != 1 {
		t.Fatalf("DeleteMemoryNotes = %d, %v; want 1", n, err)
	}
	if d := cmp.Diff([]string{"new"}, chunkPayloads(t, db, "a1")); d != "" {
		t.Errorf("after delete (-want +got):\n%s", d)
	}
	if n, err := db.DeleteMemoryChunks(ctx, "a1", of[0].ID); err != nil || n != 1 {
		t.Fatalf("DeleteMemoryChunks = %d, %v", n, err)
	}
	if n, err := db.DeleteAgentMemory(ctx, "a2"); err != nil || n != 1 {
		t.Fatalf("DeleteAgentMemory = %d, %v", n, err)
	}
	if got := chunkPayloads(t, db, "a2"); len(got) != 0 {
		t.Errorf("a2 chunks after DeleteAgentMemory = %v", got)
	}

	// An error from the callback stops the scan.
	stop := errors.New("stop")
	if err := db.EachMemoryChunk(ctx, "a1", func(MemoryChunk) error { return stop }); err != nil {
		t.Fatalf("scan of no rows: %v", err)
	}
	if _, err := db.PutMemoryNote(ctx, memNote("n3", "a1"), memChunks("n3", 2)); err != nil {
		t.Fatal(err)
	}
	if err := db.EachMemoryChunk(ctx, "a1", func(MemoryChunk) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("scan error = %v", err)
	}
}

func TestMemoryValidation(t *testing.T) {
	db, _ := openTest(t)
	big := bytes.Repeat([]byte("x"), maxSealedValue+1)
	for _, tc := range []struct {
		name   string
		note   MemoryNote
		chunks []MemoryChunk
		want   string
	}{
		{"empty id", MemoryNote{AgentID: "a", UpdatedAt: t0, Sealed: []byte("x")}, nil, "empty row id"},
		{"empty agent", MemoryNote{ID: "n", UpdatedAt: t0, Sealed: []byte("x")}, nil, "empty agent id"},
		{"zero time", MemoryNote{ID: "n", AgentID: "a", Sealed: []byte("x")}, nil, "zero update time"},
		{"empty sealed", MemoryNote{ID: "n", AgentID: "a", UpdatedAt: t0}, nil, "empty sealed value"},
		{"big chunk", memNote("n", "a"), []MemoryChunk{{Sealed: big}}, "exceeds"},
		{"empty chunk", memNote("n", "a"), []MemoryChunk{{}}, "empty sealed value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.PutMemoryNote(t.Context(), tc.note, tc.chunks)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
	if notes, _ := db.MemoryNotes(t.Context(), "a"); len(notes) != 0 {
		t.Fatalf("an invalid note was stored: %v", notes)
	}
}

func TestRewriteMemory(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	// More chunks than one page, so paging is exercised.
	if _, err := db.PutMemoryNote(ctx, memNote("n1", "a1"), memChunks("n1", rewritePage+7)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutMemoryNote(ctx, memNote("n2", "a2"), memChunks("n2", 2)); err != nil {
		t.Fatal(err)
	}
	seal := func(b []byte) ([]byte, error) {
		if bytes.HasPrefix(b, []byte("S:")) || bytes.HasSuffix(b, []byte("-1")) {
			return b, nil // already sealed, or left alone to test skipping
		}
		return append([]byte("S:"), b...), nil
	}
	n, err := db.RewriteMemory(ctx, seal)
	if err != nil {
		t.Fatal(err)
	}
	total := 2 + rewritePage + 7 + 2
	if skipped := 2; n != total-skipped {
		t.Fatalf("rewrote %d rows, want %d", n, total-skipped)
	}
	for _, agent := range []string{"a1", "a2"} {
		for _, p := range chunkPayloads(t, db, agent) {
			if !strings.HasPrefix(p, "S:") && !strings.HasSuffix(p, "-1") {
				t.Errorf("chunk %q not rewritten", p)
			}
		}
		notes, _ := db.MemoryNotes(ctx, agent)
		for _, nt := range notes {
			if !bytes.HasPrefix(nt.Sealed, []byte("S:")) {
				t.Errorf("note %q not rewritten", nt.Sealed)
			}
		}
	}
	// A failing fn changes nothing.
	boom := errors.New("boom")
	if _, err := db.RewriteMemory(ctx, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	calls := 0
	_, err = db.RewriteMemory(ctx, func(b []byte) ([]byte, error) {
		calls++
		if calls == rewritePage+3 {
			return nil, boom
		}
		return []byte("X"), nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	for _, p := range chunkPayloads(t, db, "a1") {
		if p == "X" {
			t.Fatal("a failed rewrite left changes behind")
		}
	}
}
