package memory

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/genos-project/genos/core/tokens"
)

// Chunking defaults (see ChunkOptions).
const (
	DefaultChunkTokens   = 400
	DefaultOverlapTokens = 80
	minChunkTokens       = 32
	maxChunkTokens       = 8192
)

// ChunkOptions size the chunks ChunkText cuts. The zero value gives the
// defaults.
type ChunkOptions struct {
	// TargetTokens is the most a chunk should cost (tokens.Estimate); 0 means
	// 400. It is clamped to 32..8192.
	TargetTokens int
	// OverlapTokens is how much of the end of a chunk is repeated at the
	// start of the next one cut from the same section, so a fact spanning
	// the cut is whole in at least one chunk; 0 means 80, negative means
	// none. It is capped at half the target.
	OverlapTokens int
}

func (o ChunkOptions) normalised() ChunkOptions {
	if o.TargetTokens == 0 {
		o.TargetTokens = DefaultChunkTokens
	}
	o.TargetTokens = min(max(o.TargetTokens, minChunkTokens), maxChunkTokens)
	switch {
	case o.OverlapTokens == 0:
		o.OverlapTokens = DefaultOverlapTokens
	case o.OverlapTokens < 0:
		o.OverlapTokens = 0
	}
	o.OverlapTokens = min(o.OverlapTokens, o.TargetTokens/2)
	return o
}

// Chunk is one searchable piece of a note.
type Chunk struct {
	// Text is the note's text from StartLine to EndLine, trimmed; when a
	// single overlong line had to be cut, only the part of it in this chunk.
	Text string
	// StartLine and EndLine are 1-based and inclusive.
	StartLine, EndLine int
	// Headings is the path of Markdown headings the chunk sits under,
	// outermost first, without the '#' marks; the chunk's own section
	// heading is last.
	Headings []string
	// Tokens is tokens.Estimate(Text).
	Tokens int
}

// Context returns the heading path as one line ("Travel > Japan"), the
// context that makes a chunk understandable on its own.
func (c Chunk) Context() string { return strings.Join(c.Headings, " > ") }

// unit is the smallest thing the packer moves: a line, or a piece of an
// overlong line.
type unit struct {
	text      string
	line      int // 1-based
	tokens    int
	blank     bool
	paraStart bool // first unit of a paragraph (or of a heading line)
	cont      bool // continues the previous unit's line (a piece of one line)
}

// section is a heading and the lines under it up to the next heading.
type section struct {
	headings []string
	units    []unit
	content  bool // holds something besides its heading line and blanks
}

// ChunkText cuts a Markdown note into chunks of about o.TargetTokens.
//
// It splits at ATX headings first ("# ...", outside fenced code blocks): a
// chunk never spans two sections, and a section holding only its heading
// yields no chunk (its title is in the heading path of the sections below
// it). A section too long for one chunk is packed line by line, cutting
// preferably at a paragraph break (a blank line) once the chunk is half
// full; a single line longer than the target is cut at sentence ends, then
// between words, then (a run without spaces) every TargetTokens runes.
// Consecutive chunks of one section overlap by up to o.OverlapTokens of
// whole lines (or line pieces). Line endings may be "\n" or "\r\n".
func ChunkText(text string, o ChunkOptions) []Chunk {
	o = o.normalised()
	var out []Chunk
	for _, s := range splitSections(text, o.TargetTokens) {
		if !s.content {
			continue
		}
		out = packSection(out, s, o)
	}
	return out
}

// splitSections splits text into sections and each line into units.
func splitSections(text string, target int) []section {
	lines := strings.Split(text, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1] // the final newline does not start a line
	}
	type level struct {
		depth int
		title string
	}
	var (
		stack    []level
		out      []section
		cur      section
		fence    string // the open code fence marker, "" outside one
		prevDone = true // the previous line ended a paragraph
	)
	flush := func() {
		if len(cur.units) > 0 {
			out = append(out, cur)
		}
	}
	for i, ln := range lines {
		ln = strings.TrimSuffix(ln, "\r")
		num := i + 1
		if fence == "" {
			// A heading too long to fit a chunk is read as text, so it
			// can be cut like any other line.
			if depth, title, ok := parseHeading(ln); ok && cost(ln) < target {
				flush()
				for len(stack) > 0 && stack[len(stack)-1].depth >= depth {
					stack = stack[:len(stack)-1]
				}
				stack = append(stack, level{depth, title})
				hs := make([]string, len(stack))
				for j, l := range stack {
					hs[j] = l.title
				}
				cur = section{headings: hs}
				cur.units = append(cur.units, unit{text: ln, line: num, tokens: cost(ln) + 1, paraStart: true})
				prevDone = true
				continue
			}
		}
		fence = trackFence(fence, ln)
		if strings.TrimSpace(ln) == "" {
			cur.units = append(cur.units, unit{line: num, blank: true})
			prevDone = true
			continue
		}
		cur.content = true
		for j, piece := range splitLine(ln, target-1) {
			u := unit{text: piece, line: num, tokens: cost(piece), paraStart: prevDone && j == 0, cont: j > 0}
			if j == 0 {
				u.tokens++ // the line break before it
			}
			cur.units = append(cur.units, u)
		}
		prevDone = false
	}
	flush()
	return out
}

