package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/session"
)

// maxRunTimeoutMs caps chat.send's timeoutMs (24 h).
const maxRunTimeoutMs = 24 * 60 * 60 * 1000

// idempotencyWindow is how long a repeated chat.send returns the first runId.
const idempotencyWindow = 5 * time.Minute

type runEntry struct {
	id         string
	sessionKey string
	cancel     context.CancelFunc
}

type idemEntry struct {
	runID string
	at    time.Time
}

// runTable tracks queued and active runs, for chat.abort and shutdown, and
// remembers idempotency keys.
type runTable struct {
	mu   sync.Mutex
	runs map[string]*runEntry
	idem map[string]idemEntry
	wg   sync.WaitGroup
}

func newRunTable() *runTable {
	return &runTable{runs: make(map[string]*runEntry), idem: make(map[string]idemEntry)}
}

// claim returns the run id already started for key, or registers a new one.
func (t *runTable) claim(key string, now time.Time, newRun func() *runEntry) (id string, fresh bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.idem {
		if now.Sub(e.at) > idempotencyWindow {
			delete(t.idem, k)
		}
	}
	if e, ok := t.idem[key]; ok {
		return e.runID, false
	}
	r := newRun()
	t.runs[r.id] = r
	t.idem[key] = idemEntry{runID: r.id, at: now}
	t.wg.Add(1)
	return r.id, true
}

func (t *runTable) finish(id string) {
	t.mu.Lock()
	if r := t.runs[id]; r != nil {
		r.cancel() // releases the run's context (and its timer)
	}
	delete(t.runs, id)
	t.mu.Unlock()
	t.wg.Done()
}

// abort cancels runId, or every run of sessionKey when runId is empty.
func (t *runTable) abort(sessionKey, runID string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, r := range t.runs {
		if r.sessionKey != sessionKey || (runID != "" && id != runID) {
			continue
		}
		r.cancel()
		ids = append(ids, id)
	}
	return ids
}

func (t *runTable) abortAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.runs {
		r.cancel()
	}
}

func (t *runTable) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (s *Server) chatSend(ctx context.Context, c *conn, raw json.RawMessage) (any, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	var p api.ChatSendParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	key, err := e.sessionKey(p.SessionKey)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(p.Message) == "":
		return nil, api.Errorf(api.CodeInvalidRequest, "message is empty")
	case len(p.Message) > maxMessageBytes:
		return nil, api.Errorf(api.CodeInvalidRequest, "message is larger than %d bytes", maxMessageBytes)
	case !utf8.ValidString(p.Message):
		return nil, api.Errorf(api.CodeInvalidRequest, "message is not valid UTF-8")
	case p.IdempotencyKey == "" || len(p.IdempotencyKey) > 128:
		return nil, api.Errorf(api.CodeInvalidRequest, "idempotencyKey of 1 to 128 characters is required")
	case p.TimeoutMs < 0 || p.TimeoutMs > maxRunTimeoutMs:
		return nil, api.Errorf(api.CodeInvalidRequest, "timeoutMs must be between 0 and %d (24 hours)", maxRunTimeoutMs)
	case len(p.Attachments) > 0:
		return nil, api.Errorf(api.CodeInvalidRequest, "attachments are not supported yet")
	}
	keyStr := key.String()
	c.join(keyStr) // before the run starts, so no event is missed
	input := chat.Record{
		Role:       chat.RoleUser,
		Content:    p.Message,
		Provenance: &chat.Provenance{Kind: chat.ExternalUser, Channel: "gateway"},
	}
	id, err := s.startRun(e, key, input, p.IdempotencyKey, time.Duration(p.TimeoutMs)*time.Millisecond, runOpts{})
	if err != nil {
		return nil, err
	}
	return api.ChatSendResult{RunID: id}, nil
}

