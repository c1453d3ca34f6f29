package channels

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConvert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, md   string
		tg, wa, pl string
	}{
		{
			name: "escapes",
			md:   "a < b && c > d",
			tg:   "a &lt; b &amp;&amp; c &gt; d",
			wa:   "a < b && c > d",
			pl:   "a < b && c > d",
		},
		{
			name: "html in text is text",
			md:   "<b>not bold</b> <script>",
			tg:   "&lt;b&gt;not bold&lt;/b&gt; &lt;script&gt;",
			wa:   "<b>not bold</b> <script>",
			pl:   "<b>not bold</b> <script>",
		},
		{
			name: "nested bold italic",
			md:   "**bold _and italic_ bold**",
			tg:   "<b>bold <i>and italic</i> bold</b>",
			wa:   "*bold _and italic_ bold*",
			pl:   "bold and italic bold",
		},
		{
			name: "triple star and closing run",
			md:   "***both*** and **bold *italic***",
			tg:   "<b><i>both</i></b> and <b>bold <i>italic</i></b>",
			wa:   "*_both_* and *bold _italic_*",
			pl:   "both and bold italic",
		},
		{
			name: "bold inside bold is not doubled",
			md:   "**a **b** c**",
			tg:   "<b>a b c</b>",
			wa:   "*a b c*",
			pl:   "a b c",
		},
		{
			name: "code with html inside",
			md:   "`<script>alert(\"x\") & co</script>`",
			tg:   "<code>&lt;script&gt;alert(\"x\") &amp; co&lt;/script&gt;</code>",
			wa:   "`<script>alert(\"x\") & co</script>`",
			pl:   "<script>alert(\"x\") & co</script>",
		},
		{
			name: "code keeps markup literal",
			md:   "`**not bold** [x](https://y)`",
			tg:   "<code>**not bold** [x](https://y)</code>",
			wa:   "`**not bold** [x](https://y)`",
			pl:   "**not bold** [x](https://y)",
		},
		{
			name: "link with quotes and ampersands",
			md:   "[Tom & \"Jerry\"](https://example.com/?q=a&b=\"c\")",
			tg:   "<a href=\"https://example.com/?q=a&amp;b=&quot;c&quot;\">Tom &amp; \"Jerry\"</a>",
			wa:   "Tom & \"Jerry\" (https://example.com/?q=a&b=\"c\")",
			pl:   "Tom & \"Jerry\" (https://example.com/?q=a&b=\"c\")",
		},
		{
			name: "link text equal to url",
			md:   "[https://same.url](https://same.url)",
			tg:   "<a href=\"https://same.url\">https://same.url</a>",
			wa:   "https://same.url",
			pl:   "https://same.url",
		},
		{
			name: "autolink",
			md:   "<https://auto.link/p?a=1&b=2>",
			tg:   "<a href=\"https://auto.link/p?a=1&amp;b=2\">https://auto.link/p?a=1&amp;b=2</a>",
			wa:   "https://auto.link/p?a=1&b=2",
			pl:   "https://auto.link/p?a=1&b=2",
		},
		{
			name: "unsafe and relative urls are not links",
			md:   "[rel](/relative/path) [js](javascript:alert(1))",
			tg:   "rel (/relative/path) js (javascript:alert(1))",
			wa:   "rel (/relative/path) js (javascript:alert(1))",
			pl:   "rel (/relative/path) js (javascript:alert(1))",
		},
		{
			name: "code inside bold or link degrades (telegram nesting rules)",
			md:   "**bold `code`** [a `b`](https://x.y)",
			tg:   "<b>bold code</b> <a href=\"https://x.y\">a b</a>",
			wa:   "*bold `code`* a `b` (https://x.y)",
			pl:   "bold code a b (https://x.y)",
		},
		{
			name: "fence with language",
			md:   "```python\nif a < b and c & d:\n    print(\"<>\")\n```",
			tg:   "<pre><code class=\"language-python\">if a &lt; b and c &amp; d:\n    print(\"&lt;&gt;\")</code></pre>",
			wa:   "```if a < b and c & d:\n    print(\"<>\")```",
			pl:   "if a < b and c & d:\n    print(\"<>\")",
		},
		{
			name: "fence without language, tildes, info words",
			md:   "```\nno lang\n```\n~~~c++ extra\nx\n~~~",
			tg:   "<pre>no lang</pre>\n<pre><code class=\"language-c++\">x</code></pre>",
			wa:   "```no lang```\n```x```",
			pl:   "no lang\nx",
		},
		{
			name: "hostile fence language dropped",
			md:   "```\"><script>\nx\n```",
			tg:   "<pre>x</pre>",
			wa:   "```x```",
			pl:   "x",
		},
		{
			name: "unclosed fence runs to the end",
			md:   "text\n```go\nfunc main() {}",
			tg:   "text\n<pre><code class=\"language-go\">func main() {}</code></pre>",
			wa:   "text\n```func main() {}```",
			pl:   "text\nfunc main() {}",
		},
		{
			name: "unterminated markup is text",
			md:   "**unterminated bold and *italic and `code and [link](",
			tg:   "**unterminated bold and *italic and `code and [link](",
			wa:   "**unterminated bold and *italic and `code and [link](",
			pl:   "**unterminated bold and *italic and `code and [link](",
		},
		{
			name: "strike, snake case, arithmetic",
			md:   "~~gone~~ ~single~ snake_case_word 2 * 3 * 4",
			tg:   "<s>gone</s> ~single~ snake_case_word 2 * 3 * 4",
			wa:   "~gone~ ~single~ snake_case_word 2 * 3 * 4",
			pl:   "gone ~single~ snake_case_word 2 * 3 * 4",
		},
		{
			name: "headings",
			md:   "# Heading with **bold**\n## Second ##",
			tg:   "<b>Heading with bold</b>\n<b>Second</b>",
			wa:   "*Heading with bold*\n*Second*",
			pl:   "Heading with bold\nSecond",
		},
		{
			name: "lists",
			md:   "- item one\n  - nested *it*\n* star item\n3) third",
			tg:   "• item one\n  • nested <i>it</i>\n• star item\n3. third",
			wa:   "• item one\n  • nested _it_\n• star item\n3. third",
			pl:   "• item one\n  • nested it\n• star item\n3. third",
		},
		{
			name: "quote degrades links and code",
			md:   "> quoted *it* [link](https://x.y) `c`\n> second & line",
			tg:   "<blockquote>quoted <i>it</i> link (https://x.y) c\nsecond &amp; line</blockquote>",
			wa:   "> quoted _it_ link (https://x.y) `c`\n> second & line",
			pl:   "> quoted it link (https://x.y) c\n> second & line",
		},
		{
			name: "blank lines collapse, backslash escapes, rule",
			md:   "one\ntwo\n\n\n\n\\*not italic\\* \\`x\\`\n\n---",
			tg:   "one\ntwo\n\n*not italic* `x`\n\n———",
			wa:   "one\ntwo\n\n*not italic* `x`\n\n———",
			pl:   "one\ntwo\n\n*not italic* `x`\n\n———",
		},
		{
			name: "invalid utf-8 and controls",
			md:   "a\xffb\x00c\r\nd",
			tg:   "a\uFFFDbc\nd",
			wa:   "a\uFFFDbc\nd",
			pl:   "a\uFFFDbc\nd",
		},
		{
			name: "closer after a space is text",
			md:   "**bold ** x",
			tg:   "**bold ** x",
			wa:   "**bold ** x",
			pl:   "**bold ** x",
		},
		{name: "empty", md: "", tg: "", wa: "", pl: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.tg, TelegramHTML(tt.md)); diff != "" {
				t.Errorf("TelegramHTML(%q) mismatch (-want +got):\n%s", tt.md, diff)
			}
			if err := checkTelegramHTML(TelegramHTML(tt.md)); err != nil {
				t.Errorf("TelegramHTML(%q) invalid: %v", tt.md, err)
			}
			if diff := cmp.Diff(tt.wa, WhatsAppText(tt.md)); diff != "" {
				t.Errorf("WhatsAppText(%q) mismatch (-want +got):\n%s", tt.md, diff)
			}
			if diff := cmp.Diff(tt.pl, PlainText(tt.md)); diff != "" {
				t.Errorf("PlainText(%q) mismatch (-want +got):\n%s", tt.md, diff)
			}
		})
	}
}

func TestWAWrap(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"x", "*x*"},
		{" x ", " *x* "},
		{"  ", "  "},
	} {
		if got := waWrap("*", tt.in); got != tt.want {
			t.Errorf("waWrap(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLengths(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s            string
		utf16, runes int
	}{
		{"", 0, 0},
		{"abc", 3, 3},
		{"é中", 2, 2},
		{"😀", 2, 1},
		{"👍🏽", 4, 2},
		{"\xff", 1, 1},
	} {
		if got := UTF16Len(tt.s); got != tt.utf16 {
			t.Errorf("UTF16Len(%q) = %d, want %d", tt.s, got, tt.utf16)
		}
		if got := RuneLen(tt.s); got != tt.runes {
			t.Errorf("RuneLen(%q) = %d, want %d", tt.s, got, tt.runes)
		}
	}
}
