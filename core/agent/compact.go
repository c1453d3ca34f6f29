package agent

// Compaction keeps a long session inside the model's context window. Older
// turns are summarised into one chat.RecordCompaction record; the model then
// sees that summary followed by the records after the last one it covers.
// Nothing is deleted: the raw records stay in the (sealed) transcript and
// chat.history still pages through all of them.
//
// Decisions worth knowing:
//   - The compaction record has Role system: it is machinery, not something
//     the assistant said. Its Content is the TOON summary.
//   - The model sees the summary as a leading user-role message, clearly
//     labelled, not in the system prompt: the summary is derived from
//     conversation text (including tool output and other people's
//     messages), which must not gain the authority of system instructions.
//     Both providers accept it before the first kept user message (the
//     Anthropic provider merges consecutive user turns).
//   - The flush turn runs first and its records (Kind chat.RecordMemoryFlush)
//     stay even when the summary then fails: they record memory writes that
//     really happened. A failed summary appends nothing itself.
//   - Long older parts are summarised progressively in batches that fit
//     the window, each batch merging the summary so far; an earlier
//     compaction's summary is the starting point, so nothing is lost.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/tokens"
	"github.com/genos-project/genos/core/vault"
)

// Compaction defaults for the Runner fields left at zero.
const (
	DefaultContextWindow = 128000
	DefaultReserveTokens = 16000
	DefaultKeepTurns     = 4
	DefaultFlushTool     = "memory_write"
)

// Compaction triggers, as recorded in chat.Compaction.Trigger.
const (
	TriggerAuto   = "auto"
	TriggerManual = "manual"
)

// DefaultMinCompactTokens is the least a compaction must be able to
// summarise: a summary of a few short turns would be longer than the turns.
const DefaultMinCompactTokens = 400

func (r *Runner) minCompactTokens() int {
	if r.MinCompactTokens < 0 {
		return 0
	}
	return orDefault(r.MinCompactTokens, DefaultMinCompactTokens)
}

// flushMaxRounds bounds the model calls of the memory-flush turn.
const flushMaxRounds = 3

// minBatchTokens is the smallest transcript slice one summarisation call
// gets, so a tiny or misconfigured window still makes progress.
const minBatchTokens = 1000

// ErrContextFull ends a run whose prompt does not fit the model's context
// window even after compaction was tried.
var ErrContextFull = errors.New("the conversation no longer fits in the model's context window")

// ErrBadSummary is returned by Compact when the model twice failed to
// produce a valid summary; nothing was compacted.
var ErrBadSummary = errors.New("the model did not produce a valid summary")

// CompactRun is one compaction to perform.
type CompactRun struct {
	// ID is written as the RunID of the records compaction appends
	// (optional; an automatic compaction uses the run's ID).
	ID         string
	SessionKey string
	Transcript Transcript
	Provider   Provider
	Model      string
	// Trigger is TriggerAuto or TriggerManual ("" means manual).
	Trigger string
	// Emit hears EventCompacted when a compaction record was appended; the
	// flush turn is silent. It must not block for long.
	Emit func(Event)
	// Rules, when set, replace the runner's tool rules for the flush turn,
	// as Run.Rules do for a run.
	Rules *policy.Rules
}

// CompactResult says what a compaction did.
type CompactResult struct {
	// Compacted reports whether a compaction record was appended.
	Compacted bool
	// Reason explains, for the user, why nothing was compacted.
	Reason string
	// Record is the compaction record appended, when Compacted.
	Record chat.Record
	// FlushRecords counts the memory-flush records appended (also when the
	// summary failed afterwards).
	FlushRecords int
	// Usage adds up the model calls of the flush and the summary.
	Usage chat.Usage
}

func (r *Runner) contextWindow() int { return orDefault(r.ContextWindow, DefaultContextWindow) }
func (r *Runner) reserveTokens() int { return orDefault(r.ReserveTokens, DefaultReserveTokens) }
func (r *Runner) keepTurns() int     { return orDefault(r.KeepTurns, DefaultKeepTurns) }

