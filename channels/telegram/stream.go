package telegram

import (
	"context"
	"strings"
	"time"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// Stream shows a reply while it is written. Each value from text is the
// whole reply so far. The first non-blank value is sent as a message
// (replying to to.ReplyTo); later values edit it, at most once per
// EditEvery, skipping identical content. While streaming the message shows
// the first piece of the text. When text closes, the last value is
// delivered completely: the message is edited to the first piece and the
// remaining pieces are sent as new messages, in order. Stream always
// consumes text until it is closed, even after returning early with an
// error, so the writer never blocks.
func (a *Adapter) Stream(ctx context.Context, to chat.Outbound, text <-chan string) error {
	t, err := parseTarget(to)
	if err != nil {
		drain(text)
		return channels.Permanent("telegram stream", err)
	}
	s := streamer{a: a, t: t, to: to}
	var (
		timer  *time.Timer
		timerC <-chan time.Time
		dirty  bool
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
	}
	defer stopTimer()
	for {
		select {
		case v, ok := <-text:
			if !ok {
				return s.finish(ctx)
			}
			s.latest = v
			if s.msgID == 0 {
				if time.Now().Before(s.nextEdit) {
					continue // a failed start waits like an edit would
				}
				if err := s.start(ctx); err != nil {
					drain(text)
					return err
				}
				continue
			}
			dirty = true
			if timerC == nil {
				timer = time.NewTimer(max(time.Until(s.nextEdit), 0))
				timerC = timer.C
			}
		case <-timerC:
			timer, timerC = nil, nil
			if dirty {
				dirty = false
				s.preview(ctx)
			}
		case <-ctx.Done():
			drain(text)
			return channels.Permanent("telegram stream", ctx.Err())
		}
	}
}

// streamer is the state of one Stream call.
type streamer struct {
	a        *Adapter
	t        target
	to       chat.Outbound
	latest   string    // the whole reply so far
	msgID    int       // the message being edited; 0 until sent
	shown    string    // the HTML it shows now
	nextEdit time.Time // no edit before this (throttle, rate limits)
}

// start sends the first message once there is text to show. A temporary
// failure is not fatal: the next value (or the final delivery) tries again.
func (s *streamer) start(ctx context.Context) error {
	p, ok := firstPiece(s.latest)
	if !ok {
		return nil
	}
	msg, err := s.a.sendText(ctx, s.t, p, s.t.replyTo)
	if err != nil {
		if channels.KindOf(err) == channels.KindPermanent {
			return err
		}
		s.a.log.Debug("telegram stream start failed, will retry", "err", err)
		s.nextEdit = time.Now().Add(s.a.editEvery)
		if d, ok := channels.RetryAfter(err); ok {
			s.nextEdit = time.Now().Add(d)
		}
		return nil
	}
	s.msgID, s.shown = msg.ID, p.html
	s.nextEdit = time.Now().Add(s.a.editEvery)
	return nil
}

// preview edits the message to the latest text. Failures only delay the
// next edit: the final delivery is what must succeed.
func (s *streamer) preview(ctx context.Context) {
	p, ok := firstPiece(s.latest)
	if !ok || p.html == s.shown {
		return
	}
	err := s.a.editText(ctx, s.t, s.msgID, p, false)
	s.nextEdit = time.Now().Add(s.a.editEvery)
	if err != nil {
		if d, ok := channels.RetryAfter(err); ok {
			s.nextEdit = time.Now().Add(d)
		}
		s.a.log.Debug("telegram stream edit failed", "err", err)
		return
	}
	s.shown = p.html
}

// finish delivers the final text completely.
func (s *streamer) finish(ctx context.Context) error {
	if s.msgID == 0 {
		out := s.to
		out.Text = s.latest
		return s.a.Send(ctx, out)
	}
	pieces := split(s.latest, channels.TelegramLimit)
	if len(pieces) == 0 {
		return nil // the reply ended blank; what was shown stays
	}
	if pieces[0].html != s.shown {
		if err := s.a.editText(ctx, s.t, s.msgID, pieces[0], true); err != nil {
			if !describes(err, "message to edit not found") && !describes(err, "message can't be edited") {
				return err
			}
			// The streamed message is gone (deleted by the user): deliver
			// the whole reply anew rather than lose it.
			s.a.log.Debug("telegram streamed message gone, resending", "err", err)
			out := s.to
			out.Text = s.latest
			out.ReplyTo = ""
			return s.a.Send(ctx, out)
		}
	}
	for _, p := range pieces[1:] {
		if _, err := s.a.sendText(ctx, s.t, p, 0); err != nil {
			return err
		}
	}
	return nil
}

// firstPiece is what the streamed message shows: the first piece of the
// text as it would be split for delivery.
func firstPiece(md string) (piece, bool) {
	if strings.TrimSpace(md) == "" {
		return piece{}, false
	}
	if p := split(md, channels.TelegramLimit); len(p) > 0 {
		return p[0], true
	}
	return piece{}, false
}

// drain consumes ch until it is closed, so a writer never blocks on a
// Stream that has returned.
func drain(ch <-chan string) {
	go func() {
		for range ch {
		}
	}()
}
