package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
)

const (
	// historyBudget keeps a chat.history answer well inside a client's
	// frame limit however large single records are.
	historyBudget    = api.MaxFrameBytes / 2
	maxMessageBytes  = 1 << 20
	defaultHistory   = 100
	maxHistory       = 1000
	modelsListWindow = 10 * time.Second
)

type handler func(ctx context.Context, c *conn, params json.RawMessage) (any, error)

func (s *Server) handlers() map[string]handler {
	return map[string]handler{
		api.MethodHealth:           func(context.Context, *conn, json.RawMessage) (any, error) { return s.health(), nil },
		api.MethodStatus:           s.status,
		api.MethodChatSend:         s.chatSend,
		api.MethodChatHistory:      s.chatHistory,
		api.MethodChatAbort:        s.chatAbort,
		api.MethodSessionsList:     s.sessionsList,
		api.MethodApprovalsList:    s.approvalsList,
		api.MethodApprovalsResolve: s.approvalsResolve,
		api.MethodModelsList:       s.modelsList,
		api.MethodVaultStatus:      s.vaultStatus,
		api.MethodVaultUnlock:      s.vaultUnlock,
		api.MethodVaultLock:        s.vaultLock,
		api.MethodVaultCreate:      s.vaultCreate,
		api.MethodVaultRekey:       s.vaultRekey,
		api.MethodChannelsStatus:   s.channelsStatus,
		api.MethodChannelsSet:      s.channelsSet,
		api.MethodChannelsLogin:    s.channelsLogin,
		api.MethodChannelsLogout:   s.channelsLogout,
		api.MethodPairingList:      s.pairingList,
		api.MethodPairingApprove:   s.pairingDecide(true),
		api.MethodPairingDeny:      s.pairingDecide(false),
		api.MethodSessionsCompact:  s.sessionsCompact,
		api.MethodMemorySearch:     s.memorySearch,
		api.MethodMemoryStatus:     s.memoryStatus,
		api.MethodMemoryReindex:    s.memoryReindex,
	}
}

// dispatch runs one request and always returns a response frame; a panic in
// a handler becomes an INTERNAL error instead of taking the daemon down.
func (s *Server) dispatch(ctx context.Context, c *conn, f api.Frame) (res api.Frame) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "method", f.Method, "panic", p)
			res = api.NewErrorResponse(f.ID, api.Errorf(api.CodeInternal, "internal error in %s", f.Method))
		}
	}()
	h, ok := s.handlers()[f.Method]
	if !ok {
		return api.NewErrorResponse(f.ID, api.Errorf(api.CodeUnknownMethod, "unknown method %q", truncate(f.Method, 64)))
	}
	out, err := h(ctx, c, f.Params)
	if err != nil {
		var e *api.ErrorShape
		if !errors.As(err, &e) {
			s.log.Error("request failed", "method", f.Method, "err", err)
			e = api.Errorf(api.CodeInternal, "%s failed: %v", f.Method, err)
		}
		return api.NewErrorResponse(f.ID, e)
	}
	res, err = api.NewResponse(f.ID, out)
	if err != nil {
		return api.NewErrorResponse(f.ID, api.Errorf(api.CodeInternal, "encode result of %s", f.Method))
	}
	return res
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (s *Server) status(ctx context.Context, _ *conn, _ json.RawMessage) (any, error) {
	n, err := s.opts.DB.CountSessions(ctx)
	if err != nil {
		return nil, err
	}
	res := api.StatusResult{
		Version:          s.opts.Version,
		StateDir:         s.opts.StateDir,
		Listen:           s.opts.Listen,
		PendingApprovals: s.opts.Approvals.Pending(),
		ActiveRuns:       s.opts.Queue.Active(),
		Sessions:         n,
		Warnings:         s.warnings(),
		Vault:            s.vaultState().State,
	}
	if e := s.eng.Load(); e != nil {
		_, provider, modelName, ok := e.Models.Current()
		res.DefaultAgent = api.Agent{ID: e.Agent.ID, Name: e.Agent.Name}
		res.ModelConfigured, res.Model, res.Provider = ok, modelName, provider
	}
	return res, nil
}

// sessionKey parses a key from params and checks it names a known agent.
func (e *Engine) sessionKey(raw string) (session.Key, error) {
	if raw == "" {
		return session.MainKey(e.Agent.ID), nil
	}
	k, err := session.ParseKey(raw)
	if err != nil {
		return session.Key{}, api.Errorf(api.CodeInvalidRequest, "sessionKey: %v", err)
	}
	if k.AgentID != e.Agent.ID {
		return session.Key{}, api.Errorf(api.CodeNotFound, "no agent with id %q", k.AgentID)
	}
	return k, nil
}

