package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// waClient is what the adapter uses of *whatsmeow.Client once connected.
// It exists so tests can capture outgoing protocol messages; production
// always uses the real client.
type waClient interface {
	GenerateMessageID() types.MessageID
	SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, data []byte, mediaType whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
	SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID, receiptType ...types.ReceiptType) error
}

var _ waClient = (*whatsmeow.Client)(nil)

// maxOutboundBytes is the largest attachment Send uploads (WhatsApp's
// limit for documents is higher, but the bytes are held in memory).
const maxOutboundBytes = 100 << 20

// Send delivers a reply: each attachment (with its caption), then the text
// split at channels.WhatsAppChunk runes in WhatsApp formatting. Errors are
// classified as channels.Error kinds.
func (a *Adapter) Send(ctx context.Context, out chat.Outbound) error {
	to, err := recipient(out)
	if err != nil {
		return channels.Permanent("whatsapp send", err)
	}
	a.mu.Lock()
	c, wa := a.cli, a.wa
	a.mu.Unlock()
	if c.Store.ID == nil {
		return channels.Permanent("whatsapp send", errors.New("no WhatsApp account is linked"))
	}
	for i, att := range out.Attachments {
		msg, err := a.mediaMessage(ctx, wa, att)
		if err != nil {
			return fmt.Errorf("attachment %d: %w", i+1, err)
		}
		if err := a.sendOne(ctx, wa, to, msg); err != nil {
			return err
		}
	}
	for _, part := range channels.Chunks(out.Text, channels.WhatsAppChunk, channels.WhatsAppText, channels.RuneLen) {
		if err := a.sendOne(ctx, wa, to, &waE2E.Message{Conversation: proto.String(part)}); err != nil {
			return err
		}
	}
	return nil
}

// sendOne sends one message under an id remembered as ours, so that an
// echo (the "message yourself" chat) is never taken for the owner's words.
func (a *Adapter) sendOne(ctx context.Context, wa waClient, to types.JID, msg *waE2E.Message) error {
	id := wa.GenerateMessageID()
	a.sent.add(id)
	if _, err := wa.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: id}); err != nil {
		return classify("whatsapp send", err)
	}
	return nil
}

// Typing shows "typing…" in the chat. WhatsApp shows it only while the
// account is marked online, which the adapter never does on its own
// (that would silence the phone's notifications), so it is best effort.
func (a *Adapter) Typing(ctx context.Context, to chat.Outbound) error {
	jid, err := recipient(to)
	if err != nil {
		return channels.Permanent("whatsapp typing", err)
	}
	a.mu.Lock()
	wa := a.wa
	a.mu.Unlock()
	if err := wa.SendChatPresence(ctx, jid, types.ChatPresenceComposing, types.ChatPresenceMediaText); err != nil {
		return classify("whatsapp typing", err)
	}
	return nil
}

