package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/vault"
)

// Tool limits.
const (
	defaultGetLines = 200
	maxGetLines     = 2000
	maxGetBytes     = 64 << 10
)

// Tools returns the memory tools bound to this Memory: memory_search,
// memory_get and memory_write. They act on this agent's workspace whatever
// the Env says, since a Memory belongs to one agent.
func (m *Memory) Tools() []tools.Tool {
	return []tools.Tool{m.searchTool(), m.getTool(), m.writeTool()}
}

func (m *Memory) searchTool() tools.Tool {
	return tools.Tool{
		Name: "memory_search",
		Description: "Search your long-term memory (MEMORY.md and the dated notes in memory/) for facts, " +
			"preferences, decisions, names, dates and past events. Use it before answering anything about the user, " +
			"earlier conversations or past work, and when the user asks whether you remember something. " +
			"Returns the best matching snippets ranked by relevance, each with its source (note path and line range); " +
			"read more around a result with memory_get.",
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"query":{"type":"string","description":"What to look for, in natural language or keywords (names, dates, numbers work too)."},` +
			`"limit":{"type":"integer","minimum":1,"maximum":20,"description":"Maximum number of results (default 5)."}` +
			`},"required":["query"],"additionalProperties":false}`),
		Category: tools.CategoryMemory,
		Examples: []string{
			"do you remember what I told you about my sister",
			"what did we decide about the budget last week",
			"when is my flight",
			"what's my dentist's name",
		},
		Run: func(ctx context.Context, _ tools.Env, raw json.RawMessage) (tools.Result, error) {
			var a struct {
				Query string `json:"query"`
				Limit int    `json:"limit"`
			}
			if msg := decodeArgs("memory_search", raw, &a); msg != "" {
				return toolError("%s", msg), nil
			}
			a.Query = strings.TrimSpace(a.Query)
			switch {
			case a.Query == "":
				return toolError("invalid arguments for memory_search: query is required"), nil
			case len(a.Query) > maxQueryBytes:
				return toolError("invalid arguments for memory_search: query is longer than %d bytes", maxQueryBytes), nil
			case a.Limit < 0 || a.Limit > 20:
				return toolError("invalid arguments for memory_search: limit must be between 1 and 20"), nil
			}
			hits, err := m.Search(ctx, SearchRequest{Text: a.Query, Limit: a.Limit})
			if err != nil {
				return internalOrTool(err)
			}
			if len(hits) == 0 {
				return tools.Result{Content: "No memories matched. Try other words, or a name, date or number."}, nil
			}
			out, err := renderTable("results", hits)
			if err != nil {
				return tools.Result{}, err
			}
			return tools.Result{Content: out}, nil
		},
	}
}

// citation matches a source as results print it: path#L3-L9.
var citation = regexp.MustCompile(`^(.*)#L(\d+)(?:-L(\d+))?$`)

