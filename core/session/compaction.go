package session

import "github.com/genos-project/genos/core/chat"

// Compaction support on the transcript side. Compaction never rewrites or
// deletes records: it appends one chat.RecordCompaction record whose summary
// stands in, in the model's context, for every record up to the one named
// by its Compaction.Through. These helpers are pure functions over a
// transcript's records so that the agent loop, the gateway and tests agree on
// what the model sees and where a compaction may cut.

// LatestCompaction returns the index in recs of the last usable compaction
// record (Kind chat.RecordCompaction with a Compaction naming a Through
// record), or -1 when the session was never compacted.
func LatestCompaction(recs []chat.Record) int {
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.Kind == chat.RecordCompaction && r.Compaction != nil && r.Compaction.Through != "" {
			return i
		}
	}
	return -1
}

// ContextRecords splits recs into what the model should see: the latest
// compaction record (nil when there is none) and the records after the
// record that compaction covers through. The returned tail still holds
// records with a Kind (markers, memory-flush records, the compaction record
// itself); whoever builds model messages skips those.
//
// If the Through record cannot be found (its line was unreadable), the tail
// starts after the compaction record instead: showing the summary followed
// by records it already covers would duplicate them, while starting later
// can only drop the few turns that were kept verbatim.
func ContextRecords(recs []chat.Record) (summary *chat.Record, tail []chat.Record) {
	ci := LatestCompaction(recs)
	if ci < 0 {
		return nil, recs
	}
	summary = &recs[ci]
	through := summary.Compaction.Through
	for j := ci - 1; j >= 0; j-- {
		if recs[j].ID == through {
			return summary, recs[j+1:]
		}
	}
	return summary, recs[ci+1:]
}

// CompactionCut returns where a compaction of recs may cut: recs[:cut] may be
// summarised and recs[cut:] must stay verbatim. It returns 0 when nothing
// may be compacted. The rules:
//
//   - The cut is always at a user message (a record with Role user and no
//     Kind), so a turn is never split.
//   - The last keepTurns user messages and everything after the first of
//     them stay verbatim (keepTurns < 1 is treated as 1: the turn being
//     answered is never summarised away).
//   - No tool result at or after the cut answers a tool call before it, even
//     in damaged or unusual histories where a user message sits between a
//     call and its result; such a cut moves to an earlier user message.
//   - recs[:cut] must hold at least one message (a record without a Kind).
func CompactionCut(recs []chat.Record, keepTurns int) int {
	keepTurns = max(keepTurns, 1)
	var users []int
	for i, r := range recs {
		if r.Kind == "" && r.Role == chat.RoleUser {
			users = append(users, i)
		}
	}
	if len(users) <= keepTurns {
		return 0
	}
	// callAt maps each tool call ID to the index of the message making it.
	callAt := map[string]int{}
	for i, r := range recs {
		if r.Kind != "" {
			continue
		}
		for _, c := range r.ToolCalls {
			if _, seen := callAt[c.ID]; !seen {
				callAt[c.ID] = i
			}
		}
	}
	// splits[i] is the smallest index of a call answered at or after i
	// (by a result at index >= i); a cut at i is valid when splits[i] >= i.
	splits := make([]int, len(recs)+1)
	splits[len(recs)] = len(recs)
	for i := len(recs) - 1; i >= 0; i-- {
		splits[i] = splits[i+1]
		r := recs[i]
		if r.Kind != "" || r.Role != chat.RoleTool {
			continue
		}
		if at, ok := callAt[r.ToolCallID]; ok && at < splits[i] {
			splits[i] = at
		}
	}
	for k := len(users) - keepTurns; k >= 0; k-- {
		cut := users[k]
		if splits[cut] < cut {
			continue // a result after the cut answers a call before it
		}
		if hasMessage(recs[:cut]) {
			return cut
		}
		return 0 // earlier cuts hold even fewer messages
	}
	return 0
}

// hasMessage reports whether recs holds a record without a Kind.
func hasMessage(recs []chat.Record) bool {
	for _, r := range recs {
		if r.Kind == "" {
			return true
		}
	}
	return false
}