// parseHeading recognises an ATX heading: up to three spaces, 1-6 '#', then
// a space or the end of the line. The optional closing '#' run is dropped.
func parseHeading(ln string) (depth int, title string, ok bool) {
	s := ln
	for i := 0; i < 3 && strings.HasPrefix(s, " "); i++ {
		s = s[1:]
	}
	for depth < len(s) && s[depth] == '#' {
		depth++
	}
	if depth == 0 || depth > 6 {
		return 0, "", false
	}
	rest := s[depth:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return 0, "", false
	}
	rest = strings.TrimSpace(rest)
	if t := strings.TrimRight(rest, "#"); t == "" || strings.HasSuffix(t, " ") || strings.HasSuffix(t, "\t") {
		rest = strings.TrimSpace(t)
	}
	return depth, rest, true
}

// fenceMarker returns the ``` or ~~~ run opening ln (after up to three
// spaces), or "".
func fenceMarker(ln string) string {
	s := strings.TrimLeft(ln, " ")
	if len(ln)-len(s) > 3 || len(s) < 3 || (s[0] != '`' && s[0] != '~') {
		return ""
	}
	n := 0
	for n < len(s) && s[n] == s[0] {
		n++
	}
	if n < 3 {
		return ""
	}
	return s[:n]
}

// bytesPerToken bounds a chunk's size in bytes as well as in tokens: the
// estimate charges one token for a whole run of spaces, so without it a
// line padded with whitespace could make a chunk of any size.
const bytesPerToken = 8

// cost is what a piece of text counts against the chunk target: its token
// estimate, or its length over bytesPerToken if that is more.
func cost(s string) int { return max(tokens.Estimate(s), len(s)/bytesPerToken) }

// splitLine returns ln whole when it fits in target tokens, and otherwise
// pieces that do and that concatenate back to ln: sentences, then words,
// then runs of target runes.
func splitLine(ln string, target int) []string {
	if cost(ln) <= target {
		return []string{ln}
	}
	var out []string
	for _, sent := range splitAfter(ln, isSentenceEnd) {
		if cost(sent) <= target {
			out = appendPacked(out, sent, target)
			continue
		}
		for _, w := range splitAfter(sent, func(_, prev, next rune) bool { return unicode.IsSpace(prev) && !unicode.IsSpace(next) }) {
			if cost(w) <= target {
				out = appendPacked(out, w, target)
				continue
			}
			for len(w) > 0 {
				cut := runeOffset(w, target)
				out = append(out, w[:cut])
				w = w[cut:]
			}
		}
	}
	return out
}

// appendPacked appends s to the last piece of out when the two still fit
// in target, so sentence and word splitting yield few, full pieces.
func appendPacked(out []string, s string, target int) []string {
	if n := len(out); n > 0 && cost(out[n-1]+s) <= target {
		out[n-1] += s
		return out
	}
	return append(out, s)
}

// splitAfter cuts s between runes prev and next wherever cut(last, prev,
// next) holds, last being the last non-space rune before next. The pieces
// concatenate back to s.
func splitAfter(s string, cut func(last, prev, next rune) bool) []string {
	var out []string
	start := 0
	prev, last := rune(-1), rune(-1)
	for i, r := range s {
		if prev >= 0 && cut(last, prev, r) {
			out = append(out, s[start:i])
			start = i
		}
		prev = r
		if !unicode.IsSpace(r) {
			last = r
		}
	}
	return append(out, s[start:])
}

