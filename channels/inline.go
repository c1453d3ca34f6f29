package channels

import (
	"strings"
	"unicode"
)

type nodeKind uint8

const (
	nodeText nodeKind = iota
	nodeCode
	nodeStrong
	nodeEm
	nodeStrike
	nodeLink
)

// node is an inline element. Text and code carry their literal text; the
// others carry children (and links a URL).
type node struct {
	kind nodeKind
	text string
	url  string
	kids []node
}

// span is the source range of one inline construct, delimiters included;
// Chunks never cuts strictly inside one.
type span struct{ start, end int }

// Scan limits keep parsing linear-ish on hostile input: link text and URLs
// longer than this are not links.
const (
	maxLinkText = 2000
	maxURL      = 2048
)

// inlineParser parses one block's inline text. Unterminated markup is text.
type inlineParser struct {
	s        string
	spans    []span
	brackets map[int]int // '[' offset -> matching ']' offset, built on first use
	lastStop int         // last offset of a byte that can end a URL; -2 until computed
}

func parseInline(s string) ([]node, []span) {
	p := &inlineParser{s: s, lastStop: -2}
	return p.parse(0, len(s), false), p.spans
}

// scope caches failed closer searches within one parse(lo, hi) call: if no
// closer for a delimiter exists after position i, none exists after a later
// one either, so the search is not repeated (keeps "* * * *…" linear).
type scope struct {
	noCloser map[[2]int]bool // {delimiter char, run length}
	noCode   map[int]bool    // backtick run lengths without a closer
}

func (p *inlineParser) parse(lo, hi int, inLink bool) []node {
	s := p.s
	var out []node
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			out = append(out, node{kind: nodeText, text: text.String()})
			text.Reset()
		}
	}
	sc := scope{}
	for i := lo; i < hi; {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < hi && isASCIIPunct(s[i+1]) {
				text.WriteByte(s[i+1])
				p.spans = append(p.spans, span{i, i + 2})
				i += 2
				continue
			}
		case '`':
			n := runLen(s, i, hi, '`')
			if !sc.noCode[n] {
				if j := findCodeClose(s, i+n, hi, n); j >= 0 {
					flush()
					out = append(out, node{kind: nodeCode, text: codeText(s[i+n : j])})
					p.spans = append(p.spans, span{i, j + n})
					i = j + n
					continue
				}
				if sc.noCode == nil {
					sc.noCode = map[int]bool{}
				}
				sc.noCode[n] = true
			}
			text.WriteString(s[i : i+n])
			i += n
			continue
		case '[':
			if !inLink {
				if textEnd, end, url, ok := p.link(i, hi); ok {
					flush()
					kids := p.parse(i+1, textEnd, true)
					out = append(out, node{kind: nodeLink, url: url, kids: kids})
					p.spans = append(p.spans, span{i, end})
					i = end
					continue
				}
			}
		case '<':
			if !inLink {
				if end, url, ok := autolink(s, i, hi); ok {
					flush()
					out = append(out, node{kind: nodeLink, url: url, kids: []node{{kind: nodeText, text: url}}})
					p.spans = append(p.spans, span{i, end})
					i = end
					continue
				}
			}
		case '*', '_', '~':
			n := runLen(s, i, hi, c)
			if k, ok := delimKind(c, n); ok && !sc.noCloser[[2]int{int(c), n}] && p.canOpen(i, n, hi) {
				if j, m := p.findCloser(i, n, hi); j >= 0 {
					flush()
					inner := p.parse(i+n, j+m-n, inLink)
					if n == 3 {
						inner = []node{{kind: nodeEm, kids: inner}}
					}
					out = append(out, node{kind: k, kids: inner})
					p.spans = append(p.spans, span{i, j + m})
					i = j + m
					continue
				}
				if sc.noCloser == nil {
					sc.noCloser = map[[2]int]bool{}
				}
				sc.noCloser[[2]int{int(c), n}] = true
			}
			text.WriteString(s[i : i+n])
			i += n
			continue
		}
		text.WriteByte(c)
		i++
	}
	flush()
	return out
}

func runLen(s string, i, hi int, c byte) int {
	n := 0
	for i+n < hi && s[i+n] == c {
		n++
	}
	return n
}