func (r *Runner) flushTool() string {
	if r.FlushTool == "" {
		return DefaultFlushTool
	}
	return r.FlushTool
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Compact summarises the older part of a session so the model's context
// shrinks: first a silent memory-flush turn lets the agent store durable
// facts, then everything before the last KeepTurns user turns is summarised
// into one compaction record. It returns a result with Compacted false (not
// an error) when there is nothing old enough to compact. On error no
// compaction record was appended. Callers serialise it with runs on the
// same session (the gateway uses the session queue).
func (r *Runner) Compact(ctx context.Context, cr CompactRun) (CompactResult, error) {
	if cr.Transcript == nil || cr.Provider == nil {
		return CompactResult{}, errors.New("compact: a transcript and a provider are required")
	}
	switch cr.Trigger {
	case "":
		cr.Trigger = TriggerManual
	case TriggerAuto, TriggerManual:
	default:
		return CompactResult{}, fmt.Errorf("compact: unknown trigger %q (want %q or %q)", cr.Trigger, TriggerAuto, TriggerManual)
	}
	history, err := cr.Transcript.Records()
	if err != nil {
		var le *session.LineError
		if history == nil || !errors.As(err, &le) || errors.Is(err, vault.ErrLocked) {
			return CompactResult{}, fmt.Errorf("compact: read transcript: %w", err)
		}
		r.logger().Warn("transcript has unreadable lines, compacting without them", "session", cr.SessionKey, "err", err)
	}
	system, err := SystemPrompt(r.Info, r.Workspace, r.Sealer, r.now())
	if err != nil {
		return CompactResult{}, fmt.Errorf("compact: %w", err)
	}
	specs := r.toolSpecs(r.compactRules(cr))
	res, _, err := r.compact(ctx, cr, history, system, specs)
	return res, err
}

func (r *Runner) compactRules(cr CompactRun) policy.Rules {
	return r.rules(Run{Rules: cr.Rules})
}

// compact does the work of Compact on history already read. It also
// returns the records it appended, so a run can carry on without
// re-reading the transcript.
func (r *Runner) compact(ctx context.Context, cr CompactRun, history []chat.Record, system string, specs []model.ToolSpec) (CompactResult, []chat.Record, error) {
	var res CompactResult
	prev, tail := session.ContextRecords(history)
	cut := session.CompactionCut(tail, r.keepTurns())
	if cut == 0 {
		res.Reason = fmt.Sprintf("Nothing to compact: the last %d turns are always kept as they are.", r.keepTurns())
		return res, nil, nil
	}
	if old := estimatePrompt("", buildMessages(tail[:cut]), nil); old < r.minCompactTokens() {
		res.Reason = fmt.Sprintf("Nothing worth compacting yet: the turns older than the last %d come to only about %d tokens.", r.keepTurns(), old)
		return res, nil, nil
	}
	before := estimatePrompt(system, contextMessages(history), specs)

	appended, usage, err := r.flush(ctx, cr, history, system)
	res.FlushRecords = len(appended)
	res.Usage.Add(usage)
	if err != nil {
		r.logger().Warn("memory flush before compaction failed, compacting anyway", "session", cr.SessionKey, "err", err)
	}
	if err := ctx.Err(); err != nil {
		return res, appended, fmt.Errorf("compact: %w", err)
	}

	var earlier string
	if prev != nil {
		earlier = prev.Content
	}
	sum, sumUsage, err := r.summarise(ctx, cr, earlier, tail[:cut])
	res.Usage.Add(sumUsage)
	if err != nil {
		return res, appended, fmt.Errorf("compact: %w", err)
	}
	content, err := sum.TOON()
	if err != nil {
		return res, appended, fmt.Errorf("compact: %w", err)
	}
	through := tail[cut-1].ID
	rec := chat.Record{
		Kind:    chat.RecordCompaction,
		Role:    chat.RoleSystem,
		Content: content,
		// The summary calls' usage; the flush turn's is on its own records.
		Usage: &sumUsage,
		Model: cr.Model,
		Compaction: &chat.Compaction{
			Through:      through,
			Records:      messagesThrough(history, through),
			TokensBefore: before,
			Trigger:      cr.Trigger,
		},
	}
	after := append(append(append([]chat.Record(nil), history...), appended...), rec)
	rec.Compaction.TokensAfter = estimatePrompt(system, contextMessages(after), specs)
	if err := r.appendCompactRecords(ctx, cr, &rec); err != nil {
		return res, appended, fmt.Errorf("compact: %w", err)
	}
	appended = append(appended, rec)
	res.Compacted, res.Record = true, rec
	r.logger().Info("session compacted", "session", cr.SessionKey, "trigger", cr.Trigger,
		"records", rec.Compaction.Records, "tokensBefore", before, "tokensAfter", rec.Compaction.TokensAfter)
	if cr.Emit != nil {
		cr.Emit(Event{Kind: EventCompacted, Record: &rec, Text: fmt.Sprintf(
			"Compacted %d earlier messages into a summary (about %d → %d tokens).",
			rec.Compaction.Records, before, rec.Compaction.TokensAfter)})
	}
	return res, appended, nil
}

// messagesThrough counts the message records (no Kind) up to and including
// the record with id through: all of them are now covered by the summary.
func messagesThrough(recs []chat.Record, through string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == "" {
			n++
		}
		if r.ID == through {
			break
		}
	}
	return n
}

