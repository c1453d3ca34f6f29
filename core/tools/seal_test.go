package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/vault"
)

// marker is a string that must never appear in the bytes on disk.
const marker = "milk-and-honey-7731"

func newVault(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := vault.Create(t.TempDir(), []byte("pass"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// runTool runs a built-in tool and returns its internal error too.
func runTool(t *testing.T, o BuiltinOptions, ws, name, args string) (Result, error) {
	t.Helper()
	return builtin(t, o, name).Run(context.Background(), Env{Workspace: ws, AgentID: "a1"}, json.RawMessage(args))
}

// rawSealed reads path and fails unless it is sealed and free of marker.
func rawSealed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !vault.IsSealed(raw) || bytes.Contains(raw, []byte(marker)) {
		t.Fatalf("%s is not sealed on disk: %q", filepath.Base(path), raw)
	}
	return raw
}

func TestSealedWriteReadEdit(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	o := BuiltinOptions{Sealer: newVault(t)}
	text := "first " + marker + "\nsecond\nthird\n"
	if res := callWith(t, o, ws, "write", jsonArgs(t, map[string]any{"path": "notes/a.md", "content": text})); res.IsError {
		t.Fatalf("write: %q", res.Content)
	}
	rawSealed(t, filepath.Join(ws, "notes", "a.md"))
	writeFile(t, filepath.Join(ws, "dropped.txt"), "the user put this here\n")
	if res := callWith(t, o, ws, "write", `{"path":"empty.md","content":""}`); res.IsError {
		t.Fatalf("write empty: %q", res.Content)
	}
	if res := callWith(t, o, ws, "write", `{"path":"bin.md","content":"a\u0000b"}`); res.IsError {
		t.Fatalf("write binary: %q", res.Content)
	}

	reads := []struct {
		name    string
		max     int
		args    map[string]any
		want    string
		wantErr bool
	}{
		{name: "whole", args: map[string]any{"path": "notes/a.md"}, want: text},
		{name: "paged on plaintext lines", args: map[string]any{"path": "notes/a.md", "offset": 2, "limit": 1},
			want: "second\n[showing lines 2-2; more lines follow, call read with offset=3 to continue]"},
		{name: "byte cap on plaintext", max: 8, args: map[string]any{"path": "notes/a.md"},
			want: "first mi\n[truncated: line 1 alone is longer than the 8-byte cap; only its start is shown]"},
		{name: "plaintext file", args: map[string]any{"path": "dropped.txt"}, want: "the user put this here\n"},
		{name: "sealed empty file", args: map[string]any{"path": "empty.md"}, want: "(empty file)"},
		{name: "sealed binary", args: map[string]any{"path": "bin.md"}, want: "looks like a binary file", wantErr: true},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			res := callWith(t, BuiltinOptions{Sealer: o.Sealer, ReadMaxBytes: tt.max}, ws, "read", jsonArgs(t, tt.args))
			if res.IsError != tt.wantErr || !strings.Contains(res.Content, tt.want) || (!tt.wantErr && res.Content != tt.want) {
				t.Fatalf("read = %+v, want %q (error %v)", res, tt.want, tt.wantErr)
			}
		})
	}

	res := callWith(t, o, ws, "edit", jsonArgs(t, map[string]any{"path": "notes/a.md", "oldText": "second", "newText": "2nd"}))
	if res.IsError {
		t.Fatalf("edit: %q", res.Content)
	}
	rawSealed(t, filepath.Join(ws, "notes", "a.md"))
	if res := callWith(t, o, ws, "read", `{"path":"notes/a.md"}`); res.Content != "first "+marker+"\n2nd\nthird\n" {
		t.Fatalf("read after edit = %q", res.Content)
	}

	// Editing a plaintext file with a sealer set leaves it sealed.
	res = callWith(t, o, ws, "edit", jsonArgs(t, map[string]any{"path": "dropped.txt", "oldText": "the user", "newText": marker}))
	if res.IsError {
		t.Fatalf("edit plaintext: %q", res.Content)
	}
	rawSealed(t, filepath.Join(ws, "dropped.txt"))
	if res := callWith(t, o, ws, "read", `{"path":"dropped.txt"}`); res.Content != marker+" put this here\n" {
		t.Fatalf("read after edit = %q", res.Content)
	}
}

