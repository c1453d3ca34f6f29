package tools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// binarySniffLen is how much of a file is checked for NUL bytes, the same
// heuristic git uses to call a file binary.
const binarySniffLen = 8000

type readArgs struct {
	Path   string `json:"path"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
}

// readTool reads workspace files, opening sealed ones with sealer (nil:
// none can be opened).
func readTool(maxBytes int, sealer Sealer) Tool {
	return Tool{
		Name: "read",
		Description: "Read a text file from the workspace. Returns the file content as is. " +
			"Use offset (1-based first line) and limit (number of lines) to page through large files; " +
			fmt.Sprintf("output is capped at %d bytes and says where to continue when truncated.", maxBytes),
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"File path, relative to the workspace or absolute inside it."},` +
			`"offset":{"type":"integer","minimum":1,"description":"1-based line number to start at (default 1)."},` +
			`"limit":{"type":"integer","minimum":1,"description":"Maximum number of lines to return (default: all, up to the byte cap)."}` +
			`},"required":["path"],"additionalProperties":false}`),
		Category: CategoryRead,
		Run: func(ctx context.Context, env Env, raw json.RawMessage) (Result, error) {
			var a readArgs
			if msg := decodeArgs("read", raw, &a); msg != "" {
				return Result{Content: msg, IsError: true}, nil
			}
			switch {
			case a.Path == "":
				return errorResult("invalid arguments for read: path is required"), nil
			case a.Offset < 0:
				return errorResult("invalid arguments for read: offset must be 1 or more, got %d", a.Offset), nil
			case a.Limit < 0:
				return errorResult("invalid arguments for read: limit must be 1 or more, got %d", a.Limit), nil
			}
			if a.Offset == 0 {
				a.Offset = 1
			}
			return runRead(ctx, env, a, maxBytes, sealer)
		},
	}
}

func runRead(ctx context.Context, env Env, a readArgs, maxBytes int, sealer Sealer) (Result, error) {
	t, msg, err := openTarget(env, a.Path)
	if err != nil || msg != "" {
		return Result{Content: msg, IsError: true}, err
	}
	defer t.root.Close()
	// Stat before opening: opening a FIFO would block until a writer shows up.
	fi, err := t.root.Stat(t.rel)
	if err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	if fi.IsDir() {
		return errorResult("%q is a directory; use ls to list it", t.display), nil
	}
	if !fi.Mode().IsRegular() {
		return errorResult("%q is not a regular file", t.display), nil
	}
	f, err := t.root.Open(t.rel)
	if err != nil {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	defer f.Close()
	if fi.Size() == 0 {
		return Result{Content: "(empty file)"}, nil
	}

	br, msg, err := plaintextReader(bufio.NewReaderSize(f, 64<<10), fi.Size(), sealer, t.display)
	if err != nil || msg != "" {
		return Result{Content: msg, IsError: true}, err
	}
	// From here on br yields plaintext, so the binary check, the line
	// paging and the byte cap all apply to what the model sees.
	head, err := br.Peek(binarySniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return Result{Content: fsMessage(t.display, err), IsError: true}, nil
	}
	if len(head) == 0 {
		return Result{Content: "(empty file)"}, nil // a sealed empty file
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return errorResult("%q looks like a binary file (it contains NUL bytes); read only returns text", t.display), nil
	}

	// Skip to the first requested line.
	line := 1
	for line < a.Offset {
		complete, err := skipLine(br)
		if errors.Is(err, io.EOF) && !complete {
			return errorResult("offset %d is past the end of %q, which has %d lines", a.Offset, t.display, line-1), nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Result{Content: fsMessage(t.display, err), IsError: true}, nil
		}
		line++
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
	}
	return collectLines(br, t.display, a, maxBytes)
}

// collectLines reads up to a.Limit lines (0 = no limit) without going over
// maxBytes and appends a note telling the model how to continue.
func collectLines(br *bufio.Reader, display string, a readArgs, maxBytes int) (Result, error) {
	var out bytes.Buffer
	line := a.Offset // the line being read
	shown := 0       // complete lines written
	inLine := false  // part of the current line has been written
	capped, atEOF := false, false
	for a.Limit == 0 || shown < a.Limit {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			room := maxBytes - out.Len()
			if len(chunk) > room {
				out.Write(trimToRune(chunk[:room]))
				capped = true
				break
			}
			out.Write(chunk)
			inLine = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // the same long line goes on
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Result{Content: fsMessage(display, err), IsError: true}, nil
		}
		if inLine {
			shown++
			line++
			inLine = false
		}
		if err != nil { // io.EOF
			atEOF = true
			break
		}
	}
	if !capped && !atEOF {
		// Stopped at the line limit: is there anything after it?
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			atEOF = true
		}
	}
	if out.Len() == 0 && atEOF {
		return errorResult("offset %d is past the end of %q", a.Offset, display), nil
	}
	switch {
	case capped && shown == 0:
		endLine(&out)
		fmt.Fprintf(&out, "[truncated: line %d alone is longer than the %d-byte cap; only its start is shown]", line, maxBytes)
	case capped:
		endLine(&out)
		fmt.Fprintf(&out, "[truncated: output reached the %d-byte cap in line %d; call read with offset=%d to continue]", maxBytes, line, line)
	case !atEOF:
		endLine(&out)
		fmt.Fprintf(&out, "[showing lines %d-%d; more lines follow, call read with offset=%d to continue]", a.Offset, line-1, line)
	}
	return Result{Content: out.String()}, nil
}

// skipLine consumes one line and reports whether anything was read.
func skipLine(br *bufio.Reader) (bool, error) {
	read := false
	for {
		chunk, err := br.ReadSlice('\n')
		read = read || len(chunk) > 0
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return read, err
	}
}

// trimToRune drops a trailing partial UTF-8 sequence left by a byte cut.
func trimToRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		r, size := utf8.DecodeLastRune(b)
		if r != utf8.RuneError || size > 1 {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}

func endLine(b *bytes.Buffer) {
	if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
}
