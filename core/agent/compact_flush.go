package agent

import (
	"context"
	"fmt"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/tokens"
)

// flushPrompt is the instruction of the silent memory-flush turn.
const flushPrompt = "[Memory flush before compaction] The older part of this conversation is about to be replaced by a summary. " +
	"Before that happens, save the durable facts worth remembering across sessions with the %s tool: the user's preferences, " +
	"names, dates, decisions and commitments. Save only what is not saved already, one short entry per fact. " +
	"If there is nothing to save, reply with just NO_REPLY. The user does not see this turn."

// recentlyFlushed reports whether a memory flush already ran after the
// latest compaction with less than two user messages since: a compaction
// whose summary keeps failing would otherwise repeat the flush on every
// run and write the same facts again and again.
func recentlyFlushed(history []chat.Record) bool {
	users := 0
	for i := len(history) - 1; i >= 0; i-- {
		switch rec := history[i]; {
		case rec.Kind == chat.RecordCompaction:
			return false
		case rec.Kind == chat.RecordMemoryFlush:
			return users < 2
		case rec.Kind == "" && rec.Role == chat.RoleUser:
			users++
		}
	}
	return false
}

// flush runs the silent memory-flush turn: the model sees the context as it
// would for a run, plus the flush instruction, and is offered only the
// flush tool, whose calls go through the usual policy and approval gate.
// All its records are appended with Kind chat.RecordMemoryFlush and
// returned; nothing is emitted. It does nothing when the flush tool is not
// registered or the rules deny it.
func (r *Runner) flush(ctx context.Context, cr CompactRun, history []chat.Record, system string) ([]chat.Record, chat.Usage, error) {
	var usage chat.Usage
	name := r.flushTool()
	if r.Tools == nil {
		return nil, usage, nil
	}
	tool, ok := r.Tools.Get(name)
	if !ok || r.compactRules(cr).Mode(tool.Name, string(tool.Category)) == policy.ModeDeny || recentlyFlushed(history) {
		return nil, usage, nil
	}
	specs := []model.ToolSpec{{Name: tool.Name, Description: tool.Description, Parameters: tool.Schema}}
	instr := chat.Record{Kind: chat.RecordMemoryFlush, Role: chat.RoleUser, Content: fmt.Sprintf(flushPrompt, name),
		Provenance: &chat.Provenance{Kind: chat.InternalSystem}}
	msgs := contextMessages(history)
	if n := estimatePrompt(system, msgs, specs) + perMessageTokens + tokens.Estimate(instr.Content); n > r.contextWindow() {
		return nil, usage, fmt.Errorf("memory flush skipped: the prompt (about %d tokens) is larger than the context window", n)
	}
	var out []chat.Record
	add := func(rec chat.Record) error {
		rec.Kind = chat.RecordMemoryFlush
		if err := r.appendCompactRecords(ctx, cr, &rec); err != nil {
			return err
		}
		out = append(out, rec)
		msgs = append(msgs, rec.Message())
		return nil
	}
	// The instruction is recorded with the turn, so the transcript shows
	// why the agent wrote to memory.
	if err := add(instr); err != nil {
		return out, usage, err
	}
	run := Run{ID: cr.ID, SessionKey: cr.SessionKey, Rules: cr.Rules}
	silent := func(Event) {}
	calls := 0
	for round := 1; round <= flushMaxRounds; round++ {
		resp, err := cr.Provider.Stream(ctx, model.Request{Model: cr.Model, System: system, Messages: msgs, Tools: specs}, func(string) {})
		if err != nil {
			return out, usage, fmt.Errorf("memory flush: %w", err)
		}
		usage.Add(resp.Usage)
		u := resp.Usage
		if err := add(chat.Record{Role: chat.RoleAssistant, Content: resp.Message.Content,
			ToolCalls: resp.Message.ToolCalls, Usage: &u, Model: resp.Model}); err != nil {
			return out, usage, err
		}
		if len(resp.Message.ToolCalls) == 0 {
			break
		}
		for _, call := range resp.Message.ToolCalls {
			var rec chat.Record
			if call.Name != name {
				// Only the flush tool was offered; anything else is refused
				// without reaching the registry.
				rec = chat.Record{Role: chat.RoleTool, ToolCallID: call.ID, ToolName: call.Name, IsError: true,
					Content:    fmt.Sprintf("Only %s is available in this turn.", name),
					Provenance: &chat.Provenance{Kind: chat.InternalSystem, Tool: call.Name}}
			} else if rec, err = r.callTool(ctx, run, call, silent); err != nil {
				return out, usage, fmt.Errorf("memory flush: %w", err)
			} else {
				calls++
			}
			if err := add(rec); err != nil {
				return out, usage, err
			}
		}
		if ctx.Err() != nil {
			return out, usage, fmt.Errorf("memory flush: %w", ctx.Err())
		}
	}
	r.logger().Debug("memory flush done", "session", cr.SessionKey, "calls", calls)
	return out, usage, nil
}