// delimKind maps a delimiter run to the node it makes: * and _ runs of 1,
// 2, 3 are em, strong, strong+em; ~~ is strike. Others are text.
func delimKind(c byte, n int) (nodeKind, bool) {
	if c == '~' {
		return nodeStrike, n == 2
	}
	switch n {
	case 1:
		return nodeEm, true
	case 2, 3:
		return nodeStrong, true
	}
	return 0, false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// canOpen: the run is followed by a non-space, and an underscore run is not
// inside a word (snake_case_names stay text).
func (p *inlineParser) canOpen(i, n, hi int) bool {
	if i+n >= hi || isSpaceRune(runeAt(p.s[:hi], i+n)) {
		return false
	}
	if p.s[i] == '_' && isWordRune(runeBefore(p.s, i)) {
		return false
	}
	return true
}

// canClose: the run is preceded by a non-space, and an underscore run is
// not followed by a word character.
func (p *inlineParser) canClose(j, m, hi int) bool {
	if isSpaceRune(runeBefore(p.s, j)) {
		return false
	}
	if p.s[j] == '_' && j+m < hi && isWordRune(runeAt(p.s[:hi], j+m)) {
		return false
	}
	return true
}

// findCloser looks for the run closing the opener at i (n chars). A "***"
// run closes with its last n characters (so "**a *b***" nests).
// Openers of the same run met on the way nest. It returns the closing
// run's start and length, or -1.
func (p *inlineParser) findCloser(i, n, hi int) (int, int) {
	s, c := p.s, p.s[i]
	depth := 0
	for j := i + n; j < hi; {
		switch s[j] {
		case '\\':
			j += 2
			continue
		case '`':
			m := runLen(s, j, hi, '`')
			if k := findCodeClose(s, j+m, hi, m); k >= 0 {
				j = k + m
			} else {
				j += m
			}
			continue
		case c:
			m := runLen(s, j, hi, c)
			// A run that could both open and close (intraword) closes.
			closes := p.canClose(j, m, hi) && j > i+n && (m == n || (m == 3 && c != '~'))
			opens := p.canOpen(j, m, hi) && m == n
			switch {
			case closes:
				if depth == 0 {
					return j, m
				}
				depth--
			case opens:
				depth++
			}
			j += m
			continue
		}
		j++
	}
	return -1, 0
}

// findCodeClose finds a backtick run of exactly n starting at or after i.
func findCodeClose(s string, i, hi, n int) int {
	for i < hi {
		k := strings.IndexByte(s[i:hi], '`')
		if k < 0 {
			return -1
		}
		j := i + k
		m := runLen(s, j, hi, '`')
		if m == n {
			return j
		}
		i = j + m
	}
	return -1
}

// codeText applies CommonMark's code span rules: newlines become spaces and
// one surrounding space is stripped when both ends have one.
func codeText(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) >= 2 && s[0] == ' ' && s[len(s)-1] == ' ' && strings.Trim(s, " ") != "" {
		s = s[1 : len(s)-1]
	}
	return s
}

// link parses [text](url) at i. It returns the end of the text (the ']'),
// the end of the whole link and the URL.
func (p *inlineParser) link(i, hi int) (textEnd, end int, url string, ok bool) {
	s := p.s
	if p.brackets == nil {
		p.brackets = matchBrackets(s)
	}
	k, found := p.brackets[i]
	if !found || k >= hi || k-i > maxLinkText {
		return 0, 0, "", false
	}
	if k+1 >= hi || s[k+1] != '(' {
		return 0, 0, "", false
	}
	j := k + 2
	for j < hi && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	ustart := j
	if j < hi && s[j] == '<' {
		e := strings.IndexByte(s[j+1:min(hi, j+1+maxURL)], '>')
		if e < 0 {
			return 0, 0, "", false
		}
		url = s[j+1 : j+1+e]
		j += e + 2
	} else {
		if p.lastStop == -2 {
			p.lastStop = strings.LastIndexAny(s, " \t\n)")
		}
		if ustart > p.lastStop {
			return 0, 0, "", false // nothing can end this URL: fail fast
		}
		parens := 0
		for j < hi && j-ustart < maxURL {
			c := s[j]
			if c == ' ' || c == '\t' || c == '\n' {
				break
			}
			if c == '(' {
				parens++
			} else if c == ')' {
				if parens == 0 {
					break
				}
				parens--
			}
			j++
		}
		url = s[ustart:j]
	}
	for j < hi && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
		j++
	}
	if j < hi && (s[j] == '"' || s[j] == '\'') { // title, ignored
		q := s[j]
		e := strings.IndexByte(s[j+1:hi], q)
		if e < 0 {
			return 0, 0, "", false
		}
		j += e + 2
		for j < hi && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
	}
	if j >= hi || s[j] != ')' {
		return 0, 0, "", false
	}
	return k, j + 1, url, true
}

// autolink parses <scheme:...> at i.
func autolink(s string, i, hi int) (end int, url string, ok bool) {
	lim := min(hi, i+1+maxURL)
	e := strings.IndexAny(s[i+1:lim], "> \t\n<")
	if e < 0 || s[i+1+e] != '>' {
		return 0, "", false
	}
	url = s[i+1 : i+1+e]
	if !safeURL(url) {
		return 0, "", false
	}
	return i + 2 + e, url, true
}

// safeURL reports whether u may become a clickable link: an absolute http,
// https, mailto or tg URL without spaces or control characters (quotes
// and ampersands are fine: renderers escape the attribute).
func safeURL(u string) bool {
	l := strings.ToLower(u)
	var rest string
	switch {
	case strings.HasPrefix(l, "https://"):
		rest = u[8:]
	case strings.HasPrefix(l, "http://"):
		rest = u[7:]
	case strings.HasPrefix(l, "mailto:"):
		rest = u[7:]
	case strings.HasPrefix(l, "tg://"):
		rest = u[5:]
	default:
		return false
	}
	if rest == "" || len(u) > maxURL {
		return false
	}
	for _, r := range u {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// matchBrackets pairs every '[' with its ']' in one pass, skipping
// backslash escapes and code spans (which the parser treats as literal),
// so a text full of unmatched brackets parses in linear time.
func matchBrackets(s string) map[int]int {
	m := map[int]int{}
	var stack []int
	noCode := map[int]bool{}
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '`':
			n := runLen(s, j, len(s), '`')
			if !noCode[n] {
				if e := findCodeClose(s, j+n, len(s), n); e >= 0 {
					j = e + n - 1
					continue
				}
				noCode[n] = true
			}
			j += n - 1
		case '[':
			stack = append(stack, j)
		case ']':
			if len(stack) > 0 {
				m[stack[len(stack)-1]] = j
				stack = stack[:len(stack)-1]
			}
		}
	}
	return m
}
