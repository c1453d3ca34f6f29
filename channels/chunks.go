package channels

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Boundary classes, weakest first. A cut of a stronger class also counts as
// every weaker one (a paragraph break is also a line break).
const (
	classRune     = iota // between any two runes, even inside a grapheme
	classGrapheme        // between user-perceived characters (roughly)
	classWord            // before a word (after spaces), or between CJK characters
	classSentence        // after . ! ? … 。 ！ ？
	classLine            // at the start of a line
	classPara            // after a blank line, or around a code block or heading
)

// minFill: a stronger boundary is preferred only if it keeps at least this
// fraction of the largest piece that would fit; otherwise a short first
// paragraph would waste a whole message.
const minFillNum, minFillDen = 1, 2

// candidate is a place the source may be cut: at byte p, of the given
// class; fence is the code block p lies inside, which must then be closed
// and reopened around the cut.
type candidate struct {
	p     int
	class int
	fence *block
}

type chunker struct {
	limit   int
	convert func(string) string
	measure func(string) int
	lastP   int // source length of the previous piece, to size the window
}

// Chunks converts Markdown (what models write: **bold**, *italic* or
// _italic_, `code`, fenced blocks with an optional language, [text](url),
// # headings, - lists, > quotes, ~~strike~~) with convert and returns the
// pieces, in order, each non-empty and at most limit long by measure.
//
// It splits the source at the best boundary that fits: paragraph (blank
// line) > line > sentence end > word > rune, never inside a UTF-8 sequence
// (and, when it can, not inside an emoji sequence). A stronger boundary
// wins only if its piece is at least half as long as the longest that
// fits. A fenced code block cut in two is closed at the end of one piece
// and reopened, same language, at the start of the next. Inline markup is
// never cut in half: a cut inside **bold**, `code` or a link moves to an
// earlier boundary, or, when there is none (a span longer than the limit),
// that one piece falls back to plain escaped text.
//
// Empty or blank input gives no pieces. limit <= 0 means no limit (one
// piece). The limit must leave room for one converted character plus a
// code block's markup; below that (limit < 8 or so) a piece may exceed it,
// one character at a time, rather than drop text.
func Chunks(md string, limit int, convert func(string) string, measure func(string) int) []string {
	md = normalize(md)
	if strings.TrimSpace(md) == "" {
		return nil
	}
	var out []string
	emit := func(s string) {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	if limit <= 0 {
		emit(convert(md))
		return out
	}
	c := &chunker{limit: limit, convert: convert, measure: measure}
	for rest := md; rest != ""; {
		var piece string
		piece, rest = c.cut(rest)
		emit(piece)
	}
	return out
}

// cut returns the converted first piece of rest and the source left after
// it ("" when all of rest fits).
//
// It looks at a window of rest, not all of it, so that splitting a long
// reply into many small pieces stays linear: the window starts at twice the
// previous piece's source (or 8 bytes per unit of limit) and doubles while
// everything in it fits.
func (c *chunker) cut(rest string) (piece, next string) {
	w := 8*min(c.limit, len(rest)) + 256
	if c.lastP > 0 {
		w = min(w, 2*c.lastP+256)
	}
	for {
		w = extendWindow(rest, w)
		if w == len(rest) {
			if whole := c.convert(rest); c.measure(whole) <= c.limit {
				return whole, ""
			}
		}
		cands := candidates(rest[:w])
		if len(cands) == 0 {
			if w < len(rest) {
				w *= 2
				continue
			}
			return c.fallback(rest)
		}
		if w < len(rest) && c.fits(rest, cands[len(cands)-1]) {
			w *= 2 // everything in the window fits: look further
			continue
		}
		if !c.fits(rest, cands[0]) {
			return c.fallback(rest)
		}
		// Invariant: cands[lo] fits; cands[hi] does not (hi == len means
		// the whole of rest, which does not fit).
		lo, hi := 0, len(cands)
		if w < len(rest) {
			hi = len(cands) - 1
		}
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if c.fits(rest, cands[mid]) {
				lo = mid
			} else {
				hi = mid
			}
		}
		best := lo
		maxP := cands[best].p
		for class := classPara; class > classRune; class-- {
			tries := 0
			for k := best; k >= 0 && tries < 3; k-- {
				if cands[k].class < class {
					continue
				}
				// Never split a grapheme when any whole one fits.
				if class > classGrapheme && cands[k].p*minFillDen < maxP*minFillNum {
					break
				}
				tries++
				if c.fits(rest, cands[k]) {
					return c.split(rest, cands[k])
				}
			}
		}
		return c.split(rest, cands[best])
	}
}

