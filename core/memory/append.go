package memory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"
)

// Append targets.
const (
	// TargetToday is today's dated note, memory/YYYY-MM-DD.md.
	TargetToday = "today"
	// TargetMemory is MEMORY.md, the long-term note.
	TargetMemory = MemoryFile
)

// Limits on what Append accepts.
const (
	maxAppendBytes  = 16 << 10
	maxSectionBytes = 200
)

// Target says where Append writes.
type Target struct {
	// File is TargetToday (the default when empty) or TargetMemory.
	File string
	// Section, when set, is the "## Section" heading the text goes under;
	// the heading is created at the end of the note when it is missing.
	Section string
}

// Append adds text to today's note (created with a "# YYYY-MM-DD" heading)
// or to MEMORY.md, under t.Section when given, writes the note atomically
// (sealed when a Sealer is set) and re-indexes it, so it is searchable when
// Append returns. A note that exists but cannot be read (sealed without a
// vault, damaged) is not overwritten.
func (m *Memory) Append(ctx context.Context, t Target, text string) error {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	section := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(t.Section), "#"))
	switch {
	case text == "":
		return errors.New("append to memory: empty text")
	case len(text) > maxAppendBytes:
		return fmt.Errorf("append to memory: the text is %d bytes, more than %d", len(text), maxAppendBytes)
	case !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		return errors.New("append to memory: the text is not valid UTF-8 text")
	case len(section) > maxSectionBytes || strings.ContainsAny(section, "\n\r\x00") || !utf8.ValidString(section):
		return fmt.Errorf("append to memory: the section must be one line of at most %d bytes", maxSectionBytes)
	}
	now := m.o.Now()
	var p string
	switch t.File {
	case "", TargetToday:
		p = NotesDir + "/" + now.Format(dateLayout) + ".md"
	case TargetMemory, "memory":
		p = MemoryFile
	default:
		return fmt.Errorf("append to memory: unknown target %q (want %q or %q)", t.File, TargetToday, TargetMemory)
	}

	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	if _, err := m.snapshot(); err != nil {
		return err
	}
	root, err := openWorkspace(m.o.Workspace)
	if err != nil {
		return err
	}
	defer root.Close()
	old, skip, err := readNote(root, m.o.Sealer, p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return fmt.Errorf("append to memory: %w", err)
	case skip != "":
		return fmt.Errorf("append to memory: %s exists but is not usable (%s); it was left as it is", p, skip)
	}
	content := string(old)
	if strings.TrimSpace(content) == "" && p != MemoryFile {
		content = "# " + now.Format(dateLayout) + "\n"
	}
	content = insertText(content, section, text)
	if len(content) > maxNoteBytes {
		return fmt.Errorf("append to memory: %s would grow past %d bytes", p, maxNoteBytes)
	}
	if err := writeNote(root, m.o.Sealer, p, []byte(content)); err != nil {
		return fmt.Errorf("append to memory: %w", err)
	}
	start := time.Now()
	s := &syncState{embedOK: m.o.Embedder != nil}
	if err := m.syncLocked(ctx, s, []string{p}); err != nil {
		return fmt.Errorf("append to memory: the note was written but not indexed: %w", err)
	}
	m.o.Logger.Debug("memory: appended", "agent", m.o.AgentID, "note", p, "took", time.Since(start))
	return nil
}

// insertText adds text as a paragraph at the end of content, or at the end
// of the section headed section (matched case-insensitively, outside code
// fences), which is created at the end when missing. The result ends with
// a newline.
func insertText(content, section, text string) string {
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(content, "\r\n", "\n"), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	block := strings.Split(text, "\n")
	pos := len(lines)
	if section != "" {
		at, depth := findSection(lines, section)
		if at < 0 {
			if len(lines) > 0 {
				lines = append(lines, "")
			}
			lines = append(lines, "## "+section)
			pos = len(lines)
		} else {
			end := len(lines)
			fence := ""
			for i := at + 1; i < len(lines); i++ {
				if fence == "" {
					if d, _, ok := parseHeading(lines[i]); ok && d <= depth {
						end = i
						break
					}
				}
				fence = trackFence(fence, lines[i])
			}
			pos = end
			for pos > at+1 && strings.TrimSpace(lines[pos-1]) == "" {
				pos--
			}
		}
	}
	out := make([]string, 0, len(lines)+len(block)+3)
	out = append(out, lines[:pos]...)
	if pos > 0 {
		out = append(out, "")
	}
	out = append(out, block...)
	if rest := lines[pos:]; len(rest) > 0 {
		if strings.TrimSpace(rest[0]) != "" {
			out = append(out, "")
		}
		out = append(out, rest...)
	}
	return strings.Join(out, "\n") + "\n"
}

// findSection returns the line index and depth of the heading titled
// section, or -1.
func findSection(lines []string, section string) (int, int) {
	fence := ""
	for i, ln := range lines {
		if fence == "" {
			if d, title, ok := parseHeading(ln); ok && strings.EqualFold(title, section) {
				return i, d
			}
		}
		fence = trackFence(fence, ln)
	}
	return -1, 0
}
