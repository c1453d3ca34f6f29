package telegramtest

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"unicode/utf16"
)

// Length limits the server enforces, in UTF-16 code units of the visible
// text, as Telegram counts them.
const (
	MessageLimit = 4096
	CaptionLimit = 1024
)

// CheckText validates a message text or caption as Telegram does and
// returns its visible text. In parse mode "HTML" the text must be well
// formed with only the tags and entities Telegram supports; any other
// non-empty mode is refused. The visible text must not be blank and must
// fit limit UTF-16 units. The error's text is the Bot API description.
func CheckText(text, parseMode string, limit int) (string, error) {
	visible := text
	switch parseMode {
	case "":
	case "HTML":
		v, err := ParseHTML(text)
		if err != nil {
			return "", errors.New("Bad Request: can't parse entities: " + err.Error())
		}
		visible = v
	default:
		return "", errors.New("Bad Request: unsupported parse_mode")
	}
	if strings.TrimSpace(visible) == "" {
		return "", errors.New("Bad Request: message text is empty")
	}
	if UTF16Len(visible) > limit {
		return "", errors.New("Bad Request: message is too long")
	}
	return visible, nil
}

// UTF16Len is the length of s in UTF-16 code units.
func UTF16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// allowedTags is Telegram's HTML subset.
var allowedTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true, "strike": true,
	"del": true, "span": true, "tg-spoiler": true, "a": true, "code": true, "pre": true, "blockquote": true, "tg-emoji": true,
}

// ParseHTML checks s against Telegram's HTML subset (supported tags only,
// properly nested and closed; '<', '>' and '&' only as markup or named or
// numeric entities) and returns the visible text.
func ParseHTML(s string) (string, error) {
	var b strings.Builder
	var stack []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return "", fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+j]
			if name, ok := strings.CutPrefix(tag, "/"); ok {
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return "", fmt.Errorf("can't find end tag corresponding to start tag %q", name)
				}
				stack = stack[:len(stack)-1]
			} else {
				name, _, _ := strings.Cut(tag, " ")
				if !allowedTags[name] {
					return "", fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
				}
				stack = append(stack, name)
			}
			i += j + 1
		case '&':
			j := strings.IndexByte(s[i:], ';')
			if j < 0 || j > 10 {
				return "", fmt.Errorf("character entity expected at byte offset %d", i)
			}
			ent := s[i : i+j+1]
			u := html.UnescapeString(ent)
			if u == ent {
				return "", fmt.Errorf("unsupported entity %q", ent)
			}
			b.WriteString(u)
			i += j + 1
		case '>':
			return "", fmt.Errorf("unexpected > at byte offset %d", i)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	if len(stack) > 0 {
		return "", fmt.Errorf("can't find end tag corresponding to start tag %q", stack[len(stack)-1])
	}
	return b.String(), nil
}