// extendWindow moves a window end forward to a blank line (spans never
// cross one) or at least a line end, looking no further than w bytes, so
// the window rarely cuts an inline span. With no line end in reach it stays
// at a rune boundary.
func extendWindow(rest string, w int) int {
	if w >= len(rest) {
		return len(rest)
	}
	reach := rest[w:min(len(rest), 2*w)]
	if i := strings.Index(reach, "\n\n"); i >= 0 {
		return w + i + 2
	}
	if i := strings.IndexByte(reach, '\n'); i >= 0 {
		return w + i + 1
	}
	if 2*w >= len(rest) {
		return len(rest)
	}
	return max(runeFloor(rest, w), 1)
}

// source returns the Markdown of the piece ending at k, and what remains.
func (c *chunker) source(rest string, k candidate) (src, next string) {
	if k.fence == nil {
		return rest[:k.p], rest[k.p:]
	}
	head := rest[:k.p]
	if !strings.HasSuffix(head, "\n") {
		head += "\n"
	}
	return head + k.fence.closer, k.fence.openLine + "\n" + rest[k.p:]
}

func (c *chunker) fits(rest string, k candidate) bool {
	src, _ := c.source(rest, k)
	return c.measure(c.convert(src)) <= c.limit
}

func (c *chunker) split(rest string, k candidate) (piece, next string) {
	c.lastP = k.p
	src, next := c.source(rest, k)
	return c.convert(src), next
}

