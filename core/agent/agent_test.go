package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/chat"
)

func TestBuildMessagesRepairsToolPairs(t *testing.T) {
	call := func(id string) chat.ToolCall {
		return chat.ToolCall{ID: id, Name: "exec", Arguments: json.RawMessage(`{}`)}
	}
	recs := []chat.Record{
		{Role: chat.RoleUser, Content: "hi"},
		{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{call("a"), call("b")}},
		{Role: chat.RoleTool, ToolCallID: "a", ToolName: "exec", Content: "ok"},
		// b never answered: the run was cut short
		{Kind: "aborted", Role: chat.RoleAssistant, Content: "partial"},
		{Role: chat.RoleTool, ToolCallID: "zzz", ToolName: "exec", Content: "orphan"},
		{Role: chat.RoleUser, Content: "again"},
		{Role: chat.RoleAssistant, Content: "done"},
	}
	got := buildMessages(recs)
	want := []chat.Message{
		{Role: chat.RoleUser, Content: "hi"},
		{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{call("a"), call("b")}},
		{Role: chat.RoleTool, ToolCallID: "a", ToolName: "exec", Content: "ok"},
		{Role: chat.RoleTool, ToolCallID: "b", ToolName: "exec", Content: "This tool call was interrupted before it returned.", IsError: true},
		{Role: chat.RoleUser, Content: "again"},
		{Role: chat.RoleAssistant, Content: "done"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("buildMessages (-want +got):\n%s", diff)
	}
}

func TestBuildMessagesDropsDuplicateResults(t *testing.T) {
	recs := []chat.Record{
		{Role: chat.RoleUser, Content: "hi"},
		{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{{ID: "a", Name: "ls", Arguments: json.RawMessage(`{}`)}}},
		{Role: chat.RoleTool, ToolCallID: "a", Content: "one"},
		{Role: chat.RoleTool, ToolCallID: "a", Content: "two"},
	}
	got := buildMessages(recs)
	if len(got) != 3 || got[2].Content != "one" {
		t.Fatalf("want the first result only, got %+v", got)
	}
}

func TestSystemPromptIncludesWorkspaceFiles(t *testing.T) {
	ws := t.TempDir()
	os.WriteFile(filepath.Join(ws, "AGENTS.md"), []byte("Always answer in French."), 0o600)
	os.WriteFile(filepath.Join(ws, "USER.md"), []byte("The user is called Ada."), 0o600)
	os.WriteFile(filepath.Join(ws, "SOUL.md"), []byte("   \n"), 0o600)
	p, err := SystemPrompt(Info{Name: "main"}, ws, nil, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## AGENTS.md", "Always answer in French.", "## USER.md", "Ada", "Wednesday 25 November 2026"} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "## SOUL.md") {
		t.Errorf("an empty SOUL.md should be left out:\n%s", p)
	}
	if strings.Index(p, "AGENTS.md") > strings.Index(p, "USER.md") {
		t.Error("AGENTS.md must come before USER.md")
	}
}

func TestSystemPromptCapsLargeFiles(t *testing.T) {
	ws := t.TempDir()
	os.WriteFile(filepath.Join(ws, "AGENTS.md"), []byte(strings.Repeat("x", 3*maxPromptFileBytes)), 0o600)
	p, err := SystemPrompt(Info{Name: "main"}, ws, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(p, "x"); n > maxPromptFileBytes+100 {
		t.Fatalf("prompt carries %d bytes of AGENTS.md, cap is %d", n, maxPromptFileBytes)
	}
}

func TestLoadOrCreateIsStable(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(a.ID) {
		t.Fatalf("id %q is not 8 hex chars", a.ID)
	}
	if st, err := os.Stat(filepath.Join(dir, "workspace", "main")); err != nil || !st.IsDir() {
		t.Fatalf("workspace not created: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, "agents", a.ID, "agent.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("agent.json missing or not 0600: %v %v", err, st)
	}
	b, err := LoadOrCreate(dir, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID {
		t.Fatalf("second load created a new agent: %s vs %s", a.ID, b.ID)
	}
	c, err := LoadOrCreate(dir, "other", nil)
	if err != nil || c.ID == a.ID {
		t.Fatalf("another name should get another agent: %+v %v", c, err)
	}
}

func TestLoadOrCreateRejectsTamperedAgentFile(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agents", a.ID, "agent.json")
	os.WriteFile(path, []byte(`{"id":"`+a.ID+`","name":"main","workspace":"../../etc","createdAt":"2026-01-01T00:00:00Z"}`), 0o600)
	if _, err := LoadOrCreate(dir, "main", nil); err == nil || !strings.Contains(err.Error(), "workspace") {
		t.Fatalf("a workspace outside the state dir must be refused, got %v", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestLoadOrCreateSkipsHalfCreatedAgentDir(t *testing.T) {
	dir := t.TempDir()
	// What a crash in an older layout could leave: an id dir without agent.json.
	if err := os.MkdirAll(filepath.Join(dir, "agents", "0badc0de", "sessions"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, err := LoadOrCreate(dir, "main", nil)
	if err != nil {
		t.Fatalf("a half-created agent dir must not block start-up: %v", err)
	}
	if a.ID == "0badc0de" {
		t.Fatal("reused a dir without agent.json")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "agents"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".new-") {
			t.Fatalf("temporary dir %s left behind", e.Name())
		}
	}
}