// appendCompactRecords fills in IDs, times and the run ID, then appends
// durably with a context that outlives cancellation, so records of work
// that happened (a memory write) are not lost to an abort.
func (r *Runner) appendCompactRecords(ctx context.Context, cr CompactRun, recs ...*chat.Record) error {
	out := make([]chat.Record, len(recs))
	for i, rec := range recs {
		if rec.ID == "" {
			rec.ID = session.NewRecordID()
		}
		if rec.Time.IsZero() {
			rec.Time = r.now()
		}
		rec.RunID = cr.ID
		out[i] = *rec
	}
	err := cr.Transcript.Append(context.WithoutCancel(ctx), out...)
	if errors.Is(err, session.ErrIndexNotUpdated) {
		r.logger().Warn("session index not updated", "session", cr.SessionKey, "err", err)
		err = nil
	}
	if err != nil {
		return fmt.Errorf("append to transcript: %w", err)
	}
	return nil
}

// summarise turns old records into a Summary that also carries the earlier
// summary's content. Records are fed in batches that fit the window; each
// batch's summary is the "earlier summary" of the next.
func (r *Runner) summarise(ctx context.Context, cr CompactRun, earlier string, old []chat.Record) (Summary, chat.Usage, error) {
	var usage chat.Usage
	var batches []string
	var cur []byte
	curTokens := 0
	for _, rec := range old {
		text := renderRecord(rec)
		if text == "" {
			continue
		}
		n := tokens.Estimate(text)
		budget := max(r.contextWindow()-r.reserveTokens()-tokens.Estimate(summarySystem)-tokens.Estimate(earlier)-200, minBatchTokens)
		if len(cur) > 0 && curTokens+n > budget {
			batches = append(batches, string(cur))
			cur, curTokens = nil, 0
		}
		cur = append(cur, text...)
		curTokens += n
	}
	if len(cur) > 0 {
		batches = append(batches, string(cur))
	}
	if len(batches) == 0 {
		return Summary{}, usage, errors.New("nothing to summarise")
	}
	var sum Summary
	for _, conv := range batches {
		s, u, err := r.summariseBatch(ctx, cr, earlier, conv)
		usage.Add(u)
		if err != nil {
			return Summary{}, usage, err
		}
		sum = s
		if earlier, err = s.TOON(); err != nil {
			return Summary{}, usage, err
		}
	}
	return sum, usage, nil
}

// summariseBatch asks the model for one summary, retrying once with the
// validation error when the reply is not a valid summary.
func (r *Runner) summariseBatch(ctx context.Context, cr CompactRun, earlier, conv string) (Summary, chat.Usage, error) {
	var usage chat.Usage
	msgs := []chat.Message{{Role: chat.RoleUser, Content: summaryPrompt(earlier, conv)}}
	var lastErr error
	for attempt := 1; attempt <= 2; attempt++ {
		resp, err := cr.Provider.Stream(ctx, model.Request{Model: cr.Model, System: summarySystem, Messages: msgs}, func(string) {})
		if err != nil {
			return Summary{}, usage, fmt.Errorf("summarise: %w", err)
		}
		usage.Add(resp.Usage)
		s, err := parseSummaryJSON(resp.Message.Content)
		if err == nil {
			return s, usage, nil
		}
		lastErr = err
		r.logger().Warn("invalid compaction summary from the model", "session", cr.SessionKey, "attempt", attempt, "err", err)
		reply := resp.Message.Content
		if reply == "" {
			reply = "(empty reply)"
		}
		msgs = append(msgs, chat.Message{Role: chat.RoleAssistant, Content: reply},
			chat.Message{Role: chat.RoleUser, Content: retryPrompt(err)})
	}
	return Summary{}, usage, fmt.Errorf("%w: %w", ErrBadSummary, lastErr)
}

