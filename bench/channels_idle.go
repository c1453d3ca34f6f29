package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
)

// channelIdleResult is the memory of idle gateways with Telegram connected
// and of the same gateways without any channel, measured side by side.
type channelIdleResult struct {
	with, without []int64 // RSS after the idle wait, bytes
	polls         []int   // getUpdates requests per Telegram gateway
	gateways      int     // started
	stopErrs      []error // gateways that did not shut down cleanly
}

// idleGateway is one gateway of the idle comparison.
type idleGateway struct {
	g      *gatewayProc
	dir    string
	client *api.Client
	bot    *botAPI // nil without Telegram
}

// measureChannelIdle starts idlePairs gateways with Telegram long-polling a
// loopback Bot API and as many without a channel, all with the same config
// and one client each, waits o.idle and reads every gateway's RSS.
func measureChannelIdle(ctx context.Context, o *options, modelURL string) (res channelIdleResult, err error) {
	var all []*idleGateway
	defer func() {
		// Stopped side by side: a gateway that hangs on SIGINT costs the
		// stop timeout once, not once per gateway.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, ig := range all {
			if ig.client != nil {
				ig.client.Close()
			}
			wg.Go(func() {
				if ig.g != nil {
					if serr := ig.g.stop(); serr != nil {
						mu.Lock()
						res.stopErrs = append(res.stopErrs, serr)
						mu.Unlock()
					}
				}
				if ig.bot != nil {
					ig.bot.Close()
				}
				o.cleanup(ig.dir)
			})
		}
		wg.Wait()
		res.gateways = len(all)
	}()
	start := func(telegram bool) error {
		ig := &idleGateway{}
		dir, err := newStateDirWith(modelURL, channelConfig)
		if err != nil {
			return err
		}
		ig.dir = dir
		all = append(all, ig)
		var env []string
		if telegram {
			if ig.bot, err = newBotAPI(false); err != nil {
				return err
			}
			env = append(env, "GENOS_TELEGRAM_API_URL="+ig.bot.URL())
		}
		if ig.g, err = startGateway(ctx, o.bin, dir, env...); err != nil {
			return err
		}
		token, err := ig.g.token()
		if err != nil {
			return err
		}
		if ig.client, err = ig.g.dial(ctx, token, "genos-bench-channel-idle"); err != nil {
			return err
		}
		if telegram {
			if err := enableTelegram(ctx, ig.client); err != nil {
				return fmt.Errorf("%w; the gateway's output ends with: %s", err, ig.g.logs.last(600))
			}
			return nil
		}
		// The same round trip to the gateway as the other kind makes.
		_, err = ig.client.ChannelsStatus(ctx)
		return err
	}
	for range idlePairs {
		for _, telegram := range []bool{false, true} {
			if err := start(telegram); err != nil {
				return channelIdleResult{}, err
			}
		}
	}
	if !sleepCtx(ctx, o.idle) {
		return channelIdleResult{}, ctx.Err()
	}
	for _, ig := range all {
		select {
		case <-ig.client.Done():
			return channelIdleResult{}, fmt.Errorf("gateway closed the idle client's connection: %v", ig.client.Err())
		default:
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, herr := ig.client.Health(hctx)
		cancel()
		if herr != nil {
			return channelIdleResult{}, fmt.Errorf("health after %s idle: %w", o.idle, herr)
		}
		m, err := readProcMem(ctx, ig.g.pid())
		if err != nil {
			return channelIdleResult{}, err
		}
		if ig.bot == nil {
			res.without = append(res.without, m.RSS)
			continue
		}
		if err := stillConnected(ctx, ig.client); err != nil {
			return channelIdleResult{}, err
		}
		res.with = append(res.with, m.RSS)
		res.polls = append(res.polls, ig.bot.srv.Polls())
	}
	return res, nil
}

// stillConnected checks that Telegram is connected after the idle wait.
func stillConnected(ctx context.Context, c *api.Client) error {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := c.ChannelsStatus(sctx)
	if err != nil {
		return fmt.Errorf("channels.status after idle: %w", err)
	}
	for _, s := range st.Channels {
		if s.Channel == config.ChannelTelegram {
			if s.State != chat.ChannelConnected {
				return fmt.Errorf("telegram is %q after idling (%s)", s.State, s.Reason)
			}
			return nil
		}
	}
	return errors.New("channels.status after idle does not list telegram")
}

// medianBytes returns the median of a sample (the lower middle value for
// an even count, as percentile does); 0 for none.
func medianBytes(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// fmtBytesDelta renders a signed byte difference in KiB below 1 MiB and
// in MiB above: "+412 KiB", "-1.3 MiB".
func fmtBytesDelta(d int64) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	if d < 1<<20 {
		return fmt.Sprintf("%s%d KiB", sign, (d+512)>>10)
	}
	return fmt.Sprintf("%s%.1f MiB", sign, float64(d)/(1<<20))
}

// fmtRSSList renders RSS samples in MiB: "14.1, 14.3, 14.2 MiB".
func fmtRSSList(v []int64) string {
	out := ""
	for i, b := range v {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.1f", float64(b)/(1<<20))
	}
	return out + " MiB"
}

// channelIdleRow renders the idle comparison.
func channelIdleRow(o *options, r channelIdleResult) row {
	source := "VmRSS from /proc/<pid>/status"
	if runtime.GOOS != "linux" {
		source = "ps -o rss= -p <pid>"
	}
	with, without := medianBytes(r.with), medianBytes(r.without)
	return row{
		Name: "memory per idle connected channel (Telegram, long polling)",
		Value: fmt.Sprintf("%s (median RSS with Telegram %s − without %s; with: %s, without: %s; %v getUpdates per gateway)",
			fmtBytesDelta(with-without), fmtMiB(with), fmtMiB(without), fmtRSSList(r.with), fmtRSSList(r.without), r.polls),
		Command: fmt.Sprintf("%d gateways side by side, same config (channels.telegram dm open): %d as `%s`, %d as `%s` without channels.set; 1 client each; wait %s; health RPC; %s",
			2*idlePairs, idlePairs, channelGatewayCommand(o.bin), idlePairs, gatewayCommand(o.bin), o.idle, source),
	}
}

// channelIdleNotes reports gateways of the idle comparison that did not
// shut down cleanly.
func channelIdleNotes(r channelIdleResult) []string {
	if len(r.stopErrs) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("Memory per idle channel: **%d of %d gateways did not shut down cleanly**, e.g.: %s",
		len(r.stopErrs), r.gateways, truncate(r.stopErrs[0].Error(), 600))}
}
