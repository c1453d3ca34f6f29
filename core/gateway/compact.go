package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
)

// compactCommand typed as a whole message (in the app, the CLI chat or a
// messaging channel) compacts the session instead of starting a turn.
const compactCommand = "/compact"

func isCompactCommand(text string) bool {
	return strings.EqualFold(strings.TrimSpace(text), compactCommand)
}

// compact runs a manual compaction of key once the session's earlier runs
// are done (ticket is its place in the session's line); onStart hears when
// its turn came. rules are the tool rules of the session's runs (nil: the
// runner's own).
func (s *Server) compact(ctx context.Context, e *Engine, id string, key session.Key, ticket *session.Ticket, provider agent.Provider, modelName string, rules *policy.Rules, onStart func(context.Context)) (agent.CompactResult, error) {
	rules = compactRules(e, key, rules)
	var res agent.CompactResult
	err := ticket.Do(ctx, func(ctx context.Context) error {
		if onStart != nil {
			onStart(ctx)
		}
		sess, err := e.Sessions.Open(ctx, key)
		if err != nil {
			return err
		}
		defer sess.Close()
		res, err = e.Runner.Compact(ctx, agent.CompactRun{
			ID:         id,
			SessionKey: key.String(),
			Transcript: sess,
			Provider:   provider,
			Model:      modelName,
			Trigger:    agent.TriggerManual,
			Rules:      rules,
		})
		return err
	})
	return res, err
}

// compactRules keeps the memory flush of a channel session away from the
// owner's memory: what the people there said must not be written into it.
// A channel run's own rules deny memory to non-owners already; a session
// compacted over RPC gets the runner's rules without the memory category.
func compactRules(e *Engine, key session.Key, rules *policy.Rules) *policy.Rules {
	if rules != nil || key.Channel == "" {
		return rules
	}
	r := policy.Rules{Categories: maps.Clone(e.Runner.Rules.Categories), Tools: maps.Clone(e.Runner.Rules.Tools)}
	if r.Categories == nil {
		r.Categories = map[string]policy.Mode{}
	}
	r.Categories[policy.PrivateCategory] = policy.ModeDeny
	return &r
}

// compactMessage tells the person what a compaction did.
func compactMessage(res agent.CompactResult) string {
	if !res.Compacted {
		if res.Reason != "" {
			return res.Reason
		}
		return "Nothing to compact yet."
	}
	c := res.Record.Compaction
	if c == nil {
		return "Compacted the conversation."
	}
	return fmt.Sprintf("Compacted %d earlier records into a summary: about %d tokens of context down to %d. The full history is still kept.",
		c.Records, c.TokensBefore, c.TokensAfter)
}

// compactError turns a failed compaction into text for the person.
func compactError(err error) string {
	switch {
	case errors.Is(err, agent.ErrBadSummary):
		return "The model did not produce a usable summary, so nothing was compacted. Try again, or use a stronger model."
	default:
		return userMessage(err)
	}
}

func (s *Server) sessionsCompact(ctx context.Context, c *conn, raw json.RawMessage) (any, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	var p api.SessionsCompactParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	key, err := e.sessionKey(p.SessionKey)
	if err != nil {
		return nil, err
	}
	provider, _, modelName, ok := e.Models.Current()
	if !ok {
		return nil, api.Errorf(api.CodeNoModel, "%s", s.opts.SetupHint)
	}
	c.join(key.String())
	ticket := s.opts.Queue.Reserve(key.String())
	res, err := s.compact(ctx, e, newID("compact_"), key, ticket, provider, modelName, nil, nil)
	if err != nil {
		if errors.Is(err, agent.ErrBadSummary) {
			return nil, api.Errorf(api.CodeUnavailable, "%s", compactError(err))
		}
		return nil, err
	}
	s.broadcast(api.EventSessionsChanged, map[string]string{"sessionKey": key.String()})
	out := api.SessionsCompactResult{Compacted: res.Compacted, Message: compactMessage(res)}
	if cp := res.Record.Compaction; res.Compacted && cp != nil {
		out.Records, out.TokensBefore, out.TokensAfter = cp.Records, cp.TokensBefore, cp.TokensAfter
	}
	return out, nil
}