// startRun starts (or, for a repeated idempotency key, finds) a run of
// input on key and returns its id.
func (s *Server) startRun(e *Engine, key session.Key, input chat.Record, idemKey string, timeout time.Duration, o runOpts) (string, error) {
	provider, _, modelName, ok := e.Models.Current()
	if !ok {
		return "", api.Errorf(api.CodeNoModel, "%s", s.opts.SetupHint)
	}
	keyStr := key.String()
	var runCtx context.Context
	id, fresh := s.runs.claim(keyStr+"\x00"+idemKey, time.Now(), func() *runEntry {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithCancel(s.baseCtx)
		if timeout > 0 {
			runCtx, cancel = withTimeoutCancel(runCtx, cancel, timeout)
		}
		return &runEntry{id: newID("run_"), sessionKey: keyStr, cancel: cancel}
	})
	if fresh {
		// The place in the session's line is taken here, in arrival
		// order; the goroutine only waits for it.
		o.ticket = s.opts.Queue.Reserve(keyStr)
		go s.execute(runCtx, e, id, key, input, provider, modelName, o)
	}
	return id, nil
}

// Deliver starts a run for a message from a messaging channel, on the
// session of its peer (or group, and thread). The record carries the
// channel's provenance. Channel adapters reach it through the daemon,
// which queues messages sealed while the vault is locked.
func (s *Server) Deliver(ctx context.Context, in chat.Inbound) (string, error) {
	return s.DeliverTo(ctx, in, ChannelReply{})
}

// DeliverTo is Deliver with the reply routed back through r.Channel (when
// set) and the run limited to r.Rules.
func (s *Server) DeliverTo(ctx context.Context, in chat.Inbound, r ChannelReply) (string, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return "", err
	}
	switch {
	case in.Channel == "" || in.Peer == "":
		return "", api.Errorf(api.CodeInvalidRequest, "inbound message needs a channel and a peer")
	case strings.TrimSpace(in.Text) == "":
		return "", api.Errorf(api.CodeInvalidRequest, "inbound message is empty")
	case len(in.Text) > maxMessageBytes || !utf8.ValidString(in.Text):
		return "", api.Errorf(api.CodeInvalidRequest, "inbound message is too large or not UTF-8")
	}
	key := session.DirectKey(e.Agent.ID, in.Channel, in.Peer)
	if in.Group != "" {
		key = session.GroupKey(e.Agent.ID, in.Channel, in.Group)
	}
	if in.Thread != "" {
		key = key.WithThread(in.Thread)
	}
	if err := key.Validate(); err != nil {
		return "", api.Errorf(api.CodeInvalidRequest, "inbound message: %v", err)
	}
	prov := in.Provenance
	prov.Kind = chat.ExternalUser
	prov.Channel = in.Channel
	input := chat.Record{Role: chat.RoleUser, Content: in.Text, Provenance: &prov}
	idem := in.MessageID
	if idem == "" {
		idem = newID("in_")
	}
	o := runOpts{rules: r.Rules}
	if r.Channel != nil {
		o.sink = newChannelSink(s.baseCtx, r.Channel, replyAddress(in), s.log)
	}
	return s.startRun(e, key, input, in.Channel+":"+idem, 0, o)
}

func withTimeoutCancel(parent context.Context, cancel context.CancelFunc, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, c2 := context.WithTimeout(parent, d)
	return ctx, func() { c2(); cancel() }
}

