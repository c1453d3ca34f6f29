package channels

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file parses the Markdown subset models write into blocks (one per
// line or group of lines) and inline nodes. It is deliberately simpler than
// CommonMark: every line is classified on its own (no lazy continuation, no
// indented code), so a piece cut at any line boundary parses the same way
// it did inside the whole reply. The parser never fails: anything it does
// not recognise is text.

// normalize makes input safe to parse and to send: valid UTF-8, "\n" line
// ends, no control characters but tab and newline.
func normalize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			b.WriteByte('\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f:
			// dropped
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type blockKind uint8

const (
	blockPara blockKind = iota
	blockHeading
	blockQuote
	blockItem
	blockFence
	blockRule
)

// seg is one line of a block's inline content: text starts at source
// offset src.
type seg struct {
	src  int
	text string
}

// block is a run of source lines rendered together.
type block struct {
	kind       blockKind
	start, end int  // source range, whole lines (end after the last '\n' if any)
	blankAfter bool // one or more blank lines follow before the next block
	level      int  // list nesting
	marker     string
	segs       []seg // inline content (not fences)

	// Fences.
	openLine     string // opening fence line as written, without newline
	closer       string // fence run that closes it ("```", "~~~~")
	lang         string // sanitised language, "" if none or unsafe
	contentStart int    // first byte of the code
	contentEnd   int    // byte after the code (start of the closing line)
	code         string // code with the fence's indentation removed
}

// inline returns the block's inline text, lines joined by '\n'.
func (b *block) inline() string {
	if len(b.segs) == 1 {
		return b.segs[0].text
	}
	n := 0
	for _, s := range b.segs {
		n += len(s.text) + 1
	}
	var sb strings.Builder
	sb.Grow(n)
	for i, s := range b.segs {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(s.text)
	}
	return sb.String()
}

// srcOffset maps an offset in b.inline() to a source offset.
func (b *block) srcOffset(off int) int {
	for _, s := range b.segs {
		if off <= len(s.text) {
			return s.src + off
		}
		off -= len(s.text) + 1
	}
	last := b.segs[len(b.segs)-1]
	return last.src + len(last.text)
}

// line is one source line: [start, end) without its newline; next is where
// the following line starts.
type line struct {
	start, end, next int
}

func splitLines(s string) []line {
	var ls []line
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			ls = append(ls, line{i, len(s), len(s)})
			break
		}
		ls = append(ls, line{i, i + j, i + j + 1})
		i += j + 1
	}
	return ls
}

func isBlank(s string) bool { return strings.TrimLeft(s, " \t") == "" }

func leadingSpace(s string) int {
	n := 0
	for n < len(s) && (s[n] == ' ' || s[n] == '\t') {
		n++
	}
	return n
}

// parseBlocks splits normalised Markdown into blocks.
func parseBlocks(s string) []block {
	ls := splitLines(s)
	var bs []block
	last := func() *block {
		if len(bs) == 0 {
			return nil
		}
		return &bs[len(bs)-1]
	}
	blank := true // at start, or after a blank line
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		text := s[l.start:l.end]
		if isBlank(text) {
			if b := last(); b != nil {
				b.blankAfter = true
			}
			blank = true
			continue
		}
		ind := leadingSpace(text)
		body := strings.TrimRight(text[ind:], " \t")
		bodyStart := l.start + ind

		if run, ch, info, ok := fenceOpen(body); ok {
			b := block{kind: blockFence, start: l.start, openLine: strings.TrimRight(text, " \t"), closer: strings.Repeat(string(ch), run), lang: sanitizeLang(info)}
			b.contentStart = l.next
			b.contentEnd = len(s)
			b.end = len(s)
			var code strings.Builder
			j := i + 1
			for ; j < len(ls); j++ {
				cl := ls[j]
				ct := s[cl.start:cl.end]
				if fenceClose(ct, ch, run) {
					b.contentEnd = cl.start
					b.end = cl.next
					break
				}
				if j > i+1 {
					code.WriteByte('\n')
				}
				code.WriteString(trimIndent(ct, ind))
			}
			b.code = code.String()
			bs = append(bs, b)
			blank = false
			i = j
			continue
		}
		switch {
		case isRule(body):
			bs = append(bs, block{kind: blockRule, start: l.start, end: l.next})
		case headingLevel(body) > 0:
			n := headingLevel(body)
			content := strings.TrimLeft(body[n:], " \t")
			off := bodyStart + n + (len(body[n:]) - len(content))
			content = trimClosingHashes(content)
			bs = append(bs, block{kind: blockHeading, start: l.start, end: l.next, level: n, segs: []seg{{off, content}}})
		case strings.HasPrefix(body, ">"):
			content := body[1:]
			off := bodyStart + 1
			if strings.HasPrefix(content, " ") || strings.HasPrefix(content, "\t") {
				content, off = content[1:], off+1
			}
			if b := last(); b != nil && b.kind == blockQuote && !blank {
				b.segs = append(b.segs, seg{off, content})
				b.end = l.next
			} else {
				bs = append(bs, block{kind: blockQuote, start: l.start, end: l.next, segs: []seg{{off, content}}})
			}
		default:
			if marker, n, ok := listMarker(body); ok {
				content := body[n:]
				skip := leadingSpace(content)
				bs = append(bs, block{kind: blockItem, start: l.start, end: l.next, level: min(ind/2, 6), marker: marker, segs: []seg{{bodyStart + n + skip, content[skip:]}}})
				break
			}
			if b := last(); b != nil && b.kind == blockPara && !blank {
				b.segs = append(b.segs, seg{bodyStart, body})
				b.end = l.next
			} else {
				bs = append(bs, block{kind: blockPara, start: l.start, end: l.next, segs: []seg{{bodyStart, body}}})
			}
		}
		blank = false
	}
	return bs
}

