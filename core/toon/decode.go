package toon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Unmarshal decodes a TOON document into the ordered model: Object, []any,
// string, json.Number, bool or nil. Errors are *SyntaxError values that
// carry the 1-based line number.
func Unmarshal(data []byte, opts DecodeOptions) (any, error) {
	if opts.Indent < 0 {
		return nil, &SyntaxError{Msg: "negative indent"}
	}
	if !utf8.Valid(data) {
		bad := len(data)
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				bad = i
				break
			}
			i += n
		}
		return nil, &SyntaxError{Line: 1 + bytes.Count(data[:bad], []byte("\n")), Msg: "invalid UTF-8"}
	}
	p := &parser{indent: indentOrDefault(opts.Indent), strict: !opts.Lenient, expand: opts.ExpandPaths}
	if err := p.split(string(data)); err != nil {
		return nil, err
	}
	return p.root()
}

type line struct {
	num   int    // 1-based line number
	depth int    // indentation level
	text  string // content without leading indentation
	blank bool
}

type parser struct {
	indent int
	strict bool
	expand bool
	lines  []line
	pos    int
	inArr  int // nesting of arrays being read, for the blank-line rule
}

func (p *parser) errf(num int, format string, args ...any) error {
	return &SyntaxError{Line: num, Msg: fmt.Sprintf(format, args...)}
}

// split cuts the document into lines and computes depths (§12).
func (p *parser) split(doc string) error {
	raw := strings.Split(doc, "\n")
	for i, s := range raw {
		n := 0
		for n < len(s) && s[n] == ' ' {
			n++
		}
		text := s[n:]
		blank := strings.Trim(text, " \t\r") == ""
		if !blank {
			if text[0] == '\t' {
				return p.errf(i+1, "tab used for indentation")
			}
			if p.strict && n%p.indent != 0 {
				return p.errf(i+1, "indentation of %d spaces is not a multiple of %d", n, p.indent)
			}
		}
		p.lines = append(p.lines, line{num: i + 1, depth: n / p.indent, text: text, blank: blank})
	}
	return nil
}

// next returns the index of the next non-blank line (or -1) and reports
// whether blank lines were skipped to reach it.
func (p *parser) next() (int, bool) {
	skipped := false
	for i := p.pos; i < len(p.lines); i++ {
		if !p.lines[i].blank {
			return i, skipped
		}
		skipped = true
	}
	return -1, skipped
}

func (p *parser) root() (any, error) {
	var content []int
	for i, l := range p.lines {
		if !l.blank {
			content = append(content, i)
		}
	}
	if len(content) == 0 {
		return Object{}, nil
	}
	first := p.lines[content[0]]
	if len(content) == 1 && first.text == "[]" {
		return []any{}, nil
	}
	var val any
	switch {
	case first.depth == 0 && strings.HasPrefix(first.text, "["):
		h, rest, err := parseHeader(first.text)
		if err != nil {
			if p.strict || len(content) > 1 {
				return nil, p.errf(first.num, "%v", err)
			}
			return p.primitive(first.text, first.num)
		}
		p.pos = content[0] + 1
		val, err = p.arrayBody(h, rest, first.num, 1)
		if err != nil {
			return nil, err
		}
	case len(content) == 1 && !isKeyValue(first.text):
		return p.primitive(first.text, first.num)
	default:
		obj := Object{}
		if err := p.objectInto(&obj, 0); err != nil {
			return nil, err
		}
		val = obj
	}
	if i, _ := p.next(); i >= 0 {
		return nil, p.errf(p.lines[i].num, "unexpected content")
	}
	return val, nil
}

// objectInto reads "key: value" lines at depth into obj until the depth
// drops.
func (p *parser) objectInto(obj *Object, depth int) error {
	return p.objectIntoSeen(obj, map[string]bool{}, depth)
}