func (s *Server) chatHistory(ctx context.Context, c *conn, raw json.RawMessage) (any, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	var p api.ChatHistoryParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	key, err := e.sessionKey(p.SessionKey)
	if err != nil {
		return nil, err
	}
	if p.Limit < 0 || p.Limit > maxHistory {
		return nil, api.Errorf(api.CodeInvalidRequest, "limit must be between 0 and %d", maxHistory)
	}
	if p.Limit == 0 {
		p.Limit = defaultHistory
	}
	c.join(key.String())
	res := api.ChatHistoryResult{SessionKey: key.String(), Records: []chat.Record{}}
	if _, found, err := e.Sessions.Lookup(ctx, key); err != nil {
		return nil, err
	} else if !found {
		return res, nil // reading history must not create a session
	}
	sess, err := e.Sessions.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	recs, more, err := sess.Page(p.Before, p.Limit)
	if errors.Is(err, session.ErrRecordNotFound) {
		return nil, api.Errorf(api.CodeNotFound, "no record %q in this session", truncate(p.Before, 64))
	}
	if err != nil && recs == nil {
		s.log.Error("read transcript", "session", key.String(), "err", err)
		return nil, api.Errorf(api.CodeUnavailable, "the history of this session cannot be read right now; the gateway log has the details")
	}
	if err != nil {
		// Unreadable lines are reported, but the readable records are
		// still worth showing.
		s.log.Warn("transcript has unreadable lines", "session", key.String(), "err", err)
	}
	if trimmed := trimToBudget(recs, historyBudget); len(trimmed) < len(recs) {
		recs, more = trimmed, true
	}
	if recs != nil {
		res.Records = recs
	}
	res.HasMore = more
	return res, nil
}

func (s *Server) sessionsList(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	var p api.SessionsListParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return nil, api.Errorf(api.CodeInvalidRequest, "limit must be between 0 and 1000")
	}
	rows, err := e.Sessions.List(ctx, p.AgentID, p.Limit)
	if err != nil {
		return nil, err
	}
	out := api.SessionsListResult{Sessions: []api.SessionInfo{}}
	for _, r := range rows {
		out.Sessions = append(out.Sessions, api.SessionInfo{
			Key: r.Key, AgentID: r.AgentID, Channel: r.Channel, Peer: r.Peer, UpdatedAt: r.UpdatedAt, Title: r.Title,
		})
	}
	return out, nil
}

func (s *Server) approvalsList(ctx context.Context, _ *conn, _ json.RawMessage) (any, error) {
	if _, err := s.engine(ctx); err != nil {
		return nil, err
	}
	out := api.ApprovalsListResult{Approvals: []api.Approval{}}
	for _, r := range s.opts.Approvals.List() {
		out.Approvals = append(out.Approvals, approvalView(r))
	}
	return out, nil
}

func (s *Server) approvalsResolve(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	if _, err := s.engine(ctx); err != nil {
		return nil, err
	}
	var p api.ApprovalsResolveParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	switch p.Decision {
	case api.DecisionAllowOnce, api.DecisionAllowAlways, api.DecisionDeny:
	default:
		return nil, api.Errorf(api.CodeInvalidRequest, "decision must be allow-once, allow-always or deny")
	}
	if p.ID == "" {
		return nil, api.Errorf(api.CodeInvalidRequest, "id is required")
	}
	if _, err := s.opts.Approvals.Resolve(p.ID, policy.Decision(p.Decision)); err != nil {
		if errors.Is(err, policy.ErrNotFound) {
			return nil, api.Errorf(api.CodeNotFound, "no pending approval %q (already decided or expired)", truncate(p.ID, 64))
		}
		return nil, api.Errorf(api.CodeInvalidRequest, "%v", err)
	}
	return api.ApprovalsResolveResult{ID: p.ID, Decision: p.Decision}, nil
}

func (s *Server) modelsList(ctx context.Context, _ *conn, _ json.RawMessage) (any, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	_, provider, modelName, ok := e.Models.Current()
	if !ok {
		return api.ModelsListResult{Models: []api.ModelInfo{}, Error: s.opts.SetupHint}, nil
	}
	lctx, cancel := context.WithTimeout(ctx, modelsListWindow)
	defer cancel()
	ids, err := e.Models.List(lctx)
	out := api.ModelsListResult{Models: []api.ModelInfo{}}
	if err != nil {
		out.Error = err.Error()
		out.Models = append(out.Models, api.ModelInfo{ID: modelName, Provider: provider, Default: true})
		return out, nil
	}
	seen := false
	for _, id := range ids {
		out.Models = append(out.Models, api.ModelInfo{ID: id, Provider: provider, Default: id == modelName})
		seen = seen || id == modelName
	}
	if !seen {
		out.Models = append(out.Models, api.ModelInfo{ID: modelName, Provider: provider, Default: true})
	}
	return out, nil
}

// trimToBudget keeps the newest records whose estimated encoded size fits
// in budget (always at least one, which a record's own 1 MiB cap bounds).
func trimToBudget(recs []chat.Record, budget int) []chat.Record {
	total := 0
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		n := 256 + len(r.Content)
		for _, c := range r.ToolCalls {
			n += 64 + len(c.Arguments)
		}
		if total+n > budget && i < len(recs)-1 {
			return recs[i+1:]
		}
		total += n
	}
	return recs
}
