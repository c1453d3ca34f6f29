package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/tools"
)

// pairingTool lets the owner handle pairing requests by telling the agent
// in their own chat ("approve the Telegram request K7QX2M9A"). It is in the
// config category, so it asks before it changes anything, and messaging
// channels never get it (owner-only).
func (d *Daemon) pairingTool() tools.Tool {
	return tools.Tool{
		Name: "pairing",
		Description: "List, approve or deny requests from people who want to talk to the assistant on a messaging " +
			"channel (Telegram, WhatsApp). Use action \"list\" first; approve or deny only when the owner asks, " +
			"by the 8-character code.",
		Category: tools.CategoryConfig,
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"action":{"type":"string","enum":["list","approve","deny"]},` +
			`"code":{"type":"string","description":"the pairing code, for approve and deny"},` +
			`"channel":{"type":"string","description":"telegram or whatsapp; optional for list"}},` +
			`"required":["action"],"additionalProperties":false}`),
		Run: func(ctx context.Context, _ tools.Env, raw json.RawMessage) (tools.Result, error) {
			var a struct {
				Action, Code, Channel string
			}
			if err := json.Unmarshal(raw, &a); err != nil {
				return tools.Result{Content: "Arguments must be {action, code?, channel?}.", IsError: true}, nil
			}
			c := channelControl{d}
			switch a.Action {
			case "list":
				reqs, err := c.Pairings(ctx, a.Channel)
				if err != nil {
					return tools.Result{Content: err.Error(), IsError: true}, nil
				}
				if len(reqs) == 0 {
					return tools.Result{Content: "No pending pairing requests."}, nil
				}
				var b strings.Builder
				for _, r := range reqs {
					fmt.Fprintf(&b, "%s on %s from %s (%s), expires in %s\n", r.Code, r.Channel, r.PeerName, r.Peer,
						time.Until(r.ExpiresAt).Round(time.Minute))
				}
				return tools.Result{Content: b.String()}, nil
			case "approve", "deny":
				code := strings.ToUpper(strings.TrimSpace(a.Code))
				channel := a.Channel
				if channel == "" {
					reqs, err := c.Pairings(ctx, "")
					if err != nil {
						return tools.Result{Content: err.Error(), IsError: true}, nil
					}
					for _, r := range reqs {
						if r.Code == code {
							channel = r.Channel
						}
					}
				}
				if code == "" || channel == "" {
					return tools.Result{Content: "No pending request with that code; list them first.", IsError: true}, nil
				}
				ev, err := c.DecidePairing(ctx, channel, code, a.Action == "approve")
				if err != nil {
					var e *api.ErrorShape
					if errors.As(err, &e) {
						return tools.Result{Content: e.Message, IsError: true}, nil
					}
					return tools.Result{Content: err.Error(), IsError: true}, nil
				}
				return tools.Result{Content: fmt.Sprintf("%s %s on %s.", ev.Peer, ev.Decision, ev.Channel)}, nil
			}
			return tools.Result{Content: "action must be list, approve or deny.", IsError: true}, nil
		},
	}
}