// isSentenceEnd reports a cut between prev and next, where last is the
// last non-space rune before next: after CJK full stops, and at the start
// of a word that follows ".", "!", "?" or "…" and a space.
func isSentenceEnd(last, prev, next rune) bool {
	switch prev {
	case '。', '！', '？':
		return true
	}
	if !unicode.IsSpace(prev) || unicode.IsSpace(next) {
		return false
	}
	switch last {
	case '.', '!', '?', '…':
		return true
	}
	return false
}

// runeOffset returns the byte offset after n runes of s (len(s) if it has
// fewer); at least one rune.
func runeOffset(s string, n int) int {
	i := 0
	for k := 0; k < max(n, 1) && i < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// packSection appends the chunks of s to out.
func packSection(out []Chunk, s section, o ChunkOptions) []Chunk {
	var (
		cur      []unit
		curTok   int
		overlap  int // leading units of cur repeated from the previous chunk
		fresh    = func() bool { return hasContent(cur[overlap:]) }
		retotal  = func() { curTok = sumTokens(cur) }
		emitUpTo = func(cut int) {
			out = appendChunk(out, cur[:cut], s.headings)
			tail := overlapTail(cur[:cut], o.OverlapTokens)
			cur = append(tail, cur[cut:]...)
			overlap = len(tail)
			retotal()
		}
	)
	for _, u := range s.units {
		if u.blank && len(cur) == 0 {
			continue
		}
		for curTok+u.tokens > o.TargetTokens && len(cur) > 0 && fresh() {
			emitUpTo(cutPoint(cur, overlap, o.TargetTokens))
			if curTok+u.tokens > o.TargetTokens && !fresh() {
				cur, overlap, curTok = nil, 0, 0 // the overlap alone does not fit with u
			}
		}
		if u.blank && len(cur) == 0 {
			continue
		}
		cur = append(cur, u)
		curTok += u.tokens
	}
	if len(cur) > 0 && fresh() {
		out = appendChunk(out, cur, s.headings)
	}
	return out
}

// cutPoint picks where to end the chunk being packed: at the last
// paragraph start that leaves it at least half full, else after all of cur.
func cutPoint(cur []unit, overlap, target int) int {
	for p := len(cur) - 1; p > overlap; p-- {
		if cur[p].paraStart && hasContent(cur[overlap:p]) && sumTokens(cur[:p]) >= target/2 {
			return p
		}
	}
	return len(cur)
}

// overlapTail returns copies of the trailing units of chunk worth at most
// limit tokens, never all of it (the next chunk must move on), without
// leading blanks.
func overlapTail(chunk []unit, limit int) []unit {
	if limit <= 0 {
		return nil
	}
	start, tok := len(chunk), 0
	for i := len(chunk) - 1; i >= 1; i-- {
		if tok+chunk[i].tokens > limit {
			break
		}
		tok += chunk[i].tokens
		start = i
	}
	for start < len(chunk) && chunk[start].blank {
		start++
	}
	return append([]unit(nil), chunk[start:]...)
}

func hasContent(us []unit) bool {
	for _, u := range us {
		if !u.blank {
			return true
		}
	}
	return false
}

func sumTokens(us []unit) int {
	n := 0
	for _, u := range us {
		n += u.tokens
	}
	return n
}

// appendChunk renders units (trimmed of blank units at both ends) as one
// chunk.
func appendChunk(out []Chunk, us []unit, headings []string) []Chunk {
	for len(us) > 0 && us[0].blank {
		us = us[1:]
	}
	for len(us) > 0 && us[len(us)-1].blank {
		us = us[:len(us)-1]
	}
	if len(us) == 0 {
		return out
	}
	var b strings.Builder
	for i, u := range us {
		if i > 0 && !(u.cont && us[i-1].line == u.line) {
			b.WriteByte('\n')
		}
		b.WriteString(u.text)
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return out
	}
	return append(out, Chunk{
		Text:      text,
		StartLine: us[0].line,
		EndLine:   us[len(us)-1].line,
		Headings:  headings,
		Tokens:    tokens.Estimate(text),
	})
}

// trackFence returns the open code fence after line ln, given the one open
// before it.
func trackFence(fence, ln string) string {
	m := fenceMarker(ln)
	switch {
	case m == "":
		return fence
	case fence == "":
		return m
	case m[0] == fence[0] && len(m) >= len(fence):
		return ""
	}
	return fence
}
