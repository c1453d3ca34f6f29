package gateway

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
)

// ChannelReply says where the reply to a channel message goes and which
// tool rules the run gets.
type ChannelReply struct {
	// Channel receives the reply; nil sends it nowhere but to WebSocket
	// clients (tests, and messages already answered elsewhere).
	Channel Channel
	// Rules replace the agent's tool rules for the run (nil keeps them).
	Rules *policy.Rules
}

// runOpts are the per-run choices of channel runs.
type runOpts struct {
	rules  *policy.Rules
	sink   replySink
	ticket *session.Ticket // the run's place in its session's line
}

// replySink receives a run's reply as it is written.
type replySink interface {
	start(ctx context.Context)     // the run got its turn
	delta(text string)             // more reply text
	done(final, errMessage string) // the run ended; both empty when aborted
}

type nopSink struct{}

func (nopSink) start(context.Context) {}
func (nopSink) delta(string)          {}
func (nopSink) done(string, string)   {}

// replyAddress is where the answer to in goes: the same chat (group or
// DM), thread, as a reply to the message.
func replyAddress(in chat.Inbound) chat.Outbound {
	return chat.Outbound{Channel: in.Channel, Account: in.Account, Peer: in.Peer, Group: in.Group, Thread: in.Thread, ReplyTo: in.MessageID}
}

// typingEvery is how often the typing indicator is renewed while a run
// works (platforms expire it after about 5 s).
const typingEvery = 4 * time.Second

// channelSink streams a run's reply to a channel: through Stream where the
// adapter can edit a message, otherwise as one Send at the end. It never
// blocks the run: the latest text is handed over and older snapshots are
// skipped.
type channelSink struct {
	ctx context.Context
	ch  Channel
	to  chat.Outbound
	log *slog.Logger

	mu       sync.Mutex
	text     strings.Builder
	updates  chan string // capacity 1: the newest snapshot wins
	streamed chan error  // Stream's result, when streaming
	stopType context.CancelFunc
}

func newChannelSink(ctx context.Context, ch Channel, to chat.Outbound, log *slog.Logger) *channelSink {
	return &channelSink{ctx: ctx, ch: ch, to: to, log: log}
}

func (c *channelSink) start(ctx context.Context) {
	tc, ok := c.ch.(TypingChannel)
	if !ok {
		return
	}
	tctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.stopType = cancel
	c.mu.Unlock()
	go func() {
		t := time.NewTicker(typingEvery)
		defer t.Stop()
		for {
			if err := tc.Typing(tctx, c.to); err != nil && tctx.Err() == nil {
				c.log.Debug("typing indicator", "channel", c.ch.Name(), "err", err)
			}
			select {
			case <-tctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (c *channelSink) delta(text string) {
	sc, ok := c.ch.(StreamingChannel)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.text.WriteString(text)
	if c.updates == nil {
		c.updates = make(chan string, 1)
		c.streamed = make(chan error, 1)
		updates := c.updates
		go func() { c.streamed <- sc.Stream(c.ctx, c.to, updates) }()
	}
	snapshot := c.text.String()
	select {
	case <-c.updates: // drop the older snapshot not yet taken
	default:
	}
	c.updates <- snapshot
}

func (c *channelSink) done(final, errMessage string) {
	c.mu.Lock()
	if c.stopType != nil {
		c.stopType()
	}
	updates, streamed := c.updates, c.streamed
	c.mu.Unlock()
	text := final
	if errMessage != "" {
		text = errMessage
	}
	if updates != nil {
		if text != "" {
			select {
			case <-updates:
			default:
			}
			updates <- text
		}
		close(updates)
		if err := <-streamed; err != nil {
			c.log.Warn("channel reply failed", "channel", c.ch.Name(), "err", err)
		}
		return
	}
	if text == "" {
		return
	}
	out := c.to
	out.Text = text
	if err := c.ch.Send(c.ctx, out); err != nil {
		c.log.Warn("channel reply failed", "channel", c.ch.Name(), "err", err)
	}
}