// objectIntoSeen is objectInto with the literal keys already read for obj.
func (p *parser) objectIntoSeen(obj *Object, seen map[string]bool, depth int) error {
	for {
		i, skipped := p.next()
		if i < 0 {
			return nil
		}
		ln := p.lines[i]
		if ln.depth < depth {
			return nil
		}
		if ln.depth > depth {
			return p.errf(ln.num, "unexpected indentation")
		}
		if skipped && p.inArr > 0 && p.strict {
			return p.errf(ln.num, "blank line inside array")
		}
		if ln.text == "-" || strings.HasPrefix(ln.text, "- ") {
			return p.errf(ln.num, "list item outside of an array")
		}
		p.pos = i + 1
		if err := p.field(obj, seen, ln.text, ln.num, depth+1); err != nil {
			return err
		}
	}
}

// field parses one key-value line and stores it in obj; nested content is
// read at childDepth.
func (p *parser) field(obj *Object, seen map[string]bool, text string, num, childDepth int) error {
	key, quoted, rest, err := p.key(text, num)
	if err != nil {
		return err
	}
	var val any
	switch {
	case strings.HasPrefix(rest, "["):
		h, inline, herr := parseHeader(rest)
		if herr != nil {
			if p.strict {
				return p.errf(num, "%v", herr)
			}
			// Lenient: the whole text before the first colon is a literal key.
			c := strings.IndexByte(text, ':')
			if c < 0 {
				return p.errf(num, "missing colon after key")
			}
			key, quoted, rest = strings.TrimSpace(text[:c]), false, text[c:]
			val, err = p.scalarOrObject(strings.TrimSpace(rest[1:]), num, childDepth)
			break
		}
		val, err = p.arrayBody(h, inline, num, childDepth)
	case strings.HasPrefix(rest, ":"):
		val, err = p.scalarOrObject(strings.TrimSpace(rest[1:]), num, childDepth)
	default:
		return p.errf(num, "missing colon after key %q", key)
	}
	if err != nil {
		return err
	}
	return p.store(obj, seen, key, quoted, val, num)
}

func (p *parser) scalarOrObject(after string, num, childDepth int) (any, error) {
	switch after {
	case "":
		o := Object{}
		if err := p.objectInto(&o, childDepth); err != nil {
			return nil, err
		}
		return o, nil
	case "[]":
		return []any{}, nil
	}
	return p.primitive(after, num)
}

// key parses the key at the start of text and returns the remainder, which
// starts with ':' or '[' on success.
func (p *parser) key(text string, num int) (string, bool, string, error) {
	if strings.HasPrefix(text, `"`) {
		k, end, err := unquote(text, 0)
		if err != nil {
			return "", false, "", p.errf(num, "%v", err)
		}
		return k, true, strings.TrimLeft(text[end:], " "), nil
	}
	i := strings.IndexAny(text, ":[")
	if i < 0 {
		return "", false, "", p.errf(num, "missing colon after key")
	}
	return strings.TrimSpace(text[:i]), false, text[i:], nil
}

// store adds key to obj, applying duplicate-key (§14.4) and path-expansion
// (§13.4) rules.
func (p *parser) store(obj *Object, seen map[string]bool, key string, quoted bool, val any, num int) error {
	dup := seen[key]
	if dup && p.strict {
		return p.errf(num, "duplicate key %q", key)
	}
	seen[key] = true
	if p.expand && !quoted && strings.Contains(key, ".") {
		segs := strings.Split(key, ".")
		ok := true
		for _, s := range segs {
			ok = ok && isIdentSegment(s)
		}
		if ok {
			return p.merge(obj, segs, val, num)
		}
	}
	if p.expand {
		return p.merge(obj, []string{key}, val, num)
	}
	if dup { // lenient: last write wins, keeping the first position
		(*obj)[obj.index(key)].Value = val
		return nil
	}
	*obj = append(*obj, Member{Key: key, Value: val})
	return nil
}

