package channels

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Platform limits. Adapters pass the limit and the matching measure to
// Chunks.
const (
	// TelegramLimit is the longest Telegram message, in UTF-16 code units
	// of the text after entity parsing. Measuring the HTML source instead
	// (UTF16Len(TelegramHTML(md))) over-counts, which is safe.
	TelegramLimit = 4096
	// TelegramCaptionLimit is the longest media caption, same unit.
	TelegramCaptionLimit = 1024
	// WhatsAppLimit is WhatsApp's hard limit, in runes.
	WhatsAppLimit = 65536
	// WhatsAppChunk is the size WhatsApp replies are split at, in runes:
	// far below the hard limit because a 60,000-character bubble is
	// unreadable on a phone.
	WhatsAppChunk = 4096
)

// UTF16Len counts UTF-16 code units (Telegram's length unit): runes above
// U+FFFF (most emoji) count two. Invalid UTF-8 bytes count one each, as
// U+FFFD would.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// RuneLen counts runes (WhatsApp's length unit).
func RuneLen(s string) int { return utf8.RuneCountInString(s) }
