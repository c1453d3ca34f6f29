package toon

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Marshal encodes v as a TOON document (no trailing newline). See the package
// comment for the accepted Go types.
func Marshal(v any, opts EncodeOptions) ([]byte, error) {
	d := delimOrDefault(opts.Delimiter)
	if d != ',' && d != '\t' && d != '|' {
		return nil, fmt.Errorf("toon: delimiter %q: must be ',', '\\t' or '|'", d)
	}
	if opts.Indent < 0 || opts.FlattenDepth < 0 {
		return nil, fmt.Errorf("toon: negative indent or flatten depth")
	}
	n, err := normalize(v)
	if err != nil {
		return nil, err
	}
	e := &encoder{indent: indentOrDefault(opts.Indent), delim: d, fold: opts.KeyFolding == KeyFoldingSafe, flatten: opts.FlattenDepth}
	switch t := n.(type) {
	case Object:
		e.rootDotted = map[string]bool{}
		for _, m := range t {
			if strings.Contains(m.Key, ".") {
				e.rootDotted[m.Key] = true
			}
		}
		e.object(t, 0, true, scope{rooted: true})
	case []any:
		e.array("", t, 0)
	default:
		e.line(0, e.primitive(t, d))
	}
	return []byte(strings.Join(e.lines, "\n")), nil
}

type encoder struct {
	indent  int
	delim   rune
	fold    bool
	flatten int
	lines   []string
	// rootDotted holds the root object's literal dotted keys: a fold deeper
	// down must not produce the same absolute path (§13.4 collision rule).
	rootDotted map[string]bool
}

// scope is the key path from the root to the object being written; rooted is
// false inside arrays, where paths cannot collide with root keys.
type scope struct {
	prefix string
	rooted bool
}

func (s scope) child(key string) scope {
	if s.prefix == "" {
		return scope{prefix: key, rooted: s.rooted}
	}
	return scope{prefix: s.prefix + "." + key, rooted: s.rooted}
}

func (e *encoder) line(depth int, s string) {
	e.lines = append(e.lines, strings.Repeat(" ", depth*e.indent)+s)
}

// object writes the members of o at depth. fold says whether key folding may
// start here (it is off inside the remainder of a partially folded chain).
func (e *encoder) object(o Object, depth int, fold bool, sc scope) {
	for _, m := range o {
		e.member(o, m, depth, fold, sc)
	}
}

// member writes one member m of siblings at depth, folding its key chain
// when enabled; collisions are judged against all siblings.
func (e *encoder) member(siblings Object, m Member, depth int, fold bool, sc scope) {
	if fold && e.fold {
		if fk, fv, ok := e.foldChain(siblings, m, sc); ok {
			e.field(fk, fk, fv, depth, false, sc)
			return
		}
	}
	e.field(encodeKey(m.Key), m.Key, m.Value, depth, fold, sc)
}

// foldChain collapses a chain of single-key objects starting at m (§13.4).
// It returns the already-encoded dotted key and the remaining value.
func (e *encoder) foldChain(siblings Object, m Member, sc scope) (string, any, bool) {
	if !isIdentSegment(m.Key) {
		return "", nil, false
	}
	limit := e.flatten
	if limit == 0 {
		limit = int(^uint(0) >> 1)
	}
	segs := []string{m.Key}
	cur := m.Value
	for len(segs) < limit {
		o, ok := cur.(Object)
		if !ok || len(o) != 1 || !isIdentSegment(o[0].Key) {
			break
		}
		segs = append(segs, o[0].Key)
		cur = o[0].Value
	}
	if len(segs) < 2 {
		return "", nil, false
	}
	key := strings.Join(segs, ".")
	if siblings.index(key) >= 0 || (sc.rooted && e.rootDotted[sc.child(key).prefix]) {
		return "", nil, false
	}
	return key, cur, true
}

// field writes one "key: value" entry (key already encoded) at depth.
// raw is the unencoded key, used to track the key path.
func (e *encoder) field(key, raw string, v any, depth int, fold bool, sc scope) {
	switch t := v.(type) {
	case Object:
		e.line(depth, key+":")
		e.object(t, depth+1, fold, sc.child(raw))
	case []any:
		e.array(key, t, depth)
	default:
		e.line(depth, key+": "+e.primitive(t, e.delim))
	}
}

func (e *encoder) delimSym() string {
	if e.delim == ',' {
		return ""
	}
	return string(e.delim)
}

func (e *encoder) header(key string, n int, fields []string) string {
	var b strings.Builder
	b.WriteString(key)
	b.WriteString("[" + strconv.Itoa(n) + e.delimSym() + "]")
	if fields != nil {
		b.WriteString("{")
		for i, f := range fields {
			if i > 0 {
				b.WriteRune(e.delim)
			}
			b.WriteString(encodeKey(f))
		}
		b.WriteString("}")
	}
	b.WriteString(":")
	return b.String()
}

