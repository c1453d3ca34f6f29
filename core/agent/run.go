package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/vault"
)

// Provider is the model the loop talks to.
type Provider interface {
	Stream(ctx context.Context, req model.Request, onDelta func(string)) (model.Response, error)
}

// Approver decides tool calls whose policy mode is "ask".
type Approver interface {
	Request(ctx context.Context, req policy.Request) (policy.Decision, error)
}

// Transcript is where a run reads history and appends its records.
type Transcript interface {
	Append(ctx context.Context, recs ...chat.Record) error
	Records() ([]chat.Record, error)
}

// bufferedAppender is a Transcript that can write without waiting for the
// disk; the run's next durable append then covers it.
type bufferedAppender interface {
	AppendBuffered(ctx context.Context, recs ...chat.Record) error
}

// ErrMaxRounds ends a run whose model kept calling tools past the limit.
var ErrMaxRounds = errors.New("the agent kept calling tools past its round limit")

// EventKind tells what an Event reports.
type EventKind int

// Event kinds.
const (
	EventDelta EventKind = iota + 1
	EventToolStart
	EventToolEnd
	EventRecord // a record was appended to the transcript
	// EventCompacted reports a finished compaction (compact.go): Record is
	// the compaction record, Text a one-line note for the UI.
	EventCompacted
)

// Event reports progress of a run to whoever streams it.
type Event struct {
	Kind     EventKind
	Text     string
	ToolCall chat.ToolCall
	Record   *chat.Record
}

// Runner runs turns for one agent.
type Runner struct {
	Info      Info
	Workspace string // absolute path of the agent's workspace
	// Sealer opens the sealed prompt files (AGENTS.md, SOUL.md, USER.md)
	// of the workspace; nil reads them as plaintext. The file tools get
	// theirs through tools.BuiltinOptions.
	Sealer     tools.Sealer
	Tools      *tools.Registry
	Rules      policy.Rules
	Approvals  Approver
	MaxRounds  int
	RunTimeout time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
	// OnToolRun, when set, hears of every tool that actually ran (after
	// the policy and any approval let it), for the audit log.
	OnToolRun func(ToolRun)

	// Compaction settings (compact.go); zero or negative means the default.
	//
	// ContextWindow is the model's context size in tokens (default
	// 128000). ReserveTokens is the room kept free for the reply and tool
	// results (default 16000): a run whose estimated prompt passes
	// ContextWindow-ReserveTokens is compacted before its first model call.
	// KeepTurns is how many of the latest user turns are never summarised
	// (default 4). FlushTool names the tool the silent memory-flush turn
	// may call (default "memory_write"); the flush happens only when the
	// registry has it and the rules do not deny it.
	ContextWindow int
	ReserveTokens int
	KeepTurns     int
	FlushTool     string
	// MinCompactTokens is the least the turns before the cut must come to
	// for a compaction to happen (default 400; negative means none).
	MinCompactTokens int

	// Augment, when set, adds the memories relevant to each message and
	// picks the tools worth offering for it (augment.go).
	Augment Augmenter
}

// ToolRun describes one tool execution for OnToolRun, or a call the policy
// refused outright (Refused): a model asking for a tool it was not offered
// is worth an audit record, since it usually means injected instructions.
type ToolRun struct {
	AgentID, SessionKey, RunID string
	Tool, Category             string
	Args                       json.RawMessage
	IsError                    bool
	Refused                    bool
}

// Run is one inbound message to process.
type Run struct {
	ID         string
	SessionKey string
	Transcript Transcript
	Input      chat.Record // the user's record; ID and Time are filled when empty
	Provider   Provider
	Model      string
	Emit       func(Event) // must not block for long
	// Rules, when set, replace the runner's tool rules for this run: a
	// message from a messaging channel runs with that channel's (tighter)
	// rules.
	Rules *policy.Rules
}

