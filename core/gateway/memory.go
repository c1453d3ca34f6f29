package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/genos-project/genos/core/api"
)

// Memory is what the gateway needs of the agent's memory to serve
// memory.*. The daemon adapts core/memory to it.
type Memory interface {
	Search(ctx context.Context, p api.MemorySearchParams) (api.MemorySearchResult, error)
	Status(ctx context.Context) api.MemoryStatus
	Reindex(ctx context.Context) (api.MemoryStatus, error)
}

const (
	maxMemoryQueryBytes = 4 << 10
	maxMemoryHits       = 50
)

var errNoMemory = api.Errorf(api.CodeUnavailable, "memory is not available in this gateway")

func (s *Server) memory(ctx context.Context) (Memory, error) {
	e, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	if e.Memory == nil {
		return nil, errNoMemory
	}
	return e.Memory, nil
}

func (s *Server) memorySearch(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	m, err := s.memory(ctx)
	if err != nil {
		return nil, err
	}
	var p api.MemorySearchParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(p.Query) == "":
		return nil, api.Errorf(api.CodeInvalidRequest, "query is empty")
	case len(p.Query) > maxMemoryQueryBytes || !utf8.ValidString(p.Query):
		return nil, api.Errorf(api.CodeInvalidRequest, "query must be UTF-8 text of at most %d bytes", maxMemoryQueryBytes)
	case p.Limit < 0 || p.Limit > maxMemoryHits:
		return nil, api.Errorf(api.CodeInvalidRequest, "limit must be between 1 and %d", maxMemoryHits)
	}
	switch p.Mode {
	case "", "hybrid", "bm25", "vector":
	default:
		return nil, api.Errorf(api.CodeInvalidRequest, "mode must be hybrid, bm25 or vector, got %q", truncate(p.Mode, 32))
	}
	if p.Limit == 0 {
		p.Limit = 5
	}
	res, err := m.Search(ctx, p)
	if err != nil {
		return nil, err
	}
	if res.Hits == nil {
		res.Hits = []api.MemoryHit{}
	}
	return res, nil
}

func (s *Server) memoryStatus(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	m, err := s.memory(ctx)
	if err != nil {
		return nil, err
	}
	return m.Status(ctx), nil
}

func (s *Server) memoryReindex(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	m, err := s.memory(ctx)
	if err != nil {
		return nil, err
	}
	return m.Reindex(ctx)
}
