package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mdp/qrterminal/v3"

	"github.com/genos-project/genos/core/api"
)

const channelsUsage = `usage: genos channels status|login CHANNEL|logout CHANNEL

  status            each channel's connection state
  login telegram    store a bot token (from @BotFather) and connect; reads GENOS_TELEGRAM_TOKEN when set
  login whatsapp    link WhatsApp: scan the QR code shown here with your phone
  logout CHANNEL    disconnect the channel (WhatsApp: unlink this device)`

const pairingUsage = `usage: genos pairing list|approve CODE|deny CODE [--channel NAME]`

// runChannels implements `genos channels ...`.
func runChannels(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(channelsUsage)
	}
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	switch {
	case args[0] == "status" && len(args) == 1:
		st, err := c.ChannelsStatus(ctx)
		if err != nil {
			return err
		}
		printChannels(stdout, st)
		return nil
	case args[0] == "login" && len(args) == 2 && args[1] == "whatsapp":
		return loginWhatsApp(ctx, c, stdout)
	case args[0] == "login" && len(args) == 2:
		token := os.Getenv("GENOS_TELEGRAM_TOKEN")
		if token == "" {
			token = readSecret(stdout, bufio.NewReader(stdin), stdin, "Bot token (input hidden)")
		}
		if token == "" {
			return errors.New("no token given")
		}
		st, err := c.ChannelsSet(ctx, api.ChannelsSetParams{Channel: args[1], Enabled: true, Token: token})
		if err != nil {
			return err
		}
		printChannels(stdout, st)
		return nil
	case args[0] == "logout" && len(args) == 2:
		st, err := c.ChannelsLogout(ctx, api.ChannelParams{Channel: args[1]})
		if err != nil {
			return err
		}
		printChannels(stdout, st)
		return nil
	}
	return errors.New(channelsUsage)
}

// loginWhatsApp shows each QR code the gateway emits until the phone has
// scanned one.
func loginWhatsApp(ctx context.Context, c *api.Client, stdout io.Writer) error {
	events, cancel := c.Subscribe(16)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.ChannelsLogin(ctx, api.ChannelsLoginParams{Channel: "whatsapp"})
		done <- err
	}()
	first := true
	for {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, "WhatsApp linked.")
			return nil
		case f := <-events:
			if f.Event != api.EventChannelQR {
				continue
			}
			var q api.ChannelQREvent
			if json.Unmarshal(f.Payload, &q) != nil || q.Code == "" {
				continue
			}
			if first {
				fmt.Fprintln(stdout, "Open WhatsApp on your phone → Settings → Linked devices → Link a device, and scan:")
				first = false
			}
			qrterminal.GenerateHalfBlock(q.Code, qrterminal.L, stdout)
			fmt.Fprintln(stdout, "(The code changes every few seconds; a new one is printed when it does.)")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func printChannels(w io.Writer, st api.ChannelsStatusResult) {
	if len(st.Channels) == 0 {
		fmt.Fprintln(w, "No channels configured. Add one with `genos channels login telegram` or `genos channels login whatsapp`.")
		return
	}
	for _, ch := range st.Channels {
		line := fmt.Sprintf("%-10s %s", ch.Channel, ch.State)
		if ch.Account != "" {
			line += " as " + ch.Account
		}
		if ch.Reason != "" {
			line += ": " + ch.Reason
		}
		if !ch.LastInbound.IsZero() {
			line += fmt.Sprintf(" (last message %s ago)", time.Since(ch.LastInbound).Round(time.Second))
		}
		fmt.Fprintln(w, line)
	}
}

// runPairing implements `genos pairing ...`.
func runPairing(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(pairingUsage)
	}
	channel := ""
	var rest []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--channel" && i+1 < len(args):
			channel = args[i+1]
			i++
		case strings.HasPrefix(args[i], "--channel="):
			channel = strings.TrimPrefix(args[i], "--channel=")
		default:
			rest = append(rest, args[i])
		}
	}
	if len(rest) == 0 {
		return errors.New(pairingUsage)
	}
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	switch {
	case rest[0] == "list" && len(rest) == 1:
		res, err := c.PairingList(ctx, api.ChannelParams{Channel: channel})
		if err != nil {
			return err
		}
		if len(res.Requests) == 0 {
			fmt.Fprintln(stdout, "No pairing requests.")
			return nil
		}
		for _, r := range res.Requests {
			who := r.Peer
			if r.PeerName != "" {
				who = r.PeerName + " (" + r.Peer + ")"
			}
			fmt.Fprintf(stdout, "%s  %-9s %s, expires in %s\n", r.Code, r.Channel, who, time.Until(r.ExpiresAt).Round(time.Minute))
		}
		return nil
	case (rest[0] == "approve" || rest[0] == "deny") && len(rest) == 2:
		code := strings.ToUpper(rest[1])
		if channel == "" {
			// The code alone is enough when only one channel has it.
			res, err := c.PairingList(ctx, api.ChannelParams{})
			if err != nil {
				return err
			}
			for _, r := range res.Requests {
				if r.Code == code {
					channel = r.Channel
				}
			}
			if channel == "" {
				return fmt.Errorf("no pending pairing request with code %s (genos pairing list)", code)
			}
		}
		p := api.PairingDecisionParams{Channel: channel, Code: code}
		var ev api.PairingResolvedEvent
		if rest[0] == "approve" {
			ev, err = c.PairingApprove(ctx, p)
		} else {
			ev, err = c.PairingDeny(ctx, p)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %s on %s.\n", ev.Peer, ev.Decision, ev.Channel)
		return nil
	}
	return errors.New(pairingUsage)
}