func (m *Memory) getTool() tools.Tool {
	return tools.Tool{
		Name: "memory_get",
		Description: "Read lines of a memory note: MEMORY.md or memory/<name>.md (e.g. memory/2026-11-25.md). " +
			"Use it to see the context around a memory_search result; a result's source such as " +
			"memory/2026-11-25.md#L3-L9 is accepted as the path. Returns numbered lines.",
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"path":{"type":"string","description":"MEMORY.md or memory/<name>.md, optionally with #L<from>-L<to>."},` +
			`"from":{"type":"integer","minimum":1,"description":"1-based first line (default 1)."},` +
			fmt.Sprintf(`"lines":{"type":"integer","minimum":1,"maximum":%d,"description":"Number of lines (default %d)."}`, maxGetLines, defaultGetLines) +
			`},"required":["path"],"additionalProperties":false}`),
		Category: tools.CategoryMemory,
		Examples: []string{
			"show me the whole note from last Tuesday",
			"read what's around that memory",
			"what else did I write that day",
		},
		Run: func(ctx context.Context, _ tools.Env, raw json.RawMessage) (tools.Result, error) {
			var a struct {
				Path  string `json:"path"`
				From  int    `json:"from"`
				Lines int    `json:"lines"`
			}
			if msg := decodeArgs("memory_get", raw, &a); msg != "" {
				return toolError("%s", msg), nil
			}
			p := strings.TrimSpace(a.Path)
			if mt := citation.FindStringSubmatch(p); mt != nil {
				p = mt[1]
				from, _ := strconv.Atoi(mt[2])
				to := from
				if mt[3] != "" {
					to, _ = strconv.Atoi(mt[3])
				}
				if a.From == 0 {
					a.From = from
				}
				if a.Lines == 0 && to >= from {
					a.Lines = to - from + 1
				}
			}
			p = path.Clean(strings.TrimPrefix(p, "./"))
			switch {
			case !validNotePath(p):
				return toolError("memory_get reads only MEMORY.md and memory/<name>.md, not %q", a.Path), nil
			case a.From < 0 || a.Lines < 0 || a.Lines > maxGetLines:
				return toolError("invalid arguments for memory_get: from must be 1 or more and lines 1 to %d", maxGetLines), nil
			}
			return m.get(ctx, p, max(a.From, 1), a.Lines)
		},
	}
}

// get renders lines from..from+n-1 of note p, numbered.
func (m *Memory) get(ctx context.Context, p string, from, n int) (tools.Result, error) {
	if n == 0 {
		n = defaultGetLines
	}
	if _, err := m.snapshot(); err != nil {
		return tools.Result{}, err
	}
	root, err := openWorkspace(m.o.Workspace)
	if err != nil {
		return tools.Result{}, err
	}
	defer root.Close()
	plain, skip, err := readNote(root, m.o.Sealer, p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return toolError("%s does not exist", p), nil
	case err != nil:
		return tools.Result{}, err
	case skip != "":
		return toolError("%s cannot be read: %s", p, skip), nil
	}
	if err := ctx.Err(); err != nil {
		return tools.Result{}, err
	}
	lines := strings.Split(strings.TrimRight(string(plain), "\n"), "\n")
	if len(plain) == 0 {
		lines = nil
	}
	if from > len(lines) {
		return toolError("%s has %d lines; from=%d is past the end", p, len(lines), from), nil
	}
	var b strings.Builder
	last := from - 1
	for i := from - 1; i < len(lines) && i < from-1+n; i++ {
		ln := strings.TrimSuffix(lines[i], "\r")
		if b.Len()+len(ln) > maxGetBytes {
			break
		}
		fmt.Fprintf(&b, "%d\t%s\n", i+1, ln)
		last = i + 1
	}
	if last < len(lines) {
		fmt.Fprintf(&b, "[lines %d-%d of %d; call memory_get with from=%d to continue]", from, last, len(lines), last+1)
	}
	return tools.Result{Content: b.String()}, nil
}

func (m *Memory) writeTool() tools.Tool {
	return tools.Tool{
		Name: "memory_write",
		Description: "Save something worth remembering across conversations: facts about the user, preferences, " +
			"decisions, commitments, names, dates. target \"today\" (default) appends to today's dated note for " +
			"events and context; target \"memory\" appends to MEMORY.md for durable facts and preferences, under " +
			"section (e.g. \"Preferences\", \"People\"), which is created if missing. Write short, self-contained " +
			"statements that will make sense later without this conversation. The note is searchable at once.",
		Schema: json.RawMessage(`{"type":"object","properties":{` +
			`"text":{"type":"string","description":"What to remember, as one or a few short self-contained statements."},` +
			`"target":{"type":"string","enum":["today","memory"],"description":"today (dated note, default) or memory (MEMORY.md)."},` +
			`"section":{"type":"string","description":"Heading to file the text under, e.g. Preferences (optional)."}` +
			`},"required":["text"],"additionalProperties":false}`),
		Category: tools.CategoryMemory,
		Examples: []string{
			"remember that I'm allergic to peanuts",
			"note that the meeting moved to Thursday",
			"don't forget my wife's birthday is May 3",
			"keep in mind I prefer short answers",
		},
		Run: func(ctx context.Context, _ tools.Env, raw json.RawMessage) (tools.Result, error) {
			var a struct {
				Text    string `json:"text"`
				Target  string `json:"target"`
				Section string `json:"section"`
			}
			if msg := decodeArgs("memory_write", raw, &a); msg != "" {
				return toolError("%s", msg), nil
			}
			t := Target{File: TargetToday, Section: a.Section}
			switch a.Target {
			case "", "today":
			case "memory", MemoryFile:
				t.File = TargetMemory
			default:
				return toolError("invalid arguments for memory_write: target must be \"today\" or \"memory\", got %q", a.Target), nil
			}
			if err := m.Append(ctx, t, a.Text); err != nil {
				return internalOrTool(err)
			}
			where := NotesDir + "/" + m.o.Now().Format(dateLayout) + ".md"
			if t.File == TargetMemory {
				where = MemoryFile
			}
			if s := strings.TrimSpace(a.Section); s != "" {
				where += " under " + strconv.Quote(strings.TrimLeft(s, "# "))
			}
			return tools.Result{Content: "Saved to " + where + "."}, nil
		},
	}
}

// internalOrTool turns an error into the tool's answer: a locked vault, a
// closed memory or a cancelled context are internal failures; anything else
// is reported to the model.
func internalOrTool(err error) (tools.Result, error) {
	if errors.Is(err, vault.ErrLocked) || errors.Is(err, ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return tools.Result{}, err
	}
	return toolError("%v", err), nil
}

func toolError(format string, a ...any) tools.Result {
	return tools.Result{Content: fmt.Sprintf(format, a...), IsError: true}
}

// decodeArgs strictly decodes a tool's JSON arguments; it returns "" or a
// message for the model.
func decodeArgs(tool string, raw json.RawMessage, dst any) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Sprintf("invalid arguments for %s: %v", tool, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Sprintf("invalid arguments for %s: unexpected data after the arguments object", tool)
	}
	return ""
}
