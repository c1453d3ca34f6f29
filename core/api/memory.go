package api

import (
	"context"
	"time"
)

// MemorySearchParams asks memory.search for the notes closest to Query.
type MemorySearchParams struct {
	Query string `json:"query"`
	// Limit is how many hits to return (default 5, at most 50).
	Limit int `json:"limit,omitempty"`
	// Mode is "hybrid" (default), "bm25" (keywords only) or "vector".
	Mode string `json:"mode,omitempty"`
}

// MemoryHit is one search result: a chunk of a note.
type MemoryHit struct {
	Rank      int     `json:"rank"`
	Score     float64 `json:"score"` // 0..1
	Source    string  `json:"source"`
	StartLine int     `json:"startLine"`
	EndLine   int     `json:"endLine"`
	Text      string  `json:"text"`
}

// MemorySearchResult answers memory.search.
type MemorySearchResult struct {
	Hits []MemoryHit `json:"hits"`
	// Mode is how the search ran: "hybrid", "bm25" or "vector".
	Mode string `json:"mode"`
	// Notice explains a degraded search in one line (no embedder, the
	// embedder failed), empty otherwise.
	Notice string `json:"notice,omitempty"`
}

// MemoryStatus answers memory.status and memory.reindex.
type MemoryStatus struct {
	Notes      int       `json:"notes"`
	Chunks     int       `json:"chunks"`
	Embedder   string    `json:"embedder,omitempty"` // provider/model, empty without one
	Dimensions int       `json:"dimensions,omitempty"`
	Mode       string    `json:"mode"` // "hybrid" or "bm25"
	Notice     string    `json:"notice,omitempty"`
	LastSync   time.Time `json:"lastSync,omitzero"`
	LastError  string    `json:"lastError,omitempty"`
	// Damaged counts stored rows that could not be opened and were skipped.
	Damaged int `json:"damaged,omitempty"`
	// IndexFrom is how the index was built at unlock: "snapshot" (the
	// sealed snapshot, reconciled with the rows) or "rows" (rebuilt);
	// IndexNote says why, OpenMillis how long it took.
	IndexFrom  string `json:"indexFrom,omitempty"`
	IndexNote  string `json:"indexNote,omitempty"`
	OpenMillis int64  `json:"openMillis,omitempty"`
	// SnapshotSaved is when the index snapshot was last written since
	// unlock; SnapshotError the last failure to write it.
	SnapshotSaved time.Time `json:"snapshotSaved,omitzero"`
	SnapshotError string    `json:"snapshotError,omitempty"`
	// Cache reports the embedding cache, when there is an embedder.
	CacheEntries int   `json:"cacheEntries,omitempty"`
	CacheHits    int64 `json:"cacheHits,omitempty"`
	CacheMisses  int64 `json:"cacheMisses,omitempty"`
}

// SessionsCompactParams asks sessions.compact to summarise a session's older
// turns now.
type SessionsCompactParams struct {
	SessionKey string `json:"sessionKey"`
}

// SessionsCompactResult answers sessions.compact.
type SessionsCompactResult struct {
	// Compacted is false when there was nothing old enough to summarise.
	Compacted    bool   `json:"compacted"`
	Records      int    `json:"records,omitempty"`
	TokensBefore int    `json:"tokensBefore,omitempty"`
	TokensAfter  int    `json:"tokensAfter,omitempty"`
	Message      string `json:"message,omitempty"`
}

// MemorySearch calls memory.search.
func (c *Client) MemorySearch(ctx context.Context, p MemorySearchParams) (MemorySearchResult, error) {
	var r MemorySearchResult
	err := c.Call(ctx, MethodMemorySearch, p, &r)
	return r, err
}

// MemoryStatus calls memory.status.
func (c *Client) MemoryStatus(ctx context.Context) (MemoryStatus, error) {
	var r MemoryStatus
	err := c.Call(ctx, MethodMemoryStatus, nil, &r)
	return r, err
}

// MemoryReindex calls memory.reindex: every note is chunked and embedded
// again, and the answer is the status afterwards.
func (c *Client) MemoryReindex(ctx context.Context) (MemoryStatus, error) {
	var r MemoryStatus
	err := c.Call(ctx, MethodMemoryReindex, nil, &r)
	return r, err
}

// SessionsCompact calls sessions.compact.
func (c *Client) SessionsCompact(ctx context.Context, p SessionsCompactParams) (SessionsCompactResult, error) {
	var r SessionsCompactResult
	err := c.Call(ctx, MethodSessionsCompact, p, &r)
	return r, err
}