// Result summarises a finished run.
type Result struct {
	Final      chat.Record
	Usage      chat.Usage
	StopReason string
	Rounds     int
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run appends the input, then alternates model calls and tool calls until the
// model answers without tools, the round limit, the run timeout, or ctx ends.
// Every record is appended (and fsynced by the transcript) as it happens, so
// an interrupted run leaves a consistent transcript behind.
func (r *Runner) Run(ctx context.Context, run Run) (Result, error) {
	emit := run.Emit
	if emit == nil {
		emit = func(Event) {}
	}
	if r.RunTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.RunTimeout)
		defer cancel()
	}
	// Records are written with a context that outlives an abort so that the
	// aborted marker itself still lands.
	writeCtx := context.WithoutCancel(ctx)
	write := func(rec chat.Record, durable bool) error {
		if rec.ID == "" {
			rec.ID = session.NewRecordID()
		}
		if rec.Time.IsZero() {
			rec.Time = r.now()
		}
		rec.RunID = run.ID
		var err error
		if b, ok := run.Transcript.(bufferedAppender); ok && !durable {
			err = b.AppendBuffered(writeCtx, rec)
		} else {
			err = run.Transcript.Append(writeCtx, rec)
		}
		if errors.Is(err, session.ErrIndexNotUpdated) {
			// The record is durable; only the sessions index lags behind.
			r.logger().Warn("session index not updated", "session", run.SessionKey, "err", err)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("append to transcript: %w", err)
		}
		emit(Event{Kind: EventRecord, Record: &rec})
		return nil
	}
	appendRec := func(rec chat.Record) error { return write(rec, true) }

	// The user's record is written now and made durable by the run's next
	// append (the reply, a tool call, or the error/abort marker), which
	// saves one fsync per turn. The run is acknowledged only after that.
	// History is read before the input is written, so a transcript that
	// cannot be read at all fails the run without leaving an unanswered
	// message behind. Unreadable lines in the middle (damage, a file from
	// elsewhere) are skipped with a warning rather than blocking the
	// session for good.
	history, err := run.Transcript.Records()
	if err != nil {
		var le *session.LineError
		if history == nil || !errors.As(err, &le) || errors.Is(err, vault.ErrLocked) {
			return Result{}, fmt.Errorf("read transcript: %w", err)
		}
		r.logger().Warn("transcript has unreadable lines, continuing without them", "session", run.SessionKey, "err", err)
	}
	input := run.Input
	input.Role = chat.RoleUser
	if input.ID == "" {
		input.ID = session.NewRecordID()
	}
	if input.Time.IsZero() {
		input.Time = r.now()
	}
	input.RunID = run.ID
	if err := write(input, false); err != nil {
		return Result{}, err
	}
	history = append(history, input)
	system, err := SystemPrompt(r.Info, r.Workspace, r.Sealer, r.now())
	if err != nil {
		return Result{}, err
	}
	system, specs, aug := r.augment(ctx, run, input.Content, system)
	if ctx.Err() != nil {
		return Result{}, r.stop(ctx, ctx.Err(), "", appendRec)
	}
	// Compaction hook (compact.go): the model sees the latest summary and
	// the records after it, and a prompt past the threshold is compacted
	// before the first model call.
	messages := contextMessages(history)
	if messages, err = r.autoCompact(ctx, run, system, specs, history, messages, emit); err != nil {
		return Result{}, r.stop(ctx, err, "", appendRec)
	}

	maxRounds := r.MaxRounds
	if maxRounds <= 0 {
		maxRounds = 16
	}
	var res Result
	for round := 1; round <= maxRounds; round++ {
		res.Rounds = round
		var partial []byte
		resp, err := run.Provider.Stream(ctx, model.Request{
			Model:    run.Model,
			System:   system,
			Messages: messages,
			Tools:    specs,
		}, func(d string) {
			partial = append(partial, d...)
			emit(Event{Kind: EventDelta, Text: d})
		})
		if err != nil {
			return res, r.stop(ctx, err, string(partial), appendRec)
		}
		// Each request was sent with the filtered tools and the memory
		// block, so each one's usage says what they saved and cost.
		usage := resp.Usage
		usage.ToolTokensSaved, usage.MemoryTokens = int64(aug.ToolTokensSaved), int64(aug.MemoryTokens)
		res.Usage.Add(usage)
		res.StopReason = resp.StopReason
		rec := chat.Record{
			Role:      chat.RoleAssistant,
			Content:   resp.Message.Content,
			ToolCalls: resp.Message.ToolCalls,
			Usage:     &usage,
			Model:     resp.Model,
		}
		if err := appendRec(rec); err != nil {
			return res, err
		}
		messages = append(messages, rec.Message())
		if len(resp.Message.ToolCalls) == 0 {
			res.Final = rec
			return res, nil
		}
		for _, call := range resp.Message.ToolCalls {
			out, err := r.callTool(ctx, run, call, emit)
			if err != nil {
				return res, err
			}
			if err := appendRec(out); err != nil {
				return res, err
			}
			messages = append(messages, out.Message())
			if ctx.Err() != nil {
				return res, r.stop(ctx, ctx.Err(), "", appendRec)
			}
		}
	}
	note := chat.Record{Kind: "error", Role: chat.RoleAssistant,
		Content: fmt.Sprintf("Stopped after %d tool rounds without a final answer.", maxRounds)}
	if err := appendRec(note); err != nil {
		return res, err
	}
	return res, ErrMaxRounds
}