func TestSealedLockedVault(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	v := newVault(t)
	o := BuiltinOptions{Sealer: v}
	if res := callWith(t, o, ws, "write", jsonArgs(t, map[string]any{"path": "a.md", "content": marker})); res.IsError {
		t.Fatalf("write: %q", res.Content)
	}
	writeFile(t, filepath.Join(ws, "plain.txt"), "still here\n")
	before := rawSealed(t, filepath.Join(ws, "a.md"))
	v.Lock()

	calls := []struct{ name, tool, args string }{
		{"read", "read", `{"path":"a.md"}`},
		{"write over sealed", "write", jsonArgs(t, map[string]any{"path": "a.md", "content": "replaced"})},
		{"write new", "write", `{"path":"new.md","content":"x"}`},
		{"edit sealed", "edit", jsonArgs(t, map[string]any{"path": "a.md", "oldText": marker, "newText": "x"})},
		{"edit plaintext", "edit", `{"path":"plain.txt","oldText":"still","newText":"gone"}`},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			_, err := runTool(t, o, ws, c.tool, c.args)
			if !errors.Is(err, vault.ErrLocked) || !strings.Contains(err.Error(), "vault is locked") {
				t.Fatalf("%s: err = %v, want vault.ErrLocked", c.tool, err)
			}
			if c.tool == "read" && !strings.Contains(err.Error(), `"a.md"`) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if after, _ := os.ReadFile(filepath.Join(ws, "a.md")); !bytes.Equal(after, before) {
		t.Error("a refused write changed the file")
	}
	if got := readBack(t, filepath.Join(ws, "plain.txt")); got != "still here\n" {
		t.Errorf("a refused edit changed plain.txt: %q", got)
	}
	entries, _ := os.ReadDir(ws)
	if len(entries) != 2 {
		t.Errorf("workspace holds %d entries after refused writes, want 2 (no new or temp files)", len(entries))
	}
	// A plaintext file needs no key.
	if res := callWith(t, o, ws, "read", `{"path":"plain.txt"}`); res.IsError || res.Content != "still here\n" {
		t.Fatalf("read plaintext while locked = %+v", res)
	}
}

func TestSealedFileForms(t *testing.T) {
	t.Parallel()
	ws := newWorkspace(t)
	v := newVault(t)
	long := strings.Repeat(marker+" padding the plaintext\n", 400) // past the binary sniff window once sealed
	sealed, err := v.SealFile([]byte(long))
	if err != nil {
		t.Fatal(err)
	}
	// GenosOS's bare object form: the envelope without its magic line.
	bare, ok := bytes.CutPrefix(sealed, []byte("NYXENC1\n"))
	if !ok {
		t.Fatalf("file form does not start with the magic line: %q", sealed[:16])
	}
	writeFile(t, filepath.Join(ws, "bare.md"), string(bare))
	writeFile(t, filepath.Join(ws, "sealed.md"), string(sealed))
	bigJSON := `{"items":[` + strings.Repeat(`"x",`, 3000) + `"y"]}`
	writeFile(t, filepath.Join(ws, "big.json"), bigJSON)
	writeFile(t, filepath.Join(ws, "broken.md"), "NYXENC1\n{\"salt\":\"00\"}")

	tests := []struct {
		name    string
		sealer  Sealer
		path    string
		want    string
		wantErr bool
	}{
		{name: "file form", sealer: v, path: "sealed.md", want: long},
		{name: "bare object form", sealer: v, path: "bare.md", want: long},
		{name: "large plaintext json", sealer: v, path: "big.json", want: bigJSON},
		{name: "damaged envelope", sealer: v, path: "broken.md", want: `"broken.md" is sealed but could not be opened`, wantErr: true},
		{name: "sealed without a vault", path: "sealed.md", want: `"sealed.md" is sealed by the vault`, wantErr: true},
		{name: "plaintext without a vault", path: "big.json", want: bigJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := callWith(t, BuiltinOptions{Sealer: tt.sealer, ReadMaxBytes: 1 << 20}, ws, "read", jsonArgs(t, map[string]any{"path": tt.path}))
			if res.IsError != tt.wantErr || !strings.Contains(res.Content, tt.want) || (!tt.wantErr && res.Content != tt.want) {
				t.Fatalf("read = IsError %v, content %.120q; want %.120q", res.IsError, res.Content, tt.want)
			}
		})
	}
	res := callWith(t, BuiltinOptions{}, ws, "edit", `{"path":"sealed.md","oldText":"a","newText":"b"}`)
	if !res.IsError || !strings.Contains(res.Content, "is sealed by the vault") {
		t.Fatalf("edit of a sealed file without a vault = %+v", res)
	}
}
