package windows

import (
	"encoding/json"
	"fmt"
	"image/color"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/chat"
)

// itemKind says how a transcript row is drawn.
type itemKind int

const (
	itemUser      itemKind = iota // the owner's message, a tinted bubble on the right
	itemAssistant                 // the agent's reply, markdown in a bubble on the left
	itemTool                      // one compact line of tool activity
	itemError                     // a failed run, in the error colour
	itemNotice                    // stopped runs, summaries, approval waits
)

// item is one row of the transcript. Exactly one of label, rich and line
// holds the text.
type item struct {
	kind   itemKind
	root   fyne.CanvasObject
	label  *widget.Label
	rich   *widget.RichText
	line   *widget.RichText // compact lines: one styled text segment
	raw    string           // assistant text as received (markdown), for copying
	action *widget.Button   // optional, e.g. "Review…" on an approval wait
	run    string           // the run a live row belongs to, if any
	added  time.Time        // when a live row was added
}

// text is what the row shows, as plain text.
func (it *item) text() string {
	switch {
	case it.rich != nil:
		return it.rich.String()
	case it.line != nil:
		return it.line.String()
	}
	return it.label.Text
}

// setLine replaces a compact line's text.
func (it *item) setLine(text string) {
	it.line.Segments[0].(*widget.TextSegment).Text = text
	it.line.Refresh()
}

// setMarkdown replaces an assistant row's text.
func (it *item) setMarkdown(md string) {
	it.raw = md
	it.rich.ParseMarkdown(md)
}

const (
	// bubbleIndent keeps user and assistant bubbles apart horizontally so the
	// conversation reads as two sides.
	bubbleIndent = 56
	maxArgsRunes = 80
	maxLineRunes = 120
)

func newUserItem(text string, ts time.Time) *item {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Selectable = true
	it := &item{kind: itemUser, label: l}
	it.root = container.NewBorder(nil, nil, spacer(bubbleIndent), nil,
		bubble(tint(theme.ColorNamePrimary, 0x38), header("You", ts, nil), l))
	return it
}

func newAssistantItem(a fyne.App, md string, ts time.Time) *item {
	rt := widget.NewRichTextFromMarkdown(md)
	rt.Wrapping = fyne.TextWrapWord
	it := &item{kind: itemAssistant, rich: rt, raw: md}
	copyBtn := widget.NewButtonWithIcon("", theme.ContentCopyIcon(), func() {
		a.Clipboard().SetContent(it.raw)
	})
	copyBtn.Importance = widget.LowImportance
	it.root = container.NewBorder(nil, nil, nil, spacer(bubbleIndent),
		bubble(tint(theme.ColorNameInputBackground, 0xff), header("Genos", ts, copyBtn), rt))
	return it
}

func newErrorItem(msg string) *item {
	l := widget.NewLabel("⚠ " + msg)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.DangerImportance
	l.Selectable = true
	it := &item{kind: itemError, label: l}
	it.root = container.NewBorder(nil, nil, nil, spacer(bubbleIndent),
		bubble(tint(theme.ColorNameError, 0x26), nil, l))
	return it
}

// newLineItem is a compact line in a muted colour: tool activity or a
// notice, with an optional action button on the right. The placeholder
// colour stays readable in both theme variants, unlike the disabled colour a
// low-importance label uses.
func newLineItem(kind itemKind, text string, action *widget.Button) *item {
	seg := &widget.TextSegment{Text: text, Style: widget.RichTextStyle{
		ColorName: theme.ColorNamePlaceHolder,
		SizeName:  theme.SizeNameCaptionText,
		TextStyle: fyne.TextStyle{Italic: kind == itemNotice},
		Inline:    true,
	}}
	rt := widget.NewRichText(seg)
	rt.Wrapping = fyne.TextWrapWord
	it := &item{kind: kind, line: rt, action: action}
	var right fyne.CanvasObject
	if action != nil {
		right = container.NewCenter(action)
	}
	it.root = container.NewBorder(nil, nil, nil, right, rt)
	return it
}

// bubble draws content on a rounded, tinted background.
func bubble(bg color.Color, head fyne.CanvasObject, body fyne.CanvasObject) fyne.CanvasObject {
	rect := canvas.NewRectangle(bg)
	rect.CornerRadius = 10
	content := body
	if head != nil {
		content = container.New(layout.NewCustomPaddedVBoxLayout(0), head, body)
	}
	return container.NewStack(rect, container.New(layout.NewCustomPaddedLayout(2, 2, 6, 6), content))
}

// header is a bubble's title line: who, when, and an optional button. It
// uses plain text objects rather than labels to avoid their padding, and is
// indented to line up with the body label's text.
func header(who string, ts time.Time, btn *widget.Button) fyne.CanvasObject {
	size := theme.Size(theme.SizeNameCaptionText)
	title := canvas.NewText(who, theme.Color(theme.ColorNameForeground))
	title.TextStyle = fyne.TextStyle{Bold: true}
	title.TextSize = size
	row := []fyne.CanvasObject{title}
	if !ts.IsZero() {
		when := canvas.NewText(formatTime(ts, time.Now()), theme.Color(theme.ColorNamePlaceHolder))
		when.TextSize = size
		row = append(row, when)
	}
	var left fyne.CanvasObject = container.New(layout.NewCustomPaddedLayout(theme.Padding(), 0, theme.InnerPadding(), 0),
		container.NewHBox(row...))
	if btn == nil {
		return left
	}
	return container.NewBorder(nil, nil, left, btn)
}

