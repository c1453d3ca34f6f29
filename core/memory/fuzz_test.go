package memory

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzChunkText checks the chunker's invariants on any text: line ranges
// inside the note, non-empty trimmed texts whose lines come from their
// range, bounded sizes.
func FuzzChunkText(f *testing.F) {
	f.Add(memoryNote, 0, 0)
	f.Add(datedNote, 40, 10)
	f.Add("```\n# x\n~~~\n```\n# y\n\n\n", 32, -1)
	f.Add(strings.Repeat("a. ", 500)+"\n"+strings.Repeat("日本語", 300), 33, 5)
	f.Fuzz(func(t *testing.T, text string, target, overlap int) {
		if !utf8.ValidString(text) {
			text = strings.ToValidUTF8(text, "\uFFFD")
		}
		o := ChunkOptions{TargetTokens: target % 600, OverlapTokens: overlap % 300}
		n := o.normalised()
		lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
		for i, c := range ChunkText(text, o) {
			if c.StartLine < 1 || c.EndLine < c.StartLine || c.EndLine > len(lines) {
				t.Fatalf("chunk %d: lines %d-%d of %d", i, c.StartLine, c.EndLine, len(lines))
			}
			if c.Text == "" || c.Text != strings.TrimSpace(c.Text) {
				t.Fatalf("chunk %d: untrimmed or empty text %q", i, c.Text)
			}
			span := strings.Join(lines[c.StartLine-1:c.EndLine], "\n")
			first, _, _ := strings.Cut(c.Text, "\n")
			if !strings.Contains(span, strings.TrimSpace(first)) {
				t.Fatalf("chunk %d: %q is not in lines %d-%d", i, first, c.StartLine, c.EndLine)
			}
			// Heading lines are never cut, so only they can push a chunk
			// past the target.
			if c.Tokens > 2*n.TargetTokens && !strings.Contains(c.Text, "#") {
				t.Fatalf("chunk %d: %d tokens for a target of %d", i, c.Tokens, n.TargetTokens)
			}
		}
	})
}

// FuzzDecodePayload feeds arbitrary bytes to the row decoders (a damaged or
// forged row): they must fail cleanly or return a payload that survives an
// encode/decode round trip.
func FuzzDecodePayload(f *testing.F) {
	f.Add(notePayload{Path: "MEMORY.md", Size: 10, Chunker: "v1/400/80"}.encode())
	f.Add(chunkPayload{NoteID: "n", Text: "hello", StartLine: 1, EndLine: 2, Model: "m", Vector: []float32{0.6, 0.8}}.encode())
	f.Add([]byte("C\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodeNote(b); err == nil {
			if q, err := decodeNote(p.encode()); err != nil || !reflect.DeepEqual(p, q) {
				t.Fatalf("note payload does not round-trip: %v", err)
			}
		}
		if p, err := decodeChunk(b); err == nil {
			if q, err := decodeChunk(p.encode()); err != nil || !reflect.DeepEqual(p, q) {
				t.Fatalf("chunk payload does not round-trip: %v", err)
			}
		}
	})
}

// FuzzReadNote reads arbitrary file content as a note (plaintext or
// something that looks sealed, with no vault) and chunks it.
func FuzzReadNote(f *testing.F) {
	f.Add([]byte(memoryNote))
	f.Add([]byte("NYXENC1\n{}"))
	f.Add([]byte("caf\xe9\x00"))
	f.Add([]byte(`{"salt":"00","iv":"00","tag":"00","data":""}`))
	dir := f.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = root.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, MemoryFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		plain, skip, err := readNote(root, nil, MemoryFile)
		switch {
		case err != nil:
			t.Fatalf("readNote: %v", err)
		case skip != "":
			return
		case !utf8.Valid(plain):
			t.Fatal("readNote returned invalid UTF-8")
		}
		_ = ChunkText(string(plain), ChunkOptions{})
	})
}

// FuzzSnapReader feeds arbitrary bytes to the reader of the index
// snapshot's piece framing (a plain file: the sealed form adds only the
// vault's envelope check): it must end with data or an error, never panic
// or allocate past the file's size.
func FuzzSnapReader(f *testing.F) {
	// A real two-piece plain file as a seed.
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.idx")
	w, err := newSnapWriter(path, nil, func() error { return nil })
	if err != nil {
		f.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte("snapshot data "), 100))
	if err := w.commit(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed[len(snapMagic)+1:])
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newSnapReader(bytes.NewReader(data), int64(len(data)), nil)
		out, err := io.ReadAll(io.LimitReader(r, 1<<24))
		if err == nil && len(out) > len(data) {
			t.Fatalf("read %d bytes out of a %d-byte file", len(out), len(data))
		}
	})
}
