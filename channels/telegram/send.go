package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// maxPhotoBytes is the largest upload sendPhoto takes; bigger images go as
// documents.
const maxPhotoBytes = 10 << 20

// photoMIME lists the image types Telegram shows as photos.
var photoMIME = map[string]bool{"image/jpeg": true, "image/png": true, "image/webp": true}

// chatUsername matches "@channelname", the other form chat_id accepts.
var chatUsername = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{3,}$`)

// target is where an Outbound goes, parsed and checked.
type target struct {
	chat    any // int64 chat id or "@username"
	thread  int
	replyTo int
}

// parseTarget maps an Outbound to a Telegram chat: Group when set (a group
// chat id, as Inbound.Group carries it), else Peer (a user id, which is also
// the private chat's id); Thread is the forum topic; ReplyTo a message id in
// that chat.
func parseTarget(out chat.Outbound) (target, error) {
	if out.Channel != "" && out.Channel != Name {
		return target{}, fmt.Errorf("outbound is for channel %q, not %q", out.Channel, Name)
	}
	id := out.Group
	if id == "" {
		id = out.Peer
	}
	var t target
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n != 0 {
		t.chat = n
	} else if chatUsername.MatchString(id) {
		t.chat = id
	} else {
		return target{}, fmt.Errorf("chat %q is not a Telegram chat id", id)
	}
	var err error
	if t.thread, err = positive("thread", out.Thread); err != nil {
		return target{}, err
	}
	if t.replyTo, err = positive("reply-to message", out.ReplyTo); err != nil {
		return target{}, err
	}
	return t, nil
}

func positive(what, s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s id %q is not a positive number", what, s)
	}
	return n, nil
}

// Send delivers one reply: the text split to Telegram's limit and converted
// to its HTML (a piece Telegram cannot parse is resent as plain text), in
// order, the first piece replying to ReplyTo; then each attachment, images
// as photos and everything else as documents. A rate limit is waited out
// once when retry_after fits ctx. Errors are channels.Error values; when a
// later piece fails the earlier ones have already been delivered.
func (a *Adapter) Send(ctx context.Context, out chat.Outbound) error {
	t, err := parseTarget(out)
	if err != nil {
		return channels.Permanent("telegram send", err)
	}
	pieces := split(out.Text, channels.TelegramLimit)
	reply := t.replyTo
	for i, p := range pieces {
		if _, err := a.sendText(ctx, t, p, reply); err != nil {
			return fmt.Errorf("telegram: send piece %d of %d: %w", i+1, len(pieces), err)
		}
		reply = 0
	}
	for i, att := range out.Attachments {
		if err := a.sendAttachment(ctx, t, att, reply); err != nil {
			return fmt.Errorf("telegram: send attachment %d of %d: %w", i+1, len(out.Attachments), err)
		}
		reply = 0
	}
	return nil
}

// Typing shows "typing…" in the chat (and topic) of to for a few seconds.
func (a *Adapter) Typing(ctx context.Context, to chat.Outbound) error {
	t, err := parseTarget(to)
	if err != nil {
		return channels.Permanent("telegram typing", err)
	}
	_, err = call(ctx, a, "telegram sendChatAction", func(ctx context.Context) (bool, error) {
		return a.bot.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: t.chat, MessageThreadID: t.thread, Action: models.ChatActionTyping})
	})
	return err
}

// piece is one message's worth of a reply: its Markdown source and the
// HTML to send, which fits the limit the piece was cut for.
type piece struct {
	md   string
	html string
}

// plain is the piece as plain text, sent when Telegram rejects the HTML.
func (p piece) plain() string { return channels.PlainText(p.md) }

// split is the one place text is cut and converted for Telegram. It asks
// Chunks for the Markdown pieces (measured by the size of their HTML), so
// each piece's own Markdown is at hand for the plain-text fallback.
func split(md string, limit int) []piece {
	var out []piece
	measure := func(s string) int { return channels.UTF16Len(channels.TelegramHTML(s)) }
	for _, src := range channels.Chunks(md, limit, func(s string) string { return s }, measure) {
		if h := channels.TelegramHTML(src); strings.TrimSpace(h) != "" {
			out = append(out, piece{md: src, html: h})
		}
	}
	return out
}

// sendText sends one piece as HTML, falling back to plain text when
// Telegram cannot parse it.
func (a *Adapter) sendText(ctx context.Context, t target, p piece, replyTo int) (*models.Message, error) {
	send := func(text string, mode models.ParseMode) (*models.Message, error) {
		return retryOnce(ctx, a, "telegram sendMessage", func(ctx context.Context) (*models.Message, error) {
			p := &bot.SendMessageParams{ChatID: t.chat, MessageThreadID: t.thread, Text: text, ParseMode: mode}
			if replyTo > 0 {
				p.ReplyParameters = &models.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
			}
			return a.bot.SendMessage(ctx, p)
		})
	}
	msg, err := send(p.html, models.ParseModeHTML)
	if isParseError(err) {
		a.log.Warn("telegram rejected html, resending as plain text", "err", err)
		msg, err = send(p.plain(), "")
	}
	return msg, err
}

// editText replaces a message's text with an HTML piece (plain when the
// HTML is rejected). "Message is not modified" counts as success. retry
// waits out one rate limit; previews pass false and skip instead.
func (a *Adapter) editText(ctx context.Context, t target, id int, p piece, retry bool) error {
	edit := func(text string, mode models.ParseMode) error {
		f := func(ctx context.Context) (*models.Message, error) {
			return a.bot.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: t.chat, MessageID: id, Text: text, ParseMode: mode})
		}
		var err error
		if retry {
			_, err = retryOnce(ctx, a, "telegram editMessageText", f)
		} else {
			_, err = call(ctx, a, "telegram editMessageText", f)
		}
		if describes(err, "message is not modified") {
			return nil
		}
		return err
	}
	err := edit(p.html, models.ParseModeHTML)
	if isParseError(err) {
		err = edit(p.plain(), "")
	}
	return err
}

// sendAttachment uploads one file with its caption (HTML, at most
// TelegramCaptionLimit; a longer caption follows as its own message).
func (a *Adapter) sendAttachment(ctx context.Context, t target, att chat.Attachment, replyTo int) error {
	if len(att.Data) == 0 {
		return channels.Permanent("telegram send file", fmt.Errorf("attachment %q has no data", att.Name))
	}
	name := fileName(att.Name, "file")
	var caption piece
	var rest []piece
	if c := split(att.Caption, channels.TelegramCaptionLimit); len(c) == 1 {
		caption = c[0]
	} else if len(c) > 1 {
		rest = split(att.Caption, channels.TelegramLimit)
	}
	photo := photoMIME[strings.ToLower(att.MIME)] && len(att.Data) <= maxPhotoBytes
	send := func(caption string, mode models.ParseMode) error {
		var rp *models.ReplyParameters
		if replyTo > 0 {
			rp = &models.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
		}
		var err error
		if photo {
			_, err = retryOnce(ctx, a, "telegram sendPhoto", func(ctx context.Context) (*models.Message, error) {
				return a.bot.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: t.chat, MessageThreadID: t.thread,
					Photo:   &models.InputFileUpload{Filename: name, Data: bytes.NewReader(att.Data)},
					Caption: caption, ParseMode: mode, ReplyParameters: rp})
			})
		} else {
			_, err = retryOnce(ctx, a, "telegram sendDocument", func(ctx context.Context) (*models.Message, error) {
				return a.bot.SendDocument(ctx, &bot.SendDocumentParams{ChatID: t.chat, MessageThreadID: t.thread,
					Document: &models.InputFileUpload{Filename: name, Data: bytes.NewReader(att.Data)},
					Caption:  caption, ParseMode: mode, ReplyParameters: rp})
			})
		}
		return err
	}
	mode := models.ParseModeHTML
	if caption.html == "" {
		mode = ""
	}
	err := send(caption.html, mode)
	if isParseError(err) {
		err = send(caption.plain(), "")
	}
	if err != nil {
		return err
	}
	for _, p := range rest {
		if _, err := a.sendText(ctx, t, p, 0); err != nil {
			return err
		}
	}
	return nil
}

// retryOnce is call that waits out one rate limit when retry_after is
// known, no longer than maxWait, and ends before ctx's deadline.
func retryOnce[T any](ctx context.Context, a *Adapter, op string, f func(context.Context) (T, error)) (T, error) {
	v, err := call(ctx, a, op, f)
	d, ok := channels.RetryAfter(err)
	if !ok || d > a.maxWait {
		return v, err
	}
	if dl, has := ctx.Deadline(); has && time.Until(dl) <= d {
		return v, err
	}
	if channels.Sleep(ctx, d) != nil {
		return v, err
	}
	return call(ctx, a, op, f)
}

// isParseError reports whether Telegram refused a text because its
// formatting did not parse.
func isParseError(err error) bool {
	return err != nil && channels.KindOf(err) == channels.KindPermanent &&
		(errors.Is(err, bot.ErrorBadRequest) || statusOf(err) == 400) && describes(err, "can't parse entities")
}