func spacer(w float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(w, 0))
	return r
}

// tint returns a theme colour with the given alpha, so bubbles follow the
// light or dark variant.
func tint(name fyne.ThemeColorName, alpha uint8) color.Color {
	r, g, b, _ := theme.Color(name).RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: alpha}
}

// formatTime shows a clock time for today and a date otherwise.
func formatTime(ts, now time.Time) string {
	ts = ts.Local()
	y1, m1, d1 := ts.Date()
	y2, m2, d2 := now.Local().Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return ts.Format("15:04")
	}
	if y1 == y2 {
		return ts.Format("Jan 2, 15:04")
	}
	return ts.Format("Jan 2 2006, 15:04")
}

// recordItems turns one transcript record into the rows that show it.
func recordItems(a fyne.App, r chat.Record) []*item {
	switch {
	case r.Kind == "error":
		msg := strings.TrimSpace(r.Content)
		if msg == "" {
			msg = "The run failed."
		}
		return []*item{newErrorItem(msg)}
	case r.Kind == "aborted":
		return []*item{newLineItem(itemNotice, stoppedText(r.Content), nil)}
	case r.Kind == chat.RecordCompaction:
		text := "Earlier messages were summarised to save space."
		if c := r.Compaction; c != nil && c.Records > 0 {
			text = fmt.Sprintf("%d earlier messages were summarised to save space; the full history is kept.", c.Records)
		}
		return []*item{newLineItem(itemNotice, text, nil)}
	case r.Kind == chat.RecordMemoryFlush:
		return nil // the silent turn before a compaction; the notice above covers it
	}
	switch r.Role {
	case chat.RoleUser:
		text := r.Content
		if who := provenanceLabel(r.Provenance); who != "" {
			text = who + ": " + text
		}
		return []*item{newUserItem(text, r.Time)}
	case chat.RoleAssistant:
		var out []*item
		if strings.TrimSpace(r.Content) != "" {
			out = append(out, newAssistantItem(a, r.Content, r.Time))
		}
		for _, tc := range r.ToolCalls {
			out = append(out, newLineItem(itemTool, toolLine(tc.Name, tc.Arguments, ""), nil))
		}
		return out
	case chat.RoleTool:
		return []*item{newLineItem(itemTool, toolResultLine(r), nil)}
	}
	return nil // system prompts are not part of the conversation view
}

// provenanceLabel names the source of a user-role record that did not come
// from the owner, so relayed text is never mistaken for theirs.
func provenanceLabel(p *chat.Provenance) string {
	if p == nil {
		return ""
	}
	switch p.Kind {
	case chat.InterSession:
		if p.SourceSession != "" {
			return "From " + p.SourceSession
		}
		return "From another agent"
	case chat.InternalSystem:
		return "System"
	}
	return ""
}

func stoppedText(detail string) string {
	detail = strings.TrimSpace(detail)
	if detail == "" {
		return "⏹ Stopped."
	}
	return "⏹ Stopped: " + clipLine(detail, maxLineRunes)
}

// toolLine is the compact description of a tool call, e.g.
// "⚙ exec: ls -la … done".
func toolLine(name string, args json.RawMessage, state string) string {
	s := "⚙ " + name
	if a := argsSummary(args); a != "" {
		s += ": " + a
	}
	if state != "" {
		s += " … " + state
	}
	return s
}

func toolResultLine(r chat.Record) string {
	name := r.ToolName
	if name == "" {
		name = "tool"
	}
	mark := "↳"
	if r.IsError {
		mark = "✗"
	}
	res := clipLine(r.Content, maxLineRunes)
	if res == "" {
		res = "(no output)"
	}
	return fmt.Sprintf("%s %s: %s", mark, name, res)
}

// argsSummary shows the argument a person would recognise: the command for
// exec-like tools, the single value of one-field calls, or compact JSON.
func argsSummary(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return ""
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err == nil {
		for _, k := range []string{"command", "cmd", "query", "path", "url"} {
			if v, ok := m[k].(string); ok && v != "" {
				return clipLine(v, maxArgsRunes)
			}
		}
		if len(m) == 1 {
			for _, v := range m {
				if s, ok := v.(string); ok {
					return clipLine(s, maxArgsRunes)
				}
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			b, _ := json.Marshal(m[k]) // values came from JSON, they re-encode
			parts = append(parts, k+"="+string(b))
		}
		return clipLine(strings.Join(parts, " "), maxArgsRunes)
	}
	return clipLine(string(raw), maxArgsRunes)
}

// clipLine flattens whitespace and cuts s to n runes with an ellipsis.
func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
