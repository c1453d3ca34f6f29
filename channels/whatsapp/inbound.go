package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/genos-project/genos/core/chat"
)

// Notes added to the text when an attachment could not be handed over,
// the same words the other adapters use.
const (
	noteTooLarge    = "[file too large]"
	noteUnavailable = "[file could not be downloaded]"
	noteUnsaved     = "[file could not be saved]"
)

// translate turns a whatsmeow message into what the gateway receives. It
// reports false for messages the gateway must not see: our own (but for
// the owner's "message yourself" chat), status updates, channels,
// broadcast lists, edits, and anything without text or media.
func (a *Adapter) translate(ctx context.Context, me self, wa waClient, e *events.Message) (chat.Inbound, bool) {
	info := e.Info
	switch {
	case e.Message == nil, e.IsEdit:
		return chat.Inbound{}, false
	case info.Chat.Server == types.BroadcastServer, info.Chat.Server == types.NewsletterServer:
		return chat.Inbound{}, false
	case a.sent.has(info.ID):
		return chat.Inbound{}, false
	case info.IsFromMe && (info.IsGroup || !me.is(info.Chat)):
		// Sent from the owner's phone to someone else: not for us.
		return chat.Inbound{}, false
	}
	msg := e.Message
	text, m := content(msg, info.ID)
	if text == "" && m == nil {
		return chat.Inbound{}, false
	}
	peer := a.peerID(ctx, info.Sender, info.SenderAlt)
	in := chat.Inbound{
		Channel:    Name,
		Peer:       peer,
		PeerName:   info.PushName,
		MessageID:  info.ID,
		Text:       text,
		Provenance: chat.Provenance{Kind: chat.ExternalUser, Channel: Name, Sender: peer},
	}
	if !me.pn.IsEmpty() {
		in.Account = me.pn.User
	}
	if info.IsGroup {
		in.Group = info.Chat.ToNonAD().String()
		in.Mentioned = mentions(contextInfo(msg), me)
	}
	if m != nil {
		att, note := a.fetch(ctx, wa, m)
		in.Attachments = append(in.Attachments, att)
		if note != "" {
			in.Text = strings.TrimSpace(in.Text + "\n" + note)
		}
	}
	return in, true
}

// peerID names a sender the way allowlists and session keys see it: the
// phone number for phone-addressed users, and the whole JID ("…@lid")
// otherwise, so that a LID can never pass for a phone number.
func (a *Adapter) peerID(ctx context.Context, sender, alt types.JID) string {
	sender = sender.ToNonAD()
	if sender.Server == types.HiddenUserServer {
		if alt.Server == types.DefaultUserServer {
			return alt.User
		}
		if pn, err := a.store.GetPNForLID(ctx, sender); err == nil && !pn.IsEmpty() {
			return pn.User
		}
	}
	if sender.Server == types.DefaultUserServer {
		return sender.User
	}
	return sender.String()
}

// media is a downloadable part of a message.
type media struct {
	src      whatsmeow.DownloadableMessage
	name     string
	mime     string
	size     int64
	duration int // milliseconds, audio and video
	caption  string
}

// content returns a message's text and its media part, if any.
func content(msg *waE2E.Message, id types.MessageID) (string, *media) {
	switch {
	case msg.GetConversation() != "":
		return msg.GetConversation(), nil
	case msg.GetExtendedTextMessage() != nil:
		return msg.GetExtendedTextMessage().GetText(), nil
	case msg.GetImageMessage() != nil:
		im := msg.GetImageMessage()
		return im.GetCaption(), &media{src: im, name: "image-" + id + ext(im.GetMimetype(), ".jpg"),
			mime: im.GetMimetype(), size: int64(im.GetFileLength()), caption: im.GetCaption()}
	case msg.GetVideoMessage() != nil:
		vm := msg.GetVideoMessage()
		return vm.GetCaption(), &media{src: vm, name: "video-" + id + ext(vm.GetMimetype(), ".mp4"),
			mime: vm.GetMimetype(), size: int64(vm.GetFileLength()), duration: int(vm.GetSeconds()) * 1000, caption: vm.GetCaption()}
	case msg.GetAudioMessage() != nil:
		am := msg.GetAudioMessage()
		kind := "audio-"
		if am.GetPTT() {
			kind = "voice-" // a voice note recorded in the chat
		}
		return "", &media{src: am, name: kind + id + ext(am.GetMimetype(), ".ogg"),
			mime: am.GetMimetype(), size: int64(am.GetFileLength()), duration: int(am.GetSeconds()) * 1000}
	case msg.GetDocumentMessage() != nil:
		dm := msg.GetDocumentMessage()
		name := safeName(dm.GetFileName())
		if name == "" {
			name = "document-" + id + ext(dm.GetMimetype(), ".bin")
		}
		return dm.GetCaption(), &media{src: dm, name: name, mime: dm.GetMimetype(), size: int64(dm.GetFileLength()), caption: dm.GetCaption()}
	}
	return "", nil
}