// stop records why a run ended early: an abort keeps the partial text, an
// error is recorded so the history explains the gap.
func (r *Runner) stop(ctx context.Context, cause error, partial string, appendRec func(chat.Record) error) error {
	rec := chat.Record{Role: chat.RoleAssistant, Content: partial}
	switch {
	case errors.Is(cause, context.Canceled) && ctx.Err() != nil:
		rec.Kind = "aborted"
	case errors.Is(cause, context.DeadlineExceeded) && ctx.Err() != nil:
		rec.Kind = "error"
		cause = fmt.Errorf("the run timed out after %s: %w", r.RunTimeout, cause)
		rec.Content = joinNonEmpty(partial, cause.Error())
	default:
		rec.Kind = "error"
		rec.Content = joinNonEmpty(partial, cause.Error())
	}
	if err := appendRec(rec); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n\n" + b
}

// rules returns the tool rules in force for run.
func (r *Runner) rules(run Run) policy.Rules {
	if run.Rules != nil {
		return *run.Rules
	}
	return r.Rules
}

func (r *Runner) toolSpecs(rules policy.Rules) []model.ToolSpec {
	return specsOf(r.offeredTools(rules))
}

// offeredTools is every tool the rules could let run.
func (r *Runner) offeredTools(rules policy.Rules) []tools.Tool {
	if r.Tools == nil {
		return nil
	}
	var out []tools.Tool
	for _, t := range r.Tools.List() {
		if rules.Mode(t.Name, string(t.Category)) == policy.ModeDeny {
			continue // a tool that can never run is not offered
		}
		out = append(out, t)
	}
	return out
}

func specsOf(ts []tools.Tool) []model.ToolSpec {
	specs := make([]model.ToolSpec, 0, len(ts))
	for _, t := range ts {
		specs = append(specs, model.ToolSpec{Name: t.Name, Description: t.Description, Parameters: t.Schema})
	}
	return specs
}