// autoCompact compacts before a run's first model call when the estimated
// prompt passes ContextWindow-ReserveTokens. A failed or empty compaction
// is only logged while the prompt still fits the window; otherwise the run
// fails with ErrContextFull rather than sending a request the provider
// would reject. It returns the messages the model should now see.
func (r *Runner) autoCompact(ctx context.Context, run Run, system string, specs []model.ToolSpec, history []chat.Record, msgs []chat.Message, emit func(Event)) ([]chat.Message, error) {
	if promptBound(system, msgs, specs) <= r.contextWindow()-r.reserveTokens() {
		return msgs, nil // cannot be over: skip tokenising the whole history on every turn
	}
	need := estimatePrompt(system, msgs, specs)
	if need <= r.contextWindow()-r.reserveTokens() {
		return msgs, nil
	}
	res, appended, err := r.compact(ctx, CompactRun{ID: run.ID, SessionKey: run.SessionKey, Transcript: run.Transcript,
		Provider: run.Provider, Model: run.Model, Trigger: TriggerAuto, Emit: emit, Rules: run.Rules}, history, system, specs)
	if ctx.Err() != nil {
		return msgs, ctx.Err()
	}
	if len(appended) > 0 {
		msgs = contextMessages(append(slices.Clip(history), appended...))
		need = estimatePrompt(system, msgs, specs)
	}
	switch {
	case err != nil:
		r.logger().Warn("automatic compaction failed", "session", run.SessionKey, "err", err)
	case !res.Compacted:
		r.logger().Info("automatic compaction found nothing to compact", "session", run.SessionKey)
	}
	if need > r.contextWindow() {
		cause := "nothing older than the last turns could be compacted"
		if err != nil {
			cause = "compaction failed: " + err.Error()
		}
		return msgs, fmt.Errorf("%w (about %d tokens for a %d-token window; %s): start a new session or raise the context window",
			ErrContextFull, need, r.contextWindow(), cause)
	}
	return msgs, nil
}

// contextMessages is what the model sees of a transcript: the latest
// compaction summary as a leading, labelled user message, then the records
// after the last one it covers (see buildMessages).
func contextMessages(records []chat.Record) []chat.Message {
	summary, tail := session.ContextRecords(records)
	msgs := buildMessages(tail)
	if summary == nil {
		return msgs
	}
	return append([]chat.Message{{Role: chat.RoleUser, Content: summaryLabel + summary.Content}}, msgs...)
}

// perMessageTokens approximates the framing each message costs (role,
// separators); perToolTokens the framing of one tool definition.
const (
	perMessageTokens = 4
	perToolTokens    = 8
)

// estimatePrompt estimates the prompt tokens of one model request.
// promptBound is an upper bound of estimatePrompt computed from lengths
// alone: the estimate never counts more than two tokens per byte (one per
// byte for text, a little more only for runs of stray non-UTF-8 bytes).
func promptBound(system string, msgs []chat.Message, specs []model.ToolSpec) int {
	n := len(system)
	for _, m := range msgs {
		n += perMessageTokens + len(m.Content)
		for _, c := range m.ToolCalls {
			n += perMessageTokens + len(c.Name) + len(c.Arguments)
		}
	}
	for _, s := range specs {
		n += perToolTokens + len(s.Name) + len(s.Description) + len(s.Parameters)
	}
	return 2 * n
}

func estimatePrompt(system string, msgs []chat.Message, specs []model.ToolSpec) int {
	n := tokens.Estimate(system)
	for _, m := range msgs {
		n += perMessageTokens + tokens.Estimate(m.Content)
		for _, c := range m.ToolCalls {
			n += perMessageTokens + tokens.Estimate(c.Name) + tokens.Estimate(string(c.Arguments))
		}
	}
	for _, s := range specs {
		n += perToolTokens + tokens.Estimate(s.Name) + tokens.Estimate(s.Description) + tokens.Estimate(string(s.Parameters))
	}
	return n
}
