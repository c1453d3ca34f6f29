package channels

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func identity(s string) string { return s }

// longReply builds a ~10,000-character model reply with every construct.
func longReply() string {
	var b strings.Builder
	for i := 0; b.Len() < 10000; i++ {
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "## Section %d\n\n", i)
		case 1:
			fmt.Fprintf(&b, "Paragraph %d has **bold words**, *italic*, `code <x>` and a [link](https://example.com/%d?a=1&b=2). It goes on for a while so that lines are long enough to matter. Another sentence ends here! Does this one? Yes.\n\n", i, i)
		case 2:
			fmt.Fprintf(&b, "- item %d with ~~strike~~\n- item with _emphasis_ and 中文字符\n- emoji 👍🏽 and 🇫🇷 flags\n\n", i)
		case 3:
			fmt.Fprintf(&b, "```go\nfunc f%d() {\n\tfmt.Println(\"<%d> & done\")\n}\n```\n\n", i, i)
		case 4:
			fmt.Fprintf(&b, "> A quote %d with *style*\n> over two lines.\n\n", i)
		}
	}
	return b.String()
}

// reassemble joins identity-converted pieces, undoing the fence closes and
// reopens Chunks adds.
func reassemble(t *testing.T, pieces []string) string {
	t.Helper()
	var b strings.Builder
	for i, p := range pieces {
		if i > 0 && strings.HasPrefix(p, "```") && strings.HasSuffix(pieces[i-1], "\n```") {
			nl := strings.IndexByte(p, '\n')
			if nl < 0 {
				t.Fatalf("piece %d reopens a fence without a newline: %q", i, p)
			}
			p = p[nl+1:]
		}
		if i+1 < len(pieces) && strings.HasSuffix(p, "\n```") && strings.HasPrefix(pieces[i+1], "```") && !strings.HasSuffix(p, "```\n") {
			p = strings.TrimSuffix(p, "```")
			p = strings.TrimSuffix(p, "\n")
			if !strings.HasSuffix(p, "\n") {
				p += "\n"
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

func TestChunksLongReply(t *testing.T) {
	t.Parallel()
	md := longReply()
	if n := len(md); n < 10000 {
		t.Fatalf("reply is %d bytes", n)
	}
	for _, tt := range []struct {
		name    string
		convert func(string) string
		measure func(string) int
		limit   int
	}{
		{"telegram", TelegramHTML, UTF16Len, TelegramLimit},
		{"telegram-small", TelegramHTML, UTF16Len, 500},
		{"whatsapp", WhatsAppText, RuneLen, WhatsAppChunk},
		{"whatsapp-small", WhatsAppText, RuneLen, 300},
		{"plain", PlainText, RuneLen, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pieces := Chunks(md, tt.limit, tt.convert, tt.measure)
			if len(pieces) < 2 {
				t.Fatalf("got %d pieces, want a split", len(pieces))
			}
			for i, p := range pieces {
				if n := tt.measure(p); n > tt.limit || n == 0 {
					t.Errorf("piece %d: length %d, limit %d", i, n, tt.limit)
				}
				if strings.Contains(p, "**") {
					t.Errorf("piece %d has a cut-in-half bold: %q", i, p)
				}
				if tt.name[:3] == "tel" {
					if err := checkTelegramHTML(p); err != nil {
						t.Errorf("piece %d: %v", i, err)
					}
				}
			}
			// Nothing lost, in order: the pieces' plain words equal the
			// whole's.
			want := strings.Fields(PlainText(md))
			var got []string
			for _, p := range Chunks(md, tt.limit, PlainText, tt.measure) {
				got = append(got, strings.Fields(p)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("words differ after splitting (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("identity reassembles", func(t *testing.T) {
		t.Parallel()
		for _, limit := range []int{200, 700, 3000} {
			pieces := Chunks(md, limit, identity, RuneLen)
			for i, p := range pieces {
				if RuneLen(p) > limit {
					t.Errorf("limit %d: piece %d has %d runes", limit, i, RuneLen(p))
				}
			}
			if diff := cmp.Diff(md, reassemble(t, pieces)); diff != "" {
				t.Errorf("limit %d: reassembled differs (-want +got):\n%s", limit, diff)
			}
		}
	})
}

func TestChunksPrefersParagraphs(t *testing.T) {
	t.Parallel()
	para := strings.Repeat("word ", 30) // 150 bytes
	md := para + "\n\n" + para + "\n\n" + para
	pieces := Chunks(md, 320, identity, RuneLen)
	want := []string{para + "\n\n" + para + "\n\n", para}
	if diff := cmp.Diff(want, pieces); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestChunksKeepsHeadingWithText(t *testing.T) {
	t.Parallel()
	para := strings.Repeat("word ", 30) // 150 bytes
	md := para + "\n\n## Next\n\n" + para
	pieces := Chunks(md, 200, identity, RuneLen)
	want := []string{para + "\n\n", "## Next\n\n" + para}
	if diff := cmp.Diff(want, pieces); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestChunksBoundaryClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		md    string
		limit int
		want  []string
	}{
		{
			name:  "line",
			md:    "first line is here\nsecond line is here\nthird",
			limit: 40,
			want:  []string{"first line is here\nsecond line is here\n", "third"},
		},
		{
			name:  "sentence",
			md:    "One sentence here. Two sentence here. Three",
			limit: 40,
			want:  []string{"One sentence here. Two sentence here. ", "Three"},
		},
		{
			name:  "sentence over word",
			md:    "Short one. Then a much longer second sentence",
			limit: 30,
			want:  []string{"Short one. Then a much longer ", "second sentence"},
		},
		{
			name:  "word",
			md:    "alpha beta gamma delta epsilon",
			limit: 20,
			want:  []string{"alpha beta gamma ", "delta epsilon"},
		},
		{
			name:  "bold is not cut",
			md:    "plain words **bold words here** tail",
			limit: 25,
			want:  []string{"plain words ", "**bold words here** tail"},
		},
		{
			name:  "link is not cut",
			md:    "see [the docs](https://x.y/z) now",
			limit: 28,
			want:  []string{"see ", "[the docs](https://x.y/z) ", "now"},
		},
		{
			name:  "cjk",
			md:    "中文字符中文字符中文字符",
			limit: 5,
			want:  []string{"中文字符中", "文字符中文", "字符"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Chunks(tt.md, tt.limit, identity, RuneLen)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Chunks(%q, %d) (-want +got):\n%s", tt.md, tt.limit, diff)
			}
		})
	}
}

func TestChunksEmojiBoundaries(t *testing.T) {
	t.Parallel()
	// ZWJ family, skin tone, flags, keycap: each must stay whole.
	units := []string{"👨‍👩‍👧‍👦", "👍🏽", "🇫🇷", "🇯🇵", "1️⃣", "é", "中", "a"}
	var b strings.Builder
	for i := 0; i < 400; i++ {
		b.WriteString(units[i%len(units)])
	}
	md := b.String()
	for _, limit := range []int{11, 13, 17, 50, 101} { // the family emoji is 11 units
		pieces := Chunks(md, limit, identity, UTF16Len)
		if got := strings.Join(pieces, ""); got != md {
			t.Fatalf("limit %d: pieces do not reassemble", limit)
		}
		for i, p := range pieces {
			if UTF16Len(p) > limit || !utf8.ValidString(p) {
				t.Fatalf("limit %d: piece %d bad: %q", limit, i, p)
			}
			r, _ := utf8.DecodeRuneInString(p)
			last, _ := utf8.DecodeLastRuneInString(p)
			if r == '\u200d' || r == '\ufe0f' || r == '\u20e3' || (r >= 0x1F3FB && r <= 0x1F3FF) || last == '\u200d' {
				t.Errorf("limit %d: piece %d splits an emoji: %q", limit, i, p)
			}
		}
		// Flags come in pairs: every piece holds an even number of
		// regional indicators.
		for i, p := range pieces {
			n := 0
			for _, r := range p {
				if isRegional(r) {
					n++
				}
			}
			if n%2 != 0 {
				t.Errorf("limit %d: piece %d splits a flag: %q", limit, i, p)
			}
		}
	}
	// Telegram: emoji count two units each.
	for i, p := range Chunks(strings.Repeat("😀", 3000), TelegramLimit, TelegramHTML, UTF16Len) {
		if UTF16Len(p) > TelegramLimit {
			t.Errorf("piece %d: %d units", i, UTF16Len(p))
		}
	}
}

func TestChunksCodeBlock(t *testing.T) {
	t.Parallel()
	var code strings.Builder
	for i := 0; code.Len() < 6000; i++ {
		fmt.Fprintf(&code, "\tif x[%d] < y && z > 0 { return \"%d\" }\n", i, i)
	}
	md := "Here is the code:\n\n```go\n" + code.String() + "```\n\nThat's it."

	t.Run("telegram", func(t *testing.T) {
		t.Parallel()
		pieces := Chunks(md, 2000, TelegramHTML, UTF16Len)
		if len(pieces) < 4 {
			t.Fatalf("got %d pieces", len(pieces))
		}
		var inner strings.Builder
		for i, p := range pieces {
			if err := checkTelegramHTML(p); err != nil {
				t.Fatalf("piece %d: %v", i, err)
			}
			if UTF16Len(p) > 2000 {
				t.Fatalf("piece %d too long", i)
			}
			open := strings.Index(p, `<pre><code class="language-go">`)
			end := strings.Index(p, "</code></pre>")
			if open < 0 || end < 0 {
				if i != len(pieces)-1 {
					t.Fatalf("piece %d has no code block: %q", i, p)
				}
				continue
			}
			if inner.Len() > 0 {
				inner.WriteByte('\n')
			}
			inner.WriteString(p[open+len(`<pre><code class="language-go">`) : end])
		}
		want := escapeHTML(strings.TrimSuffix(code.String(), "\n"))
		if diff := cmp.Diff(want, inner.String()); diff != "" {
			t.Errorf("code content differs (-want +got):\n%s", diff)
		}
	})
	t.Run("identity", func(t *testing.T) {
		t.Parallel()
		pieces := Chunks(md, 1500, identity, RuneLen)
		for i, p := range pieces[1 : len(pieces)-1] {
			if !strings.HasPrefix(p, "```go\n") && i > 0 {
				t.Errorf("piece %d does not reopen the fence: %.40q", i+1, p)
			}
			if !strings.HasSuffix(p, "\n```") && !strings.HasSuffix(p, "```\n\n") {
				t.Errorf("piece %d does not close the fence: %q", i+1, p[max(0, len(p)-40):])
			}
		}
		if diff := cmp.Diff(md, reassemble(t, pieces)); diff != "" {
			t.Errorf("reassembled differs (-want +got):\n%s", diff)
		}
	})
}

func TestChunksSingleLongWord(t *testing.T) {
	t.Parallel()
	md := strings.Repeat("x", 10000)
	pieces := Chunks(md, TelegramLimit, TelegramHTML, UTF16Len)
	if len(pieces) != 3 {
		t.Errorf("got %d pieces, want 3", len(pieces))
	}
	if got := strings.Join(pieces, ""); got != md {
		t.Errorf("pieces do not reassemble")
	}
	for i, p := range pieces {
		if UTF16Len(p) > TelegramLimit {
			t.Errorf("piece %d: %d units", i, UTF16Len(p))
		}
	}
}

func TestChunksOversizedSpanFallsBack(t *testing.T) {
	t.Parallel()
	md := "**" + strings.Repeat("bold ", 60) + "**" + " after"
	pieces := Chunks(md, 100, TelegramHTML, UTF16Len)
	if len(pieces) < 3 {
		t.Fatalf("got %d pieces", len(pieces))
	}
	for i, p := range pieces {
		if UTF16Len(p) > 100 {
			t.Errorf("piece %d: %d units", i, UTF16Len(p))
		}
		if err := checkTelegramHTML(p); err != nil {
			t.Errorf("piece %d: %v", i, err)
		}
	}
	words := strings.Fields(strings.ReplaceAll(strings.Join(pieces, " "), "*", ""))
	if len(words) != 61 || words[60] != "after" {
		t.Errorf("words lost: %d words, last %q", len(words), words[len(words)-1])
	}
}

func TestChunksTinyFenceLimit(t *testing.T) {
	t.Parallel()
	// The fence markup alone (with a long language) does not fit in 50:
	// pieces fall back to plain code text but stay within the limit.
	md := "```abcdefghijabcdefghijabcdefghij\n" + strings.Repeat("line of code\n", 20) + "```"
	for i, p := range Chunks(md, 50, TelegramHTML, UTF16Len) {
		if UTF16Len(p) > 50 {
			t.Errorf("piece %d: %d units", i, UTF16Len(p))
		}
		if strings.Contains(p, "```") {
			t.Errorf("piece %d shows fence markup: %q", i, p)
		}
	}
}

func TestChunksEdgeCases(t *testing.T) {
	t.Parallel()
	if got := Chunks("", 100, TelegramHTML, UTF16Len); got != nil {
		t.Errorf("empty: %q", got)
	}
	if got := Chunks(" \n\n\t ", 100, TelegramHTML, UTF16Len); got != nil {
		t.Errorf("blank: %q", got)
	}
	if got := Chunks("```\n\n```", 100, TelegramHTML, UTF16Len); got != nil {
		t.Errorf("empty code block: %q", got)
	}
	if diff := cmp.Diff([]string{"<b>hi</b>"}, Chunks("**hi**", 0, TelegramHTML, UTF16Len)); diff != "" {
		t.Errorf("limit 0 means no limit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"<b>hi</b>"}, Chunks("**hi**", 9, TelegramHTML, UTF16Len)); diff != "" {
		t.Errorf("exact fit (-want +got):\n%s", diff)
	}
	checkChunks(t, "a\xff\x00b "+strings.Repeat("<&>", 100), 50)
}