// fallback cuts rest at the longest rune boundary whose piece fits when
// rendered as plain, escaped text. It is used when no structured cut fits:
// an inline span or a code block's markup longer than the limit.
func (c *chunker) fallback(rest string) (piece, next string) {
	plain := func(p int) string { return c.convert(escapeMarkdown(PlainText(rest[:p]))) }
	fits := func(p int) bool { return c.measure(plain(p)) <= c.limit }
	_, first := utf8.DecodeRuneInString(rest)
	lo := first // always taken, even if over the limit: never drop text
	hi := 8*min(c.limit, len(rest)) + 256
	for hi <= len(rest) && fits(runeFloor(rest, hi)) {
		hi *= 2
	}
	hi = min(hi, len(rest)+1)
	for hi-lo > 1 {
		mid := runeFloor(rest, (lo+hi)/2)
		if mid <= lo {
			mid = lo + runeLenAt(rest, lo)
			if mid >= hi {
				break
			}
		}
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	p := lo
	c.lastP = p
	next = rest[p:]
	if bs := parseBlocks(rest[:p]); len(bs) > 0 {
		if b := &bs[len(bs)-1]; b.kind == blockFence && b.contentEnd == p && b.contentStart < p {
			next = b.openLine + "\n" + next // inside a code block: reopen it
		}
	}
	return plain(p), next
}

func runeFloor(s string, i int) int {
	if i >= len(s) {
		return len(s)
	}
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

func runeLenAt(s string, i int) int {
	_, n := utf8.DecodeRuneInString(s[i:])
	return max(n, 1)
}

// candidates lists every place win may be cut, ascending, with its class.
func candidates(win string) []candidate {
	bs := parseBlocks(win)
	n := len(win)
	// forbid[p] > 0: p is strictly inside an inline span, a line's block
	// marker, a rule or a fence line (difference array over positions).
	forbid := make([]int32, n+2)
	mark := func(from, to int) { // forbid positions from..to inclusive
		if from > to || from > n {
			return
		}
		forbid[from]++
		forbid[min(to, n)+1]--
	}
	strong := make(map[int]bool) // block boundaries that count as paragraphs
	orphan := make(map[int]bool) // right after a heading: keep it with its text
	for i := range bs {
		b := &bs[i]
		if b.kind == blockHeading {
			next := n
			if i+1 < len(bs) {
				next = bs[i+1].start
			}
			for q := b.end; q <= next; q++ {
				orphan[q] = true
			}
		}
		switch b.kind {
		case blockFence:
			mark(b.start+1, b.contentStart)
			mark(b.contentEnd, b.end-1)
			strong[b.start], strong[b.end] = true, true
			continue
		case blockRule:
			mark(b.start+1, b.end-1)
			strong[b.start], strong[b.end] = true, true
			continue
		case blockHeading:
			strong[b.start] = true
		}
		for _, sg := range b.segs {
			ls := strings.LastIndexByte(win[:sg.src], '\n') + 1
			mark(ls+1, sg.src)
		}
		_, spans := parseInline(b.inline())
		for _, sp := range spans {
			mark(b.srcOffset(sp.start)+1, b.srcOffset(sp.end)-1)
		}
	}
	var out []candidate
	depth := int32(0)
	bi := 0 // index of the first block that may hold p in its code
	for p := 0; p < n; p++ {
		depth += forbid[p]
		if p == 0 || !utf8.RuneStart(win[p]) || depth > 0 {
			continue
		}
		for bi < len(bs) && bs[bi].end <= p {
			bi++
		}
		var fence *block
		if bi < len(bs) && bs[bi].kind == blockFence && bs[bi].contentStart < p && p < bs[bi].contentEnd {
			fence = &bs[bi]
		}
		class := classify(win, p, strong)
		if orphan[p] && class > classLine {
			class = classLine
		}
		out = append(out, candidate{p: p, class: class, fence: fence})
	}
	return out
}

// classify returns the strongest boundary class at p (a rune start, 0 < p).
func classify(s string, p int, strong map[int]bool) int {
	if s[p-1] == '\n' {
		if strong[p] {
			return classPara
		}
		prevStart := strings.LastIndexByte(s[:p-1], '\n') + 1
		if isBlank(s[prevStart:p-1]) && !isBlank(lineAt(s, p)) {
			return classPara
		}
		return classLine
	}
	r, _ := utf8.DecodeRuneInString(s[p:])
	rp, _ := utf8.DecodeLastRuneInString(s[:p])
	switch {
	case (rp == ' ' || rp == '\t') && r != ' ' && r != '\t' && r != '\n':
		q := strings.TrimRight(s[:p], " \t")
		q = strings.TrimRight(q, ")]\"'”’»")
		if last, _ := utf8.DecodeLastRuneInString(q); strings.ContainsRune(".!?…", last) && len(q) > 0 {
			return classSentence
		}
		return classWord
	case strings.ContainsRune("。！？", rp):
		return classSentence
	case joins(s, p, rp, r):
		return classRune
	case isCJK(rp) || isCJK(r):
		return classWord
	}
	return classGrapheme
}

func lineAt(s string, p int) string {
	if i := strings.IndexByte(s[p:], '\n'); i >= 0 {
		return s[p : p+i]
	}
	return s[p:]
}

// joins reports whether rp and r belong to one user-perceived character
// (combining marks, variation selectors, ZWJ emoji sequences, skin tones,
// flag pairs): a cut there would show broken glyphs.
func joins(s string, p int, rp, r rune) bool {
	switch {
	case rp == '\u200d' || r == '\u200d':
		return true
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc):
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF, r >= 0xE0020 && r <= 0xE007F:
		return true
	case r >= 0x1F3FB && r <= 0x1F3FF:
		return true
	case isRegional(rp) && isRegional(r):
		// Inside a flag when an odd number of indicators precede p.
		k := 0
		for q := p; q > 0; {
			x, size := utf8.DecodeLastRuneInString(s[:q])
			if !isRegional(x) {
				break
			}
			k++
			q -= size
		}
		return k%2 == 1
	}
	return false
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}