// recipient returns the chat a reply goes to: the group if any, else the
// peer (a phone number, or a full JID as translate produces for LIDs).
func recipient(out chat.Outbound) (types.JID, error) {
	if out.Group != "" {
		jid, err := types.ParseJID(out.Group)
		if err != nil || jid.Server != types.GroupServer || jid.User == "" {
			return types.JID{}, fmt.Errorf("group %q is not a WhatsApp group id", out.Group)
		}
		return jid, nil
	}
	p := strings.TrimPrefix(strings.TrimSpace(out.Peer), "+")
	if p == "" {
		return types.JID{}, errors.New("no peer to send to")
	}
	if !strings.Contains(p, "@") {
		if !isDigits(p) || len(p) < 5 || len(p) > 20 {
			return types.JID{}, fmt.Errorf("peer %q is not a phone number", out.Peer)
		}
		return types.NewJID(p, types.DefaultUserServer), nil
	}
	jid, err := types.ParseJID(p)
	if err != nil || jid.User == "" || (jid.Server != types.DefaultUserServer && jid.Server != types.HiddenUserServer) {
		return types.JID{}, fmt.Errorf("peer %q is not a WhatsApp user", out.Peer)
	}
	return jid.ToNonAD(), nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// mediaMessage uploads an attachment and returns the message that shows
// it: image, video, audio (a voice note when it is Ogg/Opus) or document.
func (a *Adapter) mediaMessage(ctx context.Context, wa waClient, att chat.Attachment) (*waE2E.Message, error) {
	switch {
	case len(att.Data) == 0 && att.Path != "":
		return nil, channels.Permanent("whatsapp upload", errors.New("attachment has no data (sealed files must be opened by the gateway)"))
	case len(att.Data) == 0:
		return nil, channels.Permanent("whatsapp upload", errors.New("attachment is empty"))
	case len(att.Data) > maxOutboundBytes:
		return nil, channels.Permanent("whatsapp upload", fmt.Errorf("attachment is %d bytes, over the %d byte limit", len(att.Data), maxOutboundBytes))
	}
	mimeType := att.MIME
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	base, _, _ := strings.Cut(mimeType, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	kind := whatsmeow.MediaDocument
	switch {
	case base == "image/jpeg" || base == "image/png":
		kind = whatsmeow.MediaImage
	case base == "video/mp4":
		kind = whatsmeow.MediaVideo
	case strings.HasPrefix(base, "audio/"):
		kind = whatsmeow.MediaAudio
	}
	up, err := wa.Upload(ctx, att.Data, kind)
	if err != nil {
		return nil, classify("whatsapp upload", err)
	}
	var caption *string
	if att.Caption != "" {
		caption = proto.String(channels.WhatsAppText(att.Caption))
	}
	size := proto.Uint64(uint64(len(att.Data)))
	switch kind {
	case whatsmeow.MediaImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			Mimetype: proto.String(mimeType), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
			FileLength: size, Caption: caption,
		}}, nil
	case whatsmeow.MediaVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			Mimetype: proto.String(mimeType), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
			FileLength: size, Caption: caption, Seconds: proto.Uint32(uint32(att.Duration / 1000)),
		}}, nil
	case whatsmeow.MediaAudio:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
			Mimetype: proto.String(mimeType), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
			FileLength: size, Seconds: proto.Uint32(uint32(att.Duration / 1000)),
			PTT: proto.Bool(base == "audio/ogg"),
		}}, nil
	}
	name := safeName(att.Name)
	if name == "" {
		name = "file"
	}
	return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		Mimetype: proto.String(mimeType), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
		FileLength: size, FileName: proto.String(name), Title: proto.String(name), Caption: caption,
	}}, nil
}

// classify maps whatsmeow errors to channels error kinds: the server's 429
// is a rate limit, its other 4xx answers and requests that can never work
// are permanent, everything else (timeouts, lost sockets, 5xx) temporary.
func classify(op string, err error) error {
	var iq *whatsmeow.IQError
	switch {
	case errors.As(err, &iq) && iq.Code == 429:
		return channels.RateLimited(op, 0, err)
	case errors.As(err, &iq) && iq.Code >= 400 && iq.Code < 500:
		return channels.Permanent(op, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return channels.Permanent(op, err)
	case errors.Is(err, whatsmeow.ErrNotLoggedIn),
		errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrRecipientADJID),
		errors.Is(err, whatsmeow.ErrBroadcastListUnsupported),
		errors.Is(err, whatsmeow.ErrServerReturnedError):
		return channels.Permanent(op, err)
	}
	return channels.Temporary(op, err)
}

// recentIDs remembers the ids of the last messages the adapter sent.
type recentIDs struct {
	mu   sync.Mutex
	ids  map[types.MessageID]struct{}
	ring []types.MessageID
	next int
}

// recentCap is how many sent ids are remembered; echoes arrive within
// seconds, so a few hundred is plenty.
const recentCap = 512

func (r *recentIDs) add(id types.MessageID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = make(map[types.MessageID]struct{}, recentCap)
		r.ring = make([]types.MessageID, recentCap)
	}
	delete(r.ids, r.ring[r.next])
	r.ring[r.next] = id
	r.ids[id] = struct{}{}
	r.next = (r.next + 1) % recentCap
}

func (r *recentIDs) has(id types.MessageID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ids[id]
	return ok
}
