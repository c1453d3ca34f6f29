package channels

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkTelegramHTML reports why s is not valid for Telegram's HTML parse
// mode as we promise it: only allowed tags, balanced, nested within
// Telegram's rules, no raw < > &, complete entities, valid UTF-8.
func checkTelegramHTML(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8")
	}
	var stack []string
	in := func(tags ...string) bool {
		for _, t := range stack {
			for _, x := range tags {
				if t == x {
					return true
				}
			}
		}
		return false
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case '>':
			return fmt.Errorf("raw '>' at %d", i)
		case '&':
			ok := false
			for _, e := range []string{"&amp;", "&lt;", "&gt;", "&quot;"} {
				if strings.HasPrefix(s[i:], e) {
					i += len(e)
					ok = true
					break
				}
			}
			if !ok {
				return fmt.Errorf("bare '&' at %d: %q", i, s[i:min(len(s), i+10)])
			}
			continue
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return fmt.Errorf("unterminated tag at %d", i)
			}
			tag := s[i+1 : i+j]
			i += j + 1
			if strings.HasPrefix(tag, "/") {
				name := tag[1:]
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return fmt.Errorf("unbalanced </%s> (open: %v)", name, stack)
				}
				stack = stack[:len(stack)-1]
				continue
			}
			name := tag
			switch {
			case tag == "b" || tag == "i" || tag == "s":
				if in("code", "pre") {
					return fmt.Errorf("<%s> inside code", tag)
				}
			case tag == "code" || strings.HasPrefix(tag, "code "):
				name = "code"
				if tag != "code" {
					lang, ok := strings.CutPrefix(tag, `code class="language-`)
					if !ok || !strings.HasSuffix(lang, `"`) || sanitizeLang(strings.TrimSuffix(lang, `"`)) != strings.TrimSuffix(lang, `"`) {
						return fmt.Errorf("bad code tag %q", tag)
					}
					if len(stack) == 0 || stack[len(stack)-1] != "pre" {
						return fmt.Errorf("code with class outside pre")
					}
				} else if len(stack) > 0 {
					return fmt.Errorf("<code> nested in %v", stack)
				}
			case tag == "pre" || tag == "blockquote":
				if len(stack) > 0 {
					return fmt.Errorf("<%s> nested in %v", tag, stack)
				}
			case strings.HasPrefix(tag, `a href="`) && strings.HasSuffix(tag, `"`):
				name = "a"
				href := tag[len(`a href="`) : len(tag)-1]
				if strings.ContainsAny(href, `"<>`) || !safeURL(strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(href)) {
					return fmt.Errorf("bad href %q", href)
				}
				if in("a", "code", "pre", "blockquote") {
					return fmt.Errorf("<a> inside %v", stack)
				}
			default:
				return fmt.Errorf("tag not allowed: <%s>", tag)
			}
			stack = append(stack, name)
			continue
		}
		i++
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %v", stack)
	}
	return nil
}

var fuzzSeeds = []string{
	"",
	"plain",
	"**bold** *it* _it_ ~~s~~ `c<>&` [l](https://x.y/?a=1&b=\"q\")",
	"# H **b**\n- item `x`\n> quote [l](http://a) `c`\n\n```go\n<a>&\n```",
	"```\nunclosed fence <b>",
	"**unclosed *also `open [link](",
	"a_b_c *a **b* c** ***x***",
	"<https://auto.link/x> <notalink> & < >",
	"😀👍🏽🇫🇷 中文字符。日本語！ 한국어",
	"\xff\xfe invalid \x00 nul \r\n crlf",
	"[**bold link `code`**](https://x) [x](javascript:alert(1))",
	"~~~python\nx = '~~~'\n~~~~\n",
	"1. one\n2) two\n   - nested\n---\n***\n",
}

func FuzzTelegramHTML(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		out := TelegramHTML(md)
		if err := checkTelegramHTML(out); err != nil {
			t.Fatalf("TelegramHTML(%q) = %q: %v", md, out, err)
		}
	})
}

func FuzzWhatsAppText(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		for name, out := range map[string]string{"WhatsAppText": WhatsAppText(md), "PlainText": PlainText(md)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q: invalid UTF-8", name, md, out)
			}
		}
	})
}

func FuzzChunks(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, uint8(i*13))
		f.Add(strings.Repeat(s+"\n\n", 8), uint8(i*29))
	}
	f.Fuzz(func(t *testing.T, md string, l uint8) {
		limit := 50 + int(l)%151 // 50..200
		checkChunks(t, md, limit)
	})
}

// checkChunks asserts Chunks' promises for both real converters.
func checkChunks(t *testing.T, md string, limit int) {
	t.Helper()
	type conv struct {
		name    string
		convert func(string) string
		measure func(string) int
		valid   func(string) error
	}
	for _, c := range []conv{
		{"telegram", TelegramHTML, UTF16Len, checkTelegramHTML},
		{"whatsapp", WhatsAppText, RuneLen, nil},
	} {
		pieces := Chunks(md, limit, c.convert, c.measure)
		if strings.TrimSpace(c.convert(md)) != "" && len(pieces) == 0 {
			t.Fatalf("%s: Chunks(%q, %d) returned no pieces", c.name, md, limit)
		}
		for i, p := range pieces {
			if strings.TrimSpace(p) == "" {
				t.Fatalf("%s: Chunks(%q, %d): piece %d is blank", c.name, md, limit, i)
			}
			if n := c.measure(p); n > limit {
				t.Fatalf("%s: Chunks(%q, %d): piece %d has length %d: %q", c.name, md, limit, i, n, p)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("%s: Chunks(%q, %d): piece %d is invalid UTF-8", c.name, md, limit, i)
			}
			if c.valid != nil {
				if err := c.valid(p); err != nil {
					t.Fatalf("%s: Chunks(%q, %d): piece %d %q: %v", c.name, md, limit, i, p, err)
				}
			}
		}
	}
}
