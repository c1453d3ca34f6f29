package channels

import "strings"

// flavor selects the output of render.
type flavor uint8

const (
	flavorTelegram flavor = iota
	flavorWhatsApp
	flavorPlain
)

// ruleText stands in for a horizontal rule on every platform.
const ruleText = "———"

// render converts Markdown to one flavor. Output keeps the source's line
// structure: one output line per source line, blank-line runs collapsed to
// one, fence lines replaced by the platform's code markup.
func render(md string, f flavor) string {
	md = normalize(md)
	var out strings.Builder
	out.Grow(len(md) + len(md)/4)
	blank, first := false, true
	bs := parseBlocks(md)
	for i := range bs {
		b := &bs[i]
		s := renderBlock(b, f)
		if strings.TrimSpace(s) == "" {
			blank = blank || b.blankAfter
			continue
		}
		if !first {
			if blank {
				out.WriteString("\n\n")
			} else {
				out.WriteByte('\n')
			}
		}
		out.WriteString(s)
		first = false
		blank = b.blankAfter
	}
	return strings.TrimSpace(out.String())
}

func renderBlock(b *block, f flavor) string {
	var sb strings.Builder
	switch b.kind {
	case blockRule:
		return ruleText
	case blockFence:
		return renderFence(b, f)
	case blockHeading:
		nodes, _ := parseInline(b.inline())
		inner := renderInline(nodes, f, ictx{b: true})
		if strings.TrimSpace(inner) == "" {
			return ""
		}
		switch f {
		case flavorTelegram:
			return "<b>" + inner + "</b>"
		case flavorWhatsApp:
			return waWrap("*", inner)
		}
		return inner
	case blockItem:
		nodes, _ := parseInline(b.inline())
		inner := renderInline(nodes, f, ictx{})
		sb.WriteString(strings.Repeat("  ", b.level))
		sb.WriteString(b.marker)
		sb.WriteByte(' ')
		sb.WriteString(inner)
		return sb.String()
	case blockQuote:
		nodes, _ := parseInline(b.inline())
		inner := renderInline(nodes, f, ictx{quote: true})
		if strings.TrimSpace(inner) == "" {
			return ""
		}
		switch f {
		case flavorTelegram:
			return "<blockquote>" + strings.Trim(inner, "\n") + "</blockquote>"
		default:
			return "> " + strings.ReplaceAll(strings.Trim(inner, "\n"), "\n", "\n> ")
		}
	}
	nodes, _ := parseInline(b.inline())
	return renderInline(nodes, f, ictx{})
}

func renderFence(b *block, f flavor) string {
	if strings.TrimSpace(b.code) == "" {
		return ""
	}
	switch f {
	case flavorTelegram:
		if b.lang != "" {
			return `<pre><code class="language-` + escapeHTML(b.lang) + `">` + escapeHTML(b.code) + "</code></pre>"
		}
		return "<pre>" + escapeHTML(b.code) + "</pre>"
	case flavorWhatsApp:
		return "```" + b.code + "```"
	}
	return b.code
}

// ictx is the formatting already open around an inline node. Telegram
// forbids code inside bold/italic/strike/links and links or code inside
// blockquotes, and a tag nested in itself is pointless, so these degrade
// to plain text.
type ictx struct {
	b, i, s, a, quote bool
}

func (c ictx) formatted() bool { return c.b || c.i || c.s || c.a || c.quote }

func renderInline(ns []node, f flavor, c ictx) string {
	var sb strings.Builder
	writeInline(&sb, ns, f, c)
	return sb.String()
}

func writeInline(sb *strings.Builder, ns []node, f flavor, c ictx) {
	for _, n := range ns {
		switch n.kind {
		case nodeText:
			if f == flavorTelegram {
				sb.WriteString(escapeHTML(n.text))
			} else {
				sb.WriteString(n.text)
			}
		case nodeCode:
			writeCode(sb, n.text, f, c)
		case nodeStrong:
			cc := c
			cc.b = true
			writeWrapped(sb, n.kids, f, cc, c.b, "b", "*")
		case nodeEm:
			cc := c
			cc.i = true
			writeWrapped(sb, n.kids, f, cc, c.i, "i", "_")
		case nodeStrike:
			cc := c
			cc.s = true
			writeWrapped(sb, n.kids, f, cc, c.s, "s", "~")
		case nodeLink:
			writeLink(sb, n, f, c)
		}
	}
}

func writeCode(sb *strings.Builder, text string, f flavor, c ictx) {
	if text == "" {
		return
	}
	switch f {
	case flavorTelegram:
		if c.formatted() {
			sb.WriteString(escapeHTML(text))
			return
		}
		sb.WriteString("<code>")
		sb.WriteString(escapeHTML(text))
		sb.WriteString("</code>")
	case flavorWhatsApp:
		if strings.Contains(text, "`") || strings.TrimSpace(text) != text {
			sb.WriteString(text)
			return
		}
		sb.WriteString("`" + text + "`")
	default:
		sb.WriteString(text)
	}
}

// writeWrapped renders kids inside a Telegram tag or WhatsApp marker,
// unless the same formatting is already open (nested) or kids are empty.
func writeWrapped(sb *strings.Builder, kids []node, f flavor, c ictx, nested bool, tag, marker string) {
	inner := renderInline(kids, f, c)
	if nested || inner == "" || f == flavorPlain {
		sb.WriteString(inner)
		return
	}
	if f == flavorTelegram {
		sb.WriteString("<" + tag + ">" + inner + "</" + tag + ">")
		return
	}
	sb.WriteString(waWrap(marker, inner))
}

// waWrap puts WhatsApp markers around s, moving surrounding whitespace
// outside: WhatsApp ignores "*bold *".
func waWrap(marker, s string) string {
	core := strings.TrimSpace(s)
	if core == "" {
		return s
	}
	i := strings.Index(s, core)
	return s[:i] + marker + core + marker + s[i+len(core):]
}

func writeLink(sb *strings.Builder, n node, f flavor, c ictx) {
	if f == flavorTelegram && !c.a && !c.quote && safeURL(n.url) {
		cc := c
		cc.a = true
		inner := renderInline(n.kids, f, cc)
		if strings.TrimSpace(inner) == "" {
			inner = escapeHTML(n.url)
		}
		sb.WriteString(`<a href="` + escapeAttr(n.url) + `">` + inner + "</a>")
		return
	}
	cc := c
	cc.a = true
	inner := renderInline(n.kids, f, cc)
	plain := renderInline(n.kids, flavorPlain, cc)
	url := n.url
	if f == flavorTelegram {
		url = escapeHTML(url)
	}
	switch {
	case n.url == "" || strings.TrimSpace(plain) == n.url:
		if strings.TrimSpace(inner) == "" {
			inner = url
		}
		sb.WriteString(inner)
	case strings.TrimSpace(inner) == "":
		sb.WriteString(url)
	default:
		sb.WriteString(inner + " (" + url + ")")
	}
}

var (
	htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
)

func escapeHTML(s string) string { return htmlEscaper.Replace(s) }
func escapeAttr(s string) string { return attrEscaper.Replace(s) }