// extensions maps the MIME types WhatsApp sends to file extensions; a
// fixed table, so names do not depend on the host's mime.types.
var extensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
	"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/amr": ".amr",
	"video/mp4": ".mp4", "video/3gpp": ".3gp",
	"application/pdf": ".pdf", "text/plain": ".txt",
}

func ext(mimeType, fallback string) string {
	base, _, _ := strings.Cut(mimeType, ";")
	if e, ok := extensions[strings.TrimSpace(strings.ToLower(base))]; ok {
		return e
	}
	return fallback
}

// safeName keeps a sender-chosen file name usable as a name and nothing
// more: no directories, no control characters, at most 128 bytes.
func safeName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == ".." || name == "/" {
		return ""
	}
	for len(name) > 128 {
		_, size := lastRune(name)
		name = name[:len(name)-size]
	}
	return name
}

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}

// contextInfo returns the reply/mention context of whichever part the
// message carries.
func contextInfo(msg *waE2E.Message) *waE2E.ContextInfo {
	for _, ci := range []*waE2E.ContextInfo{
		msg.GetExtendedTextMessage().GetContextInfo(),
		msg.GetImageMessage().GetContextInfo(),
		msg.GetVideoMessage().GetContextInfo(),
		msg.GetAudioMessage().GetContextInfo(),
		msg.GetDocumentMessage().GetContextInfo(),
		msg.GetStickerMessage().GetContextInfo(),
	} {
		if ci != nil {
			return ci
		}
	}
	return nil
}

// mentions reports whether a group message @-mentions the account or
// replies to one of its messages.
func mentions(ci *waE2E.ContextInfo, me self) bool {
	if ci == nil {
		return false
	}
	for _, s := range ci.GetMentionedJID() {
		if jid, err := types.ParseJID(s); err == nil && me.is(jid) {
			return true
		}
	}
	if ci.GetStanzaID() != "" && ci.GetParticipant() != "" {
		if jid, err := types.ParseJID(ci.GetParticipant()); err == nil && me.is(jid) {
			return true
		}
	}
	return false
}

// fetch downloads a media part within the size cap and hands it over as
// SaveFile asks. The note says what went wrong, if anything.
func (a *Adapter) fetch(ctx context.Context, wa waClient, m *media) (chat.Attachment, string) {
	att := chat.Attachment{Name: m.name, MIME: m.mime, Size: m.size, Duration: m.duration, Caption: m.caption}
	if m.size > a.opts.MaxDownloadBytes {
		return att, noteTooLarge
	}
	data, err := wa.Download(ctx, m.src)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return att, noteTooLarge
	case err != nil:
		a.log.Warn("whatsapp media download failed", "err", err)
		return att, noteUnavailable
	case int64(len(data)) > a.opts.MaxDownloadBytes:
		return att, noteTooLarge
	}
	att.Size = int64(len(data))
	if a.opts.SaveFile == nil {
		att.Data = data
		return att, ""
	}
	p, err := a.opts.SaveFile(ctx, att.Name, data)
	if err != nil {
		a.log.Warn("saving whatsapp media failed", "err", err)
		return att, noteUnsaved
	}
	att.Path = p
	return att, ""
}

// errBodyTooLarge is returned (wrapped) by the media client when a
// download exceeds the cap.
var errBodyTooLarge = errors.New("media larger than the download limit")

// mediaOverhead is what encryption adds to a media file: up to 16 bytes
// of CBC padding and a 10-byte MAC.
const mediaOverhead = 26

// maxSyncBytes caps what whatsmeow downloads for itself (app state
// blobs), which MaxDownloadBytes is not meant to limit.
const maxSyncBytes = 256 << 20

// syncMedia are the mms-type values of whatsmeow's own downloads (it puts
// the type in URLs it builds; a message's own media URL has none, and is
// capped).
var syncMedia = map[string]bool{"md-app-state": true, "md-msg-hist": true}

// cappedClient returns the HTTP client whatsmeow uses for media: it
// refuses chat media bodies longer than limit (plus encryption overhead)
// before reading them into memory, whatever size the message claimed.
func cappedClient(limit int64) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &http.Client{Transport: capTransport{base: base, limit: limit + mediaOverhead}, Timeout: 10 * time.Minute}
}

type capTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	limit := t.limit
	if req.Method != http.MethodGet || syncMedia[req.URL.Query().Get("mms-type")] {
		limit = maxSyncBytes
	}
	// The failure is reported by the body, not by RoundTrip: http.Client
	// would wrap a RoundTrip error in *url.Error, a net.Error, which
	// whatsmeow retries five times.
	if resp.ContentLength > limit {
		resp.Body.Close()
		resp.Body = io.NopCloser(errReader{fmt.Errorf("%w (%d bytes announced)", errBodyTooLarge, resp.ContentLength)})
		return resp, nil
	}
	resp.Body = &capReader{r: resp.Body, left: limit}
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// capReader fails once more than left bytes have been read.
type capReader struct {
	r    io.ReadCloser
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}

func (c *capReader) Close() error { return c.r.Close() }