// merge deep-merges val at path segs inside obj.
func (p *parser) merge(obj *Object, segs []string, val any, num int) error {
	k := segs[0]
	i := obj.index(k)
	if len(segs) > 1 {
		if i < 0 {
			child := Object{}
			if err := p.merge(&child, segs[1:], val, num); err != nil {
				return err
			}
			*obj = append(*obj, Member{Key: k, Value: child})
			return nil
		}
		if eo, ok := (*obj)[i].Value.(Object); ok {
			if err := p.merge(&eo, segs[1:], val, num); err != nil {
				return err
			}
			(*obj)[i].Value = eo
			return nil
		}
		if p.strict {
			return p.errf(num, "expansion conflict at path %q", k)
		}
		child := Object{}
		if err := p.merge(&child, segs[1:], val, num); err != nil {
			return err
		}
		(*obj)[i].Value = child
		return nil
	}
	if i < 0 {
		*obj = append(*obj, Member{Key: k, Value: val})
		return nil
	}
	eo, ok1 := (*obj)[i].Value.(Object)
	vo, ok2 := val.(Object)
	if ok1 && ok2 {
		for _, m := range vo {
			if err := p.merge(&eo, []string{m.Key}, m.Value, num); err != nil {
				return err
			}
		}
		(*obj)[i].Value = eo
		return nil
	}
	if p.strict {
		return p.errf(num, "expansion conflict at path %q", k)
	}
	(*obj)[i].Value = val
	return nil
}

// isKeyValue reports whether text is a key-value or keyed header line rather
// than a bare primitive.
func isKeyValue(text string) bool {
	if strings.HasPrefix(text, `"`) {
		_, end, err := unquote(text, 0)
		if err != nil {
			return false
		}
		rest := strings.TrimLeft(text[end:], " ")
		return strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "[")
	}
	return firstUnquoted(text, ':') >= 0
}

// firstUnquoted returns the index of the first c outside double quotes.
func firstUnquoted(s string, c byte) int {
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case in && s[i] == '\\':
			i++
		case s[i] == '"':
			in = !in
		case !in && s[i] == c:
			return i
		}
	}
	return -1
}

// primitive types one value token (§4).
func (p *parser) primitive(tok string, num int) (any, error) {
	tok = strings.Trim(tok, " ")
	if strings.HasPrefix(tok, `"`) {
		s, end, err := unquote(tok, 0)
		if err != nil {
			return nil, p.errf(num, "%v", err)
		}
		if end != len(tok) {
			return nil, p.errf(num, "unexpected characters after closing quote")
		}
		return s, nil
	}
	switch tok {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if isNumberToken(tok) {
		if isPlainInteger(tok) {
			n, _ := canonicalNumber(tok)
			return n, nil
		}
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil || math.IsInf(f, 0) {
			return tok, nil // out of float64 range: kept losslessly as a string
		}
		return json.Number(formatFloat(f)), nil
	}
	return tok, nil
}

// isNumberToken reports whether tok is a JSON-style number without a
// forbidden leading zero.
func isNumberToken(tok string) bool {
	if !isNumericLike(tok) {
		return false
	}
	s := strings.TrimPrefix(tok, "-")
	return !(len(s) > 1 && s[0] == '0' && isDigit(s[1]))
}

// unquote decodes the quoted string starting at s[start] and returns it with
// the index just past the closing quote (§7.1).
func unquote(s string, start int) (string, int, error) {
	var b strings.Builder
	i := start + 1
	for i < len(s) {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated string")
			}
			switch s[i+1] {
			case '\\':
				b.WriteByte('\\')
			case '"':
				b.WriteByte('"')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+6 > len(s) {
					return "", 0, fmt.Errorf("invalid unicode escape")
				}
				n, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
				if err != nil || strings.ContainsAny(s[i+2:i+6], "+-") {
					return "", 0, fmt.Errorf("invalid unicode escape %q", s[i:i+6])
				}
				if n >= 0xD800 && n <= 0xDFFF {
					return "", 0, fmt.Errorf("surrogate escape %q is not allowed", s[i:i+6])
				}
				b.WriteRune(rune(n))
				i += 6
				continue
			default:
				return "", 0, fmt.Errorf("invalid escape \\%c", s[i+1])
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, fmt.Errorf("unterminated string")
}
