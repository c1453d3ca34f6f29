package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// identity is the bot as getMe reports it, needed to tell mentions of it.
type identity struct {
	id       int64
	username string
}

// Run checks the token with getMe, then long-polls getUpdates and hands
// each message to deliver until ctx ends. The offset moves past an update
// only after deliver has returned for it, and it is confirmed to Telegram
// by the next poll (or on exit), so an update is never delivered twice by a
// running adapter and is delivered again only if the process dies before
// confirming it. Network errors, 5xx and 409 are retried with backoff, 429
// after retry_after; a rejected token sets Status to failed and Run returns
// the error. Run returns nil when ctx ends.
func (a *Adapter) Run(ctx context.Context, deliver func(context.Context, chat.Inbound) error) error {
	if deliver == nil {
		return errors.New("telegram: run: deliver is nil")
	}
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("telegram: run: already running")
	}
	defer a.running.Store(false)

	a.health.Set(chat.ChannelConnecting, "")
	bo := a.backoff
	me, err := a.connect(ctx, &bo)
	if err != nil {
		if ctx.Err() != nil {
			a.health.Set(chat.ChannelStopped, "")
			return nil
		}
		return err
	}
	a.health.SetAccount("@" + me.username)
	a.health.Set(chat.ChannelConnected, "")
	bo.Reset()
	a.log.Info("telegram connected", "account", "@"+me.username)

	wd := channels.NewWatchdog(a.pollTimeout+a.pollGrace, a.clock)
	defer wd.Stop()
	var offset, confirmed int64
	for ctx.Err() == nil {
		wd.Reset()
		updates, err := a.poll(ctx, wd, offset)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wait, perr := a.onFailure(ctx, err, &bo, chat.ChannelReconnecting)
			if perr != nil {
				return perr
			}
			if channels.Sleep(ctx, wait) != nil {
				break
			}
			continue
		}
		confirmed = offset
		if a.health.Status().State != chat.ChannelConnected {
			a.health.Set(chat.ChannelConnected, "")
			a.log.Info("telegram reconnected")
		}
		bo.Reset()
		for _, u := range updates {
			if u.ID < offset {
				continue // a server that ignored the offset; never deliver twice
			}
			if ctx.Err() != nil {
				break // not delivered, not confirmed: the next start gets it
			}
			if err := a.handle(ctx, me, u, deliver); err != nil && ctx.Err() != nil {
				break // cut short by shutdown: left unconfirmed for the next start
			}
			offset = u.ID + 1
		}
	}
	if offset > confirmed {
		a.confirm(ctx, offset)
	}
	a.health.Set(chat.ChannelStopped, "")
	return nil
}

// connect calls getMe until it succeeds, ctx ends or the token is rejected.
func (a *Adapter) connect(ctx context.Context, bo *channels.Backoff) (identity, error) {
	for {
		u, err := call(ctx, a, "get me", a.bot.GetMe)
		if err == nil {
			if u.Username == "" || !u.IsBot {
				err := errors.New("telegram: getMe did not return a bot account")
				a.health.Set(chat.ChannelFailed, "the token does not belong to a bot account")
				return identity{}, err
			}
			return identity{id: u.ID, username: u.Username}, nil
		}
		if ctx.Err() != nil {
			return identity{}, ctx.Err()
		}
		wait, perr := a.onFailure(ctx, err, bo, chat.ChannelConnecting)
		if perr != nil {
			return identity{}, perr
		}
		if err := channels.Sleep(ctx, wait); err != nil {
			return identity{}, err
		}
	}
}

// handle converts one update and delivers it. Errors from deliver belong to
// the gateway (policy, a full queue): they are logged and the update counts
// as handled, unless ctx ended meanwhile (shutdown), which handle reports
// by returning the error so the update stays unconfirmed.
func (a *Adapter) handle(ctx context.Context, me identity, u models.Update, deliver func(context.Context, chat.Inbound) error) error {
	if u.Message == nil {
		return nil
	}
	in, ok := a.inbound(ctx, me, u.Message)
	if !ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err // a download was cut short: deliver it whole next time
	}
	a.health.Inbound()
	if err := deliver(ctx, in); err != nil {
		a.log.Warn("gateway refused telegram message", "update", u.ID, "err", err)
		return err
	}
	return nil
}

