package toon

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// header is a parsed array header (§6) without its key.
type header struct {
	n      int
	delim  byte
	fields []string // nil unless tabular
	// rowPos maps each distinct field name to its position in a decoded
	// row; a repeated name keeps its first position (last value wins).
	rowPos map[string]int
}

// parseHeader parses "[N<delim?>]{fields}:" at the start of s and returns
// the text after the colon.
func parseHeader(s string) (header, string, error) {
	var h header
	end := strings.IndexByte(s, ']')
	if !strings.HasPrefix(s, "[") || end < 0 {
		return h, "", errors.New("malformed array header")
	}
	inner := s[1:end]
	h.delim = ','
	if strings.HasSuffix(inner, "\t") || strings.HasSuffix(inner, "|") {
		h.delim = inner[len(inner)-1]
		inner = inner[:len(inner)-1]
	}
	if !isLength(inner) {
		return h, "", fmt.Errorf("invalid array length %q", inner)
	}
	n, err := strconv.Atoi(inner)
	if err != nil {
		return h, "", fmt.Errorf("invalid array length %q", inner)
	}
	h.n = n
	rest := s[end+1:]
	if strings.HasPrefix(rest, "{") {
		close := closingBrace(rest)
		if close < 0 {
			return h, "", errors.New("unterminated field list")
		}
		fields, err := parseFields(rest[1:close], h.delim)
		if err != nil {
			return h, "", err
		}
		h.fields = fields
		h.rowPos = make(map[string]int, len(fields))
		for _, f := range fields {
			if _, ok := h.rowPos[f]; !ok {
				h.rowPos[f] = len(h.rowPos)
			}
		}
		rest = rest[close+1:]
	}
	if !strings.HasPrefix(rest, ":") {
		return h, "", errors.New("expected ':' after array header")
	}
	return h, strings.Trim(rest[1:], " "), nil
}

func isLength(s string) bool {
	return s == "0" || (s != "" && s[0] >= '1' && s[0] <= '9' && strings.Trim(s, "0123456789") == "")
}

func closingBrace(s string) int {
	in := false
	for i := 0; i < len(s); i++ {
		switch {
		case in && s[i] == '\\':
			i++
		case s[i] == '"':
			in = !in
		case !in && s[i] == '}':
			return i
		}
	}
	return -1
}

func parseFields(s string, delim byte) ([]string, error) {
	for _, other := range []byte{',', '|', '\t'} {
		if other != delim && firstUnquoted(s, other) >= 0 {
			return nil, fmt.Errorf("field list delimiter does not match header delimiter %q", delim)
		}
	}
	var fields []string
	for _, tok := range splitDelimited(s, delim) {
		if strings.HasPrefix(tok, `"`) {
			f, end, err := unquote(tok, 0)
			if err != nil {
				return nil, err
			}
			if end != len(tok) {
				return nil, errors.New("unexpected characters after quoted field name")
			}
			fields = append(fields, f)
			continue
		}
		fields = append(fields, tok)
	}
	return fields, nil
}

// splitDelimited splits s on unquoted delim and trims spaces around tokens
// (§11.2, Appendix B.3).
func splitDelimited(s string, delim byte) []string {
	var out []string
	in := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case in && s[i] == '\\':
			i++
		case s[i] == '"':
			in = !in
		case !in && s[i] == delim:
			out = append(out, strings.Trim(s[start:i], " "))
			start = i + 1
		}
	}
	return append(out, strings.Trim(s[start:], " "))
}

// arrayBody reads the array declared by h: inline values, tabular rows or
// list items at itemDepth.
func (p *parser) arrayBody(h header, inline string, num, itemDepth int) (any, error) {
	if h.fields != nil {
		if inline != "" {
			return nil, p.errf(num, "unexpected content after tabular header")
		}
		return p.tabular(h, num, itemDepth)
	}
	if inline != "" {
		toks := splitDelimited(inline, h.delim)
		if p.strict && len(toks) != h.n {
			return nil, p.errf(num, "array declares %d values, found %d", h.n, len(toks))
		}
		out := make([]any, 0, len(toks))
		for _, t := range toks {
			v, err := p.primitive(t, num)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return p.list(h, num, itemDepth)
}

func (p *parser) tabular(h header, num, rowDepth int) (any, error) {
	p.inArr++
	defer func() { p.inArr-- }()
	out := []any{}
	for {
		i, skipped := p.next()
		if i < 0 {
			break
		}
		ln := p.lines[i]
		if ln.depth < rowDepth {
			break
		}
		if ln.depth > rowDepth {
			return nil, p.errf(ln.num, "unexpected indentation in tabular rows")
		}
		c := firstUnquoted(ln.text, ':')
		if d := firstUnquoted(ln.text, h.delim); c >= 0 && (d < 0 || c < d) {
			break // a key-value line ends the rows
		}
		if skipped && len(out) > 0 && p.strict {
			return nil, p.errf(ln.num, "blank line inside tabular rows")
		}
		p.pos = i + 1
		cells := splitDelimited(ln.text, h.delim)
		if p.strict && len(cells) != len(h.fields) {
			return nil, p.errf(ln.num, "row has %d values, header declares %d fields", len(cells), len(h.fields))
		}
		row := make(Object, 0, len(h.fields))
		for j, f := range h.fields {
			var v any
			if j < len(cells) {
				var err error
				if v, err = p.primitive(cells[j], ln.num); err != nil {
					return nil, err
				}
			}
			if k := h.rowPos[f]; k < len(row) { // repeated field name
				row[k].Value = v
				continue
			}
			row = append(row, Member{Key: f, Value: v})
		}
		out = append(out, row)
	}
	if p.strict && len(out) != h.n {
		return nil, p.errf(num, "array declares %d rows, found %d", h.n, len(out))
	}
	return out, nil
}

func (p *parser) list(h header, num, itemDepth int) (any, error) {
	p.inArr++
	defer func() { p.inArr-- }()
	out := []any{}
	for {
		i, skipped := p.next()
		if i < 0 {
			break
		}
		ln := p.lines[i]
		if ln.depth < itemDepth {
			break
		}
		if ln.depth > itemDepth {
			return nil, p.errf(ln.num, "unexpected indentation in list")
		}
		if ln.text != "-" && !strings.HasPrefix(ln.text, "- ") {
			break
		}
		if skipped && len(out) > 0 && p.strict {
			return nil, p.errf(ln.num, "blank line inside list")
		}
		p.pos = i + 1
		v, err := p.listItem(ln)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if p.strict && len(out) != h.n {
		return nil, p.errf(num, "array declares %d items, found %d", h.n, len(out))
	}
	return out, nil
}

// listItem decodes one "- ..." line and its nested content (§9.4, §10).
func (p *parser) listItem(ln line) (any, error) {
	if ln.text == "-" {
		return Object{}, nil
	}
	body := strings.Trim(ln.text[2:], " ")
	if strings.HasPrefix(body, "[") {
		h, rest, err := parseHeader(body)
		if err == nil {
			return p.arrayBody(h, rest, ln.num, ln.depth+1)
		}
		if body == "[]" {
			return []any{}, nil
		}
		if p.strict && isKeyValue(body) {
			return nil, p.errf(ln.num, "%v", err)
		}
	}
	if !isKeyValue(body) {
		return p.primitive(body, ln.num)
	}
	obj := Object{}
	seen := map[string]bool{}
	if err := p.field(&obj, seen, body, ln.num, ln.depth+2); err != nil {
		return nil, err
	}
	if err := p.objectIntoSeen(&obj, seen, ln.depth+1); err != nil {
		return nil, err
	}
	return obj, nil
}