// callTool runs one tool call through the policy gate and returns its
// transcript record. Only internal failures (a broken transcript, say) are
// returned as errors; everything the model should learn from is a result.
func (r *Runner) callTool(ctx context.Context, run Run, call chat.ToolCall, emit func(Event)) (chat.Record, error) {
	rec := chat.Record{
		Role:       chat.RoleTool,
		ToolCallID: call.ID,
		ToolName:   call.Name,
		Provenance: &chat.Provenance{Kind: chat.InternalSystem, Tool: call.Name},
	}
	fail := func(msg string) (chat.Record, error) {
		rec.Content, rec.IsError = msg, true
		emit(Event{Kind: EventToolEnd, ToolCall: call, Record: &rec})
		return rec, nil
	}
	emit(Event{Kind: EventToolStart, ToolCall: call})
	var tool tools.Tool
	var ok bool
	if r.Tools != nil {
		tool, ok = r.Tools.Get(call.Name)
	}
	if !ok {
		return fail(fmt.Sprintf("There is no tool named %q.", call.Name))
	}
	if len(call.Arguments) == 0 || !json.Valid(call.Arguments) {
		return fail("The tool arguments were not valid JSON.")
	}
	switch r.rules(run).Mode(tool.Name, string(tool.Category)) {
	case policy.ModeAllow:
	case policy.ModeAsk:
		if r.Approvals == nil {
			return fail("This tool needs the user's approval and no one can approve it here.")
		}
		decision, err := r.Approvals.Request(ctx, policy.Request{
			AgentID:    r.Info.ID,
			SessionKey: run.SessionKey,
			RunID:      run.ID,
			Tool:       tool.Name,
			Category:   string(tool.Category),
			Args:       call.Arguments,
		})
		if err != nil {
			rec.Approval = &chat.Approval{Decision: string(policy.DecisionDeny)}
			return fail("The approval request was cancelled: " + err.Error())
		}
		rec.Approval = &chat.Approval{Decision: string(decision)}
		if !decision.Allowed() {
			if decision == policy.DecisionTimeout {
				return fail("Nobody approved this tool call in time, so it was not run.")
			}
			return fail("The user denied this tool call. Do not retry it; ask or explain instead.")
		}
	default:
		if r.OnToolRun != nil {
			r.OnToolRun(ToolRun{AgentID: r.Info.ID, SessionKey: run.SessionKey, RunID: run.ID, Tool: tool.Name,
				Category: string(tool.Category), Args: call.Arguments, IsError: true, Refused: true})
		}
		return fail("This tool is not allowed here.")
	}
	r.logger().Debug("tool run", "agent", r.Info.ID, "tool", tool.Name, "session", run.SessionKey)
	out, err := tool.Run(ctx, tools.Env{
		Workspace:  r.Workspace,
		AgentID:    r.Info.ID,
		SessionKey: run.SessionKey,
		RunID:      run.ID,
		NoPrivate:  r.rules(run).Mode("memory_search", string(tools.CategoryMemory)) == policy.ModeDeny,
	}, call.Arguments)
	if r.OnToolRun != nil {
		r.OnToolRun(ToolRun{AgentID: r.Info.ID, SessionKey: run.SessionKey, RunID: run.ID, Tool: tool.Name,
			Category: string(tool.Category), Args: call.Arguments, IsError: err != nil || out.IsError})
	}
	if err != nil {
		r.logger().Warn("tool failed", "agent", r.Info.ID, "tool", tool.Name, "err", err)
		return fail("The tool failed: " + err.Error())
	}
	rec.Content, rec.IsError = out.Content, out.IsError
	emit(Event{Kind: EventToolEnd, ToolCall: call, Record: &rec})
	return rec, nil
}

// buildMessages turns transcript records into model messages. Error and
// aborted markers are skipped, and every assistant tool call gets a result
// even when a crash or abort cut the run short: both APIs reject a tool call
// left unanswered.
func buildMessages(records []chat.Record) []chat.Message {
	var msgs []chat.Message
	var open []chat.ToolCall // calls of the last assistant message still awaiting results
	answered := map[string]bool{}
	flush := func() {
		for _, c := range open {
			if !answered[c.ID] {
				msgs = append(msgs, chat.Message{Role: chat.RoleTool, ToolCallID: c.ID, ToolName: c.Name,
					Content: "This tool call was interrupted before it returned.", IsError: true})
			}
		}
		open, answered = nil, map[string]bool{}
	}
	for _, rec := range records {
		if rec.Kind != "" {
			continue
		}
		switch rec.Role {
		case chat.RoleTool:
			known := false
			for _, c := range open {
				if c.ID == rec.ToolCallID {
					known = true
				}
			}
			if !known || answered[rec.ToolCallID] {
				continue // a result without its call would be rejected
			}
			answered[rec.ToolCallID] = true
			msgs = append(msgs, rec.Message())
		case chat.RoleAssistant:
			flush()
			msgs = append(msgs, rec.Message())
			open = rec.ToolCalls
		case chat.RoleUser:
			flush()
			msgs = append(msgs, rec.Message())
		}
	}
	flush()
	return msgs
}