// execute waits for the session's turn, runs the agent and streams events.
func (s *Server) execute(ctx context.Context, eng *Engine, runID string, key session.Key, input chat.Record, provider agent.Provider, modelName string, o runOpts) {
	defer s.runs.finish(runID)
	keyStr := key.String()
	seq := 0
	emit := func(ev api.ChatEvent) {
		seq++
		ev.RunID, ev.SessionKey, ev.Seq = runID, keyStr, seq
		s.broadcastSession(api.EventChat, keyStr, ev)
	}
	sink := o.sink
	if sink == nil {
		sink = nopSink{}
	}
	if isCompactCommand(input.Content) {
		s.executeCompact(ctx, eng, runID, key, provider, modelName, o, sink, emit)
		return
	}
	var result agent.Result
	err := o.ticket.Do(ctx, func(ctx context.Context) error {
		sink.start(ctx)
		sess, err := eng.Sessions.Open(ctx, key)
		if err != nil {
			return err
		}
		defer sess.Close()
		s.broadcast(api.EventSessionsChanged, map[string]string{"sessionKey": keyStr})
		result, err = eng.Runner.Run(ctx, agent.Run{
			ID:         runID,
			SessionKey: keyStr,
			Transcript: sess,
			Input:      input,
			Provider:   provider,
			Model:      modelName,
			Rules:      o.rules,
			Emit: func(e agent.Event) {
				switch e.Kind {
				case agent.EventDelta:
					sink.delta(e.Text)
					emit(api.ChatEvent{State: api.ChatDelta, Delta: e.Text})
				case agent.EventToolStart:
					s.broadcastSession(api.EventAgent, keyStr, api.AgentEvent{RunID: runID, SessionKey: keyStr, Phase: api.ToolStart,
						Tool: e.ToolCall.Name, ToolCallID: e.ToolCall.ID, Args: e.ToolCall.Arguments})
				case agent.EventToolEnd:
					ev := api.AgentEvent{RunID: runID, SessionKey: keyStr, Phase: api.ToolEnd,
						Tool: e.ToolCall.Name, ToolCallID: e.ToolCall.ID}
					if e.Record != nil {
						ev.Result, ev.IsError = clip(e.Record.Content, 4096), e.Record.IsError
					}
					s.broadcastSession(api.EventAgent, keyStr, ev)
				}
			},
		})
		return err
	})
	switch {
	case err == nil:
		final := result.Final
		usage := result.Usage
		sink.done(final.Content, "")
		emit(api.ChatEvent{State: api.ChatFinal, Message: &final, Usage: &usage, StopReason: result.StopReason})
	case errors.Is(err, context.Canceled):
		sink.done("", "")
		emit(api.ChatEvent{State: api.ChatAborted, Usage: &result.Usage})
	default:
		s.log.Warn("run failed", "session", keyStr, "run", runID, "err", err)
		sink.done("", userMessage(err))
		emit(api.ChatEvent{State: api.ChatError, ErrorMessage: userMessage(err)})
	}
}

// executeCompact serves /compact: the session is compacted in its turn and
// the outcome is the run's reply. Nothing is appended for the command
// itself; the compaction record tells the story.
func (s *Server) executeCompact(ctx context.Context, eng *Engine, runID string, key session.Key, provider agent.Provider, modelName string, o runOpts, sink replySink, emit func(api.ChatEvent)) {
	res, err := s.compact(ctx, eng, runID, key, o.ticket, provider, modelName, o.rules, sink.start)
	switch {
	case err == nil:
		s.broadcast(api.EventSessionsChanged, map[string]string{"sessionKey": key.String()})
		msg := chat.Record{ID: runID, RunID: runID, Role: chat.RoleAssistant, Content: compactMessage(res), Time: time.Now().UTC()}
		if res.Compacted {
			msg.Kind, msg.Compaction = chat.RecordCompaction, res.Record.Compaction
		}
		sink.done(msg.Content, "")
		emit(api.ChatEvent{State: api.ChatFinal, Message: &msg, Usage: &res.Usage})
	case errors.Is(err, context.Canceled):
		sink.done("", "")
		emit(api.ChatEvent{State: api.ChatAborted})
	default:
		s.log.Warn("compaction failed", "session", key.String(), "run", runID, "err", err)
		sink.done("", compactError(err))
		emit(api.ChatEvent{State: api.ChatError, ErrorMessage: compactError(err)})
	}
}

// userMessage turns a run error into text for the person chatting: model
// errors are already written for them; anything else (a disk problem, a
// broken transcript) gets a short explanation, with details in the log.
func userMessage(err error) string {
	var me *model.Error
	switch {
	case errors.As(err, &me):
		return me.Error()
	case errors.Is(err, agent.ErrMaxRounds):
		return "The assistant kept calling tools without finishing, so the reply was stopped. Try rephrasing the request."
	case errors.Is(err, context.DeadlineExceeded):
		return "The reply took too long and was stopped. Try again, or raise agent.runTimeoutSeconds (or the request's timeout)."
	default:
		return "Genos could not complete this reply because of an internal problem; the gateway log has the details."
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (s *Server) chatAbort(ctx context.Context, c *conn, raw json.RawMessage) (any, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err // Suspend has aborted every run already
	}
	var p api.ChatAbortParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	key, err := e.sessionKey(p.SessionKey)
	if err != nil {
		return nil, err
	}
	c.join(key.String())
	ids := s.runs.abort(key.String(), p.RunID)
	res := api.ChatAbortResult{Aborted: len(ids) > 0}
	if len(ids) == 1 {
		res.RunID = ids[0]
	}
	return res, nil
}
