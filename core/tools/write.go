package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// editMaxBytes bounds the files edit loads into memory; larger files are
// rarely hand-edited text and can still be changed through exec.
const editMaxBytes = 16 << 20

type writeArgs struct {
	Path    *string `json:"path"`
	Content *string `json:"content"`
}

// writeTool writes workspace files, sealed with sealer when it is set.
func writeTool(sealer Sealer) Tool {
	return Tool{
		Name: "write",
		Description: "Create or overwrite a file in the workspace with the given content. " +
			"Parent directories are created as needed. Prefer edit for changing part of an existing file.",
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"File path, relative to the workspace or absolute inside it."},` +
			`"content":{"type":"string","description":"The complete new content of the file."}` +
			`},"required":["path","content"],"additionalProperties":false}`),
		Category: CategoryWrite,
		Run: func(ctx context.Context, env Env, raw json.RawMessage) (Result, error) {
			var a writeArgs
			if msg := decodeArgs("write", raw, &a); msg != "" {
				return Result{Content: msg, IsError: true}, nil
			}
			switch {
			case a.Path == nil || *a.Path == "":
				return errorResult("invalid arguments for write: path is required"), nil
			case a.Content == nil:
				return errorResult("invalid arguments for write: content is required (use \"\" for an empty file)"), nil
			}
			t, msg, err := openTarget(env, *a.Path)
			if err != nil || msg != "" {
				return Result{Content: msg, IsError: true}, err
			}
			defer t.root.Close()
			if r, ok := checkWritable(t); !ok {
				return r, nil
			}
			data, err := sealContent(sealer, t.display, []byte(*a.Content))
			if err != nil {
				return Result{}, err
			}
			if dir := filepath.Dir(t.rel); dir != "." {
				if err := t.root.MkdirAll(dir, 0o755); err != nil {
					return errorResult("cannot create the parent directory of %q: %s", t.display, fsMessage(dir, err)), nil
				}
			}
			if err := writeAtomic(t.root, t.rel, data, 0o644); err != nil {
				return Result{Content: fsMessage(t.display, err), IsError: true}, nil
			}
			return Result{Content: fmt.Sprintf("Wrote %d bytes to %s", len(*a.Content), t.display)}, nil
		},
	}
}

// checkWritable refuses targets that exist but are not regular files.
func checkWritable(t wsTarget) (Result, bool) {
	fi, err := t.root.Stat(t.rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Result{}, true
	case err != nil:
		return Result{Content: fsMessage(t.display, err), IsError: true}, false
	case fi.IsDir():
		return errorResult("%q is a directory", t.display), false
	case !fi.Mode().IsRegular():
		return errorResult("%q is not a regular file", t.display), false
	}
	return Result{}, true
}

type editArgs struct {
	Path       string  `json:"path"`
	OldText    *string `json:"oldText"`
	NewText    *string `json:"newText"`
	ReplaceAll bool    `json:"replaceAll"`
}

// editTool edits workspace files: sealed ones are opened with sealer and
// the result is sealed again; with a sealer set, a plaintext file comes out
// sealed too.
func editTool(sealer Sealer) Tool {
	return Tool{
		Name: "edit",
		Description: "Replace exact text in an existing workspace file. oldText must match the file exactly " +
			"(including whitespace and indentation) and occur exactly once, unless replaceAll is true. " +
			"Include enough surrounding lines in oldText to make it unique.",
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"File path, relative to the workspace or absolute inside it."},` +
			`"oldText":{"type":"string","description":"Exact text to find."},` +
			`"newText":{"type":"string","description":"Replacement text."},` +
			`"replaceAll":{"type":"boolean","description":"Replace every occurrence instead of requiring exactly one (default false)."}` +
			`},"required":["path","oldText","newText"],"additionalProperties":false}`),
		Category: CategoryWrite,
		Run: func(ctx context.Context, env Env, raw json.RawMessage) (Result, error) {
			var a editArgs
			if msg := decodeArgs("edit", raw, &a); msg != "" {
				return Result{Content: msg, IsError: true}, nil
			}
			switch {
			case a.Path == "":
				return errorResult("invalid arguments for edit: path is required"), nil
			case a.OldText == nil || *a.OldText == "":
				return errorResult("invalid arguments for edit: oldText is required and must not be empty"), nil
			case a.NewText == nil:
				return errorResult("invalid arguments for edit: newText is required (use \"\" to delete oldText)"), nil
			case *a.OldText == *a.NewText:
				return errorResult("invalid arguments for edit: oldText and newText are identical, nothing to change"), nil
			}
			return runEdit(env, a, sealer)
		},
	}
}

func runEdit(env Env, a editArgs, sealer Sealer) (Result, error) {
	t, msg, err := openTarget(env, a.Path)
	if err != nil || msg != "" {
		return Result{Content: msg, IsError: true}, err
	}
	defer t.root.Close()
	fi, err := t.root.Stat(t.rel)
	switch {
	case err != nil:
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	case fi.IsDir():
		return errorResult("%q is a directory", t.display), nil
	case !fi.Mode().IsRegular():
		return errorResult("%q is not a regular file", t.display), nil
	case fi.Size() > sealedMaxBytes:
		return errorResult("%q is %d bytes, larger than the %d bytes edit handles", t.display, fi.Size(), editMaxBytes), nil
	}
	raw, err := t.root.ReadFile(t.rel)
	if err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	// The size limit is on the plaintext; the stat above only bounds what
	// is loaded to find it (a sealed file is larger than its plaintext).
	data, msg, err := openContent(sealer, t.display, raw)
	switch {
	case err != nil || msg != "":
		return Result{Content: msg, IsError: true}, err
	case len(data) > editMaxBytes:
		return errorResult("%q is %d bytes, larger than the %d bytes edit handles", t.display, len(data), editMaxBytes), nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return errorResult("%q looks like a binary file (it contains NUL bytes); edit only changes text", t.display), nil
	}
	content := string(data)
	n := strings.Count(content, *a.OldText)
	switch {
	case n == 0:
		return errorResult("oldText was not found in %q; read the file and copy the text exactly, including whitespace", t.display), nil
	case n > 1 && !a.ReplaceAll:
		return errorResult("oldText occurs %d times in %q; include more surrounding text to make it unique, or set replaceAll to true", n, t.display), nil
	}
	updated, err := sealContent(sealer, t.display, []byte(strings.Replace(content, *a.OldText, *a.NewText, n)))
	if err != nil {
		return Result{}, err
	}
	if err := writeAtomic(t.root, t.rel, updated, fi.Mode().Perm()); err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	return Result{Content: fmt.Sprintf("Replaced %d occurrence(s) in %s", n, t.display)}, nil
}