// fenceOpen reports whether body (indentation removed) opens a fenced code
// block, with its fence run length, character and info string.
func fenceOpen(body string) (run int, ch byte, info string, ok bool) {
	if len(body) < 3 || (body[0] != '`' && body[0] != '~') {
		return 0, 0, "", false
	}
	ch = body[0]
	for run < len(body) && body[run] == ch {
		run++
	}
	if run < 3 {
		return 0, 0, "", false
	}
	info = strings.TrimSpace(body[run:])
	if ch == '`' && strings.IndexByte(info, '`') >= 0 {
		return 0, 0, "", false // "```x```" on one line is inline code
	}
	return run, ch, info, true
}

// fenceClose reports whether line closes a fence of run ch characters.
func fenceClose(line string, ch byte, run int) bool {
	t := strings.TrimSpace(line)
	if len(t) < run {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] != ch {
			return false
		}
	}
	return true
}

func trimIndent(s string, n int) string {
	for n > 0 && len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s, n = s[1:], n-1
	}
	return s
}

// sanitizeLang keeps a fence's language only if it is a plain identifier
// (go, c++, objective-c, c#), so it is safe inside an HTML attribute and
// short enough not to eat the message limit.
func sanitizeLang(info string) string {
	if i := strings.IndexAny(info, " \t{"); i >= 0 {
		info = info[:i]
	}
	if info == "" || len(info) > 32 {
		return ""
	}
	for i := 0; i < len(info); i++ {
		c := info[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+-#._", c) >= 0) {
			return ""
		}
	}
	return info
}

func isRule(body string) bool {
	if len(body) < 3 || (body[0] != '-' && body[0] != '*' && body[0] != '_') {
		return false
	}
	for i := 1; i < len(body); i++ {
		if body[i] != body[0] {
			return false
		}
	}
	return true
}

func headingLevel(body string) int {
	n := 0
	for n < len(body) && body[n] == '#' {
		n++
	}
	if n == 0 || n > 6 {
		return 0
	}
	if n < len(body) && body[n] != ' ' && body[n] != '\t' {
		return 0
	}
	return n
}

func trimClosingHashes(s string) string {
	t := strings.TrimRight(s, "#")
	if t == "" {
		return ""
	}
	if len(t) < len(s) && (t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
		return strings.TrimRight(t, " \t")
	}
	return s
}

// listMarker recognises "- ", "* ", "+ " and "12. " / "12) " and returns
// the marker to show and the length consumed.
func listMarker(body string) (marker string, n int, ok bool) {
	if len(body) >= 2 && strings.IndexByte("-*+", body[0]) >= 0 && (body[1] == ' ' || body[1] == '\t') {
		if isBlank(body[2:]) {
			return "", 0, false
		}
		return "•", 1, true
	}
	d := 0
	for d < len(body) && d < 9 && body[d] >= '0' && body[d] <= '9' {
		d++
	}
	if d == 0 || d+1 >= len(body) || (body[d] != '.' && body[d] != ')') || (body[d+1] != ' ' && body[d+1] != '\t') {
		return "", 0, false
	}
	if isBlank(body[d+2:]) {
		return "", 0, false
	}
	return body[:d] + ".", d + 1, true
}

// isASCIIPunct reports whether c may be backslash-escaped.
func isASCIIPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// escapeMarkdown backslash-escapes every ASCII punctuation character so
// that s parses as plain text.
func escapeMarkdown(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		if isASCIIPunct(s[i]) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isSpaceRune(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || unicode.IsSpace(r) }

func runeBefore(s string, i int) rune {
	if i <= 0 {
		return ' '
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

func runeAt(s string, i int) rune {
	if i >= len(s) {
		return ' '
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}
