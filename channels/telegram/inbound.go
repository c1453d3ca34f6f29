package telegram

import (
	"context"
	"errors"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// Notes added to an inbound text when a file could not be handed over.
const (
	noteTooLarge    = "[file too large]"
	noteUnavailable = "[file could not be downloaded]"
	noteUnsaved     = "[file could not be saved]"
)

// inbound converts a Telegram message into the gateway's envelope, with its
// files downloaded. ok is false for messages the gateway has no use for:
// service messages, channel posts, the bot's own messages.
func (a *Adapter) inbound(ctx context.Context, me identity, m *models.Message) (chat.Inbound, bool) {
	if m.From == nil || m.From.ID == me.id {
		return chat.Inbound{}, false
	}
	in := chat.Inbound{
		Channel:   Name,
		Account:   "@" + me.username,
		Peer:      strconv.FormatInt(m.From.ID, 10),
		PeerName:  displayName(m.From),
		MessageID: strconv.Itoa(m.ID),
	}
	switch m.Chat.Type {
	case models.ChatTypePrivate:
	case models.ChatTypeGroup, models.ChatTypeSupergroup:
		in.Group = strconv.FormatInt(m.Chat.ID, 10)
		in.Mentioned = mentioned(me, m)
	default:
		return chat.Inbound{}, false
	}
	if m.IsTopicMessage && m.MessageThreadID != 0 {
		in.Thread = strconv.Itoa(m.MessageThreadID)
	}
	in.Provenance = chat.Provenance{Kind: chat.ExternalUser, Channel: Name, Sender: in.Peer}
	text := m.Text
	if text == "" {
		text = m.Caption
	}
	in.Text = stripOwnCommandSuffix(text, me.username)

	var notes []string
	for _, ref := range fileRefs(m) {
		att, note := a.fetch(ctx, ref)
		in.Attachments = append(in.Attachments, att)
		if note != "" {
			notes = append(notes, note)
		}
	}
	if len(notes) > 0 {
		in.Text = strings.TrimSpace(in.Text + "\n" + strings.Join(notes, "\n"))
	}
	if in.Text == "" && len(in.Attachments) == 0 {
		return chat.Inbound{}, false
	}
	return in, true
}

// displayName is the sender's name as Telegram shows it.
func displayName(u *models.User) string {
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if name == "" && u.Username != "" {
		name = "@" + u.Username
	}
	return name
}

// mentioned reports whether a group message is addressed to the bot: an
// @mention of it (entity or plain text), a text mention of its user, a
// /command@bot, or a reply to one of its messages.
func mentioned(me identity, m *models.Message) bool {
	if r := m.ReplyToMessage; r != nil && r.From != nil && r.From.ID == me.id && r.ForumTopicCreated == nil {
		// In forum topics every message "replies" to the topic's creation
		// message; that is not a reply to the bot.
		return true
	}
	handle := "@" + me.username
	for _, src := range []struct {
		text     string
		entities []models.MessageEntity
	}{{m.Text, m.Entities}, {m.Caption, m.CaptionEntities}} {
		if src.text == "" {
			continue
		}
		units := utf16.Encode([]rune(src.text))
		for _, e := range src.entities {
			switch e.Type {
			case models.MessageEntityTypeTextMention:
				if e.User != nil && e.User.ID == me.id {
					return true
				}
			case models.MessageEntityTypeMention:
				if s, ok := utf16Slice(units, e.Offset, e.Length); ok && strings.EqualFold(s, handle) {
					return true
				}
			case models.MessageEntityTypeBotCommand:
				if s, ok := utf16Slice(units, e.Offset, e.Length); ok && hasSuffixFold(s, handle) {
					return true
				}
			}
		}
		if containsHandle(src.text, handle) {
			return true
		}
	}
	return false
}

// utf16Slice returns units[off:off+n] as a string; entity offsets and
// lengths count UTF-16 code units and come from outside, so they are checked.
func utf16Slice(units []uint16, off, n int) (string, bool) {
	if off < 0 || n < 0 || off > len(units) || n > len(units)-off {
		return "", false
	}
	return string(utf16.Decode(units[off : off+n])), true
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// containsHandle reports whether text holds handle as a whole word, so
// "@genos" does not match "@genos_old".
func containsHandle(text, handle string) bool {
	lower, h := strings.ToLower(text), strings.ToLower(handle)
	for i := 0; ; {
		j := strings.Index(lower[i:], h)
		if j < 0 {
			return false
		}
		end := i + j + len(h)
		if end == len(lower) || !isHandleByte(lower[end]) {
			return true
		}
		i = end
	}
}

func isHandleByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// stripOwnCommandSuffix turns a leading "/cmd@thisbot" into "/cmd", the form
// the gateway's commands (/approve, /new) expect in groups too.
func stripOwnCommandSuffix(text, username string) string {
	if !strings.HasPrefix(text, "/") {
		return text
	}
	end := strings.IndexFunc(text, unicode.IsSpace)
	if end < 0 {
		end = len(text)
	}
	at := strings.IndexByte(text[:end], '@')
	if at < 0 || !strings.EqualFold(text[at+1:end], username) {
		return text
	}
	return text[:at] + text[end:]
}

// fileRef is one downloadable file of a message.
type fileRef struct {
	id       string
	name     string
	mime     string
	size     int64
	duration int // milliseconds
}

// fileRefs lists the files of a message: the largest photo size, a
// document, voice note, audio or video.
func fileRefs(m *models.Message) []fileRef {
	var refs []fileRef
	if len(m.Photo) > 0 {
		best := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.Width*p.Height > best.Width*best.Height ||
				p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize {
				best = p
			}
		}
		refs = append(refs, fileRef{id: best.FileID, name: "photo-" + best.FileUniqueID + ".jpg", mime: "image/jpeg", size: int64(best.FileSize)})
	}
	if d := m.Document; d != nil {
		refs = append(refs, fileRef{id: d.FileID, name: fileName(d.FileName, "document-"+d.FileUniqueID), mime: orDefault(d.MimeType, "application/octet-stream"), size: d.FileSize})
	}
	if v := m.Voice; v != nil {
		refs = append(refs, fileRef{id: v.FileID, name: "voice-" + v.FileUniqueID + ".ogg", mime: "audio/ogg", size: v.FileSize, duration: v.Duration * 1000})
	}
	if au := m.Audio; au != nil {
		refs = append(refs, fileRef{id: au.FileID, name: fileName(au.FileName, "audio-"+au.FileUniqueID), mime: orDefault(au.MimeType, "audio/mpeg"), size: au.FileSize, duration: au.Duration * 1000})
	}
	if v := m.Video; v != nil {
		refs = append(refs, fileRef{id: v.FileID, name: fileName(v.FileName, "video-"+v.FileUniqueID+".mp4"), mime: orDefault(v.MimeType, "video/mp4"), size: v.FileSize, duration: v.Duration * 1000})
	}
	return refs
}

// fileName keeps the base of a sender-chosen name, without separators or
// control characters, or falls back.
func fileName(name, fallback string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == ".." || strings.TrimSpace(name) == "" {
		return fallback
	}
	if r := []rune(name); len(r) > 128 {
		name = string(r[len(r)-128:])
	}
	return name
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fetch downloads one file (getFile, then the file URL), retrying
// temporary failures a few times. It returns the attachment and, when the
// data could not be handed over, the note to add to the text.
func (a *Adapter) fetch(ctx context.Context, ref fileRef) (chat.Attachment, string) {
	att := chat.Attachment{Name: ref.name, MIME: ref.mime, Size: ref.size, Duration: ref.duration}
	if ref.size > a.maxDownload {
		return att, noteTooLarge
	}
	var data []byte
	bo := a.backoff
	for attempt := 1; ; attempt++ {
		var err error
		data, err = a.fetchOnce(ctx, ref.id)
		if err == nil {
			break
		}
		if errors.Is(err, errTooLarge) {
			return att, noteTooLarge
		}
		kind := channels.KindOf(err)
		if attempt == 3 || kind == channels.KindPermanent || ctx.Err() != nil {
			a.log.Warn("telegram file download failed", "err", err)
			return att, noteUnavailable
		}
		wait := bo.Next()
		if d, ok := channels.RetryAfter(err); ok {
			wait = d
		}
		if wait > a.maxWait || channels.Sleep(ctx, wait) != nil {
			return att, noteUnavailable
		}
	}
	att.Size = int64(len(data))
	if a.saveFile == nil {
		att.Data = data
		return att, ""
	}
	p, err := a.saveFile(ctx, att.Name, data)
	if err != nil {
		a.log.Warn("saving telegram file failed", "err", err)
		return att, noteUnsaved
	}
	att.Path = p
	return att, ""
}

func (a *Adapter) fetchOnce(ctx context.Context, id string) ([]byte, error) {
	f, err := call(ctx, a, "get file", func(ctx context.Context) (*models.File, error) {
		return a.bot.GetFile(ctx, &bot.GetFileParams{FileID: id})
	})
	if err != nil {
		if describes(err, "file is too big") {
			return nil, errTooLarge
		}
		return nil, err
	}
	if f.FileSize > a.maxDownload {
		return nil, errTooLarge
	}
	return a.download(ctx, f.FilePath, a.maxDownload)
}