func (e *encoder) inline(arr []any) string {
	parts := make([]string, len(arr))
	for i, v := range arr {
		parts[i] = e.primitive(v, e.delim)
	}
	return strings.Join(parts, string(e.delim))
}

// array writes an array field (key already encoded; "" at the root).
func (e *encoder) array(key string, arr []any, depth int) {
	switch {
	case len(arr) == 0:
		if key == "" {
			e.line(depth, "[]")
		} else {
			e.line(depth, key+": []")
		}
	case allPrimitive(arr):
		e.line(depth, e.header(key, len(arr), nil)+" "+e.inline(arr))
	default:
		if fields := tabularFields(arr); fields != nil {
			e.line(depth, e.header(key, len(arr), fields))
			for _, v := range arr {
				o := v.(Object)
				cells := make([]string, len(fields))
				for i, f := range fields {
					fv, _ := o.Get(f)
					cells[i] = e.primitive(fv, e.delim)
				}
				e.line(depth+1, strings.Join(cells, string(e.delim)))
			}
			return
		}
		e.line(depth, e.header(key, len(arr), nil))
		for _, v := range arr {
			e.listItem(v, depth+1)
		}
	}
}

// listItem writes one "- ..." entry of an expanded list at depth.
func (e *encoder) listItem(v any, depth int) {
	switch t := v.(type) {
	case []any:
		if allPrimitive(t) {
			h := e.header("", len(t), nil)
			if len(t) > 0 {
				h += " " + e.inline(t)
			}
			e.line(depth, "- "+h)
			return
		}
		e.line(depth, "- "+e.header("", len(t), nil))
		for _, c := range t {
			e.listItem(c, depth+1)
		}
	case Object:
		if len(t) == 0 {
			e.line(depth, "-")
			return
		}
		// Encode the object at depth+1, then hoist its first line onto the
		// hyphen: children of the first field land at depth+2 as §10 requires.
		start := len(e.lines)
		e.member(t, t[0], depth+1, true, scope{})
		e.lines[start] = strings.Repeat(" ", depth*e.indent) + "- " + strings.TrimLeft(e.lines[start], " ")
		for _, m := range t[1:] {
			e.member(t, m, depth+1, true, scope{})
		}
	default:
		e.line(depth, "- "+e.primitive(t, e.delim))
	}
}

func isPrimitive(v any) bool {
	switch v.(type) {
	case Object, []any:
		return false
	}
	return true
}

func allPrimitive(arr []any) bool {
	for _, v := range arr {
		if !isPrimitive(v) {
			return false
		}
	}
	return true
}

// tabularFields returns the shared field list when arr qualifies for the
// tabular form (§9.3), or nil.
func tabularFields(arr []any) []string {
	first, ok := arr[0].(Object)
	if !ok || len(first) == 0 {
		return nil
	}
	fields := make([]string, len(first))
	for i, m := range first {
		fields[i] = m.Key
	}
	for _, v := range arr {
		o, ok := v.(Object)
		if !ok || len(o) != len(fields) {
			return nil
		}
		for _, m := range o {
			if !isPrimitive(m.Value) || first.index(m.Key) < 0 {
				return nil
			}
		}
	}
	return fields
}

// primitive renders a normalized primitive with delimiter-aware quoting.
func (e *encoder) primitive(v any, delim rune) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		return string(t)
	case string:
		if needsQuote(t, delim) {
			return quote(t)
		}
		return t
	}
	return "null"
}

// needsQuote applies the §7.2 rules.
func needsQuote(s string, delim rune) bool {
	if s == "" || s != strings.TrimSpace(s) || s == "true" || s == "false" || s == "null" {
		return true
	}
	if isNumericLike(s) || s[0] == '-' {
		return true
	}
	for _, r := range s {
		switch {
		case r == ':' || r == '"' || r == '\\' || r == '[' || r == ']' || r == '{' || r == '}':
			return true
		case r < 0x20 || r == delim:
			return true
		}
	}
	return false
}

// isNumericLike matches /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i.
func isNumericLike(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		st := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > st
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// quote escapes s per §7.1.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// encodeKey quotes a key unless it matches ^[A-Za-z_][A-Za-z0-9_.]*$.
func encodeKey(k string) string {
	if isUnquotedKey(k) {
		return k
	}
	return quote(k)
}

func isUnquotedKey(k string) bool {
	if k == "" || !(isAlpha(k[0]) || k[0] == '_') {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(isAlpha(c) || isDigit(c) || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isIdentSegment reports whether k matches ^[A-Za-z_][A-Za-z0-9_]*$.
func isIdentSegment(k string) bool {
	return isUnquotedKey(k) && !strings.Contains(k, ".")
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