// poll makes one getUpdates long poll. The watchdog was reset when the poll
// started; if it goes stale (the poll hangs PollTimeout plus a grace period)
// the request is cancelled and the error says so, so Run reconnects.
func (a *Adapter) poll(ctx context.Context, wd *channels.Watchdog, offset int64) ([]models.Update, error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stale := wd.Stale()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stale:
			cancel()
		case <-done:
		}
	}()
	params := map[string]any{
		"offset":          offset,
		"timeout":         int(a.pollTimeout / time.Second),
		"allowed_updates": []string{"message"},
	}
	var raws []json.RawMessage
	if err := a.rawCall(pctx, "getUpdates", params, &raws); err != nil {
		if ctx.Err() == nil && pctx.Err() != nil {
			return nil, channels.Temporary("get updates", errStalled)
		}
		return nil, a.classify("get updates", err, 0)
	}
	out := make([]models.Update, 0, len(raws))
	for _, r := range raws {
		var u models.Update
		if err := json.Unmarshal(r, &u); err != nil {
			// Skip it rather than stall the queue on an update we cannot
			// read: its id still moves the offset on.
			var id struct {
				ID int64 `json:"update_id"`
			}
			if json.Unmarshal(r, &id) != nil {
				a.log.Warn("skipping telegram update without id", "err", err)
				continue
			}
			a.log.Warn("skipping undecodable telegram update", "update", id.ID, "err", err)
			out = append(out, models.Update{ID: id.ID})
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// errStalled is the cause of a poll the watchdog cancelled.
var errStalled = errors.New("long poll stalled past its timeout")

// confirm tells Telegram the updates before offset are handled, so a
// restart does not see them again. It runs after ctx ended, on a short
// deadline of its own.
func (a *Adapter) confirm(ctx context.Context, offset int64) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	params := map[string]any{"offset": offset, "timeout": 0, "limit": 1, "allowed_updates": []string{"message"}}
	if err := a.rawCall(cctx, "getUpdates", params, nil); err != nil {
		a.log.Debug("confirm telegram updates on exit", "err", err)
	}
}

// onFailure decides what a failed getMe or getUpdates means: how long to
// wait before the next try (reporting state with a reason meanwhile), or,
// for a permanent failure, the error Run returns after marking the channel
// failed.
func (a *Adapter) onFailure(ctx context.Context, err error, bo *channels.Backoff, state chat.ChannelState) (time.Duration, error) {
	code := statusOf(err)
	switch channels.KindOf(err) {
	case channels.KindPermanent:
		reason := fmt.Sprintf("Telegram refused the request (HTTP %d)", code)
		if code == http.StatusUnauthorized || code == http.StatusNotFound {
			reason = "Telegram rejected the bot token; check it or create a new one with @BotFather"
		}
		a.health.Set(chat.ChannelFailed, reason)
		a.log.Error("telegram channel failed", "reason", reason, "err", err)
		return 0, fmt.Errorf("telegram: %s: %w", reason, err)
	case channels.KindRateLimited:
		d, ok := channels.RetryAfter(err)
		if !ok {
			d = bo.Next()
		}
		a.health.Set(state, fmt.Sprintf("rate limited by Telegram; retrying in %s", d))
		return d, nil
	}
	reason := "cannot reach Telegram; retrying"
	switch {
	case errors.Is(err, errStalled):
		reason = "long poll stalled; reconnecting"
	case code == http.StatusConflict:
		reason = "another program is polling this bot or a webhook is set; retrying"
		if describes(err, "webhook") {
			// Polling and a webhook exclude each other; this adapter polls.
			if _, derr := call(ctx, a, "delete webhook", func(ctx context.Context) (bool, error) {
				return a.bot.DeleteWebhook(ctx, &bot.DeleteWebhookParams{})
			}); derr == nil {
				a.log.Info("deleted telegram webhook to use long polling")
			}
		}
	case code >= 500:
		reason = fmt.Sprintf("Telegram server error (HTTP %d); retrying", code)
	}
	a.health.Set(state, reason)
	a.log.Warn("telegram poll failed", "err", err)
	return bo.Next(), nil
}
