package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/paths"
)

// genosBin is the gateway binary the end-to-end tests run, built once.
var genosBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "genos-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	genosBin = filepath.Join(dir, "genos")
	// The headless build is what servers run; building it without cgo keeps
	// this test independent of the UI toolchain.
	build := exec.Command("go", "build", "-tags", "nogui", "-o", genosBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build genos: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gatewayProc is a running `genos gateway` child process.
type gatewayProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *strings.Builder
	exited chan error
}

var listenLine = regexp.MustCompile(`listening on (ws://\S+/ws)`)

func startGateway(t *testing.T, stateDir string, extraArgs ...string) *gatewayProc {
	t.Helper()
	args := append([]string{"gateway", "--listen", "127.0.0.1:0"}, extraArgs...)
	cmd := exec.Command(genosBin, args...)
	cmd.Env = append(os.Environ(), paths.EnvStateDir+"="+stateDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &gatewayProc{cmd: cmd, stderr: &strings.Builder{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case p.url = <-urlc:
	case err := <-p.exited:
		t.Fatalf("gateway exited early: %v\n%s", err, p.stderr)
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("gateway did not report its address\n%s", p.stderr)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// stop sends SIGTERM and checks the gateway exits cleanly in time.
func (p *gatewayProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("gateway exited with %v\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gateway did not stop within 15s of SIGTERM\n%s", p.stderr)
	}
}

func dialProc(t *testing.T, p *gatewayProc, stateDir string) *api.Client {
	t.Helper()
	token, err := gateway.ReadToken(paths.TokenFile(stateDir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := api.Dial(ctx, api.DialOptions{URL: p.url, Token: token, Client: api.ClientInfo{ID: "e2e", Mode: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestEndToEndExecApproval drives the whole slice through a real gateway
// process: the model asks for exec, the client approves it, the tool runs,
// the reply streams, the history holds every record, and all of it survives
// a restart.
func TestEndToEndExecApproval(t *testing.T) {
	stateDir := t.TempDir()
	model := modeltest.New()
	defer model.Close()
	cfg := config.Default()
	cfg.Model.Provider = "openai"
	cfg.Model.BaseURL = model.URL()
	cfg.Model.Model = "loopback-model"
	if err := config.Save(paths.ConfigFile(stateDir), cfg); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal(map[string]string{"command": "echo genos-e2e-$((6*7))"})
	model.Enqueue(
		modeltest.Reply{Text: "Let me check.", ToolCalls: []chat.ToolCall{{ID: "call_exec", Name: "exec", Arguments: args}}},
		modeltest.Reply{Chunks: []string{"The command ", "printed ", "genos-e2e-42."}},
	)

	gw := startGateway(t, stateDir)
	c := dialProc(t, gw, stateDir)
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := "agent:" + st.DefaultAgent.ID + ":main"
	events, unsub := c.Subscribe(4096)
	defer unsub()

	run, err := c.ChatSend(ctx, api.ChatSendParams{SessionKey: key, Message: "What does the command print?", IdempotencyKey: "e2e-1"})
	if err != nil {
		t.Fatal(err)
	}
	var (
		streamed   strings.Builder
		final      *api.ChatEvent
		toolStart  bool
		toolEnd    api.AgentEvent
		approvalID string
	)
	timeout := time.After(30 * time.Second)
	for final == nil {
		select {
		case f := <-events:
			switch f.Event {
			case api.EventApprovalRequested:
				var a api.Approval
				json.Unmarshal(f.Payload, &a)
				if a.Tool != "exec" || a.RunID != run.RunID || !strings.Contains(string(a.Args), "genos-e2e") {
					t.Fatalf("unexpected approval %+v", a)
				}
				approvalID = a.ID
				if _, err := c.ApprovalsResolve(ctx, api.ApprovalsResolveParams{ID: a.ID, Decision: api.DecisionAllowOnce}); err != nil {
					t.Fatal(err)
				}
			case api.EventAgent:
				var ev api.AgentEvent
				json.Unmarshal(f.Payload, &ev)
				if ev.Phase == api.ToolStart {
					toolStart = true
				} else {
					toolEnd = ev
				}
			case api.EventChat:
				var ev api.ChatEvent
				json.Unmarshal(f.Payload, &ev)
				if ev.RunID != run.RunID {
					continue
				}
				switch ev.State {
				case api.ChatDelta:
					streamed.WriteString(ev.Delta)
				default:
					final = &ev
				}
			}
		case <-timeout:
			t.Fatalf("run did not finish; streamed %q\n%s", streamed.String(), gw.stderr)
		}
	}
	if final.State != api.ChatFinal {
		t.Fatalf("run ended %s: %s", final.State, final.ErrorMessage)
	}
	if approvalID == "" || !toolStart || toolEnd.IsError || !strings.Contains(toolEnd.Result, "genos-e2e-42") {
		t.Fatalf("approval %q, tool start %v, tool end %+v", approvalID, toolStart, toolEnd)
	}
	if got := streamed.String(); !strings.Contains(got, "The command printed genos-e2e-42.") {
		t.Fatalf("streamed text %q", got)
	}
	if final.Message == nil || final.Message.Content != "The command printed genos-e2e-42." {
		t.Fatalf("final message %+v", final.Message)
	}

	before, err := c.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	recs := before.Records
	if len(recs) != 4 {
		t.Fatalf("want 4 records (user, assistant+tool call, tool, assistant), got %d: %+v", len(recs), recs)
	}
	if recs[0].Role != chat.RoleUser || recs[0].Content != "What does the command print?" ||
		recs[1].Role != chat.RoleAssistant || len(recs[1].ToolCalls) != 1 || recs[1].ToolCalls[0].Name != "exec" ||
		recs[2].Role != chat.RoleTool || recs[2].Approval == nil || recs[2].Approval.Decision != api.DecisionAllowOnce ||
		!strings.Contains(recs[2].Content, "genos-e2e-42") ||
		recs[3].Role != chat.RoleAssistant || recs[3].Content != "The command printed genos-e2e-42." {
		t.Fatalf("history records wrong: %+v", recs)
	}
	for _, r := range recs {
		if r.ID == "" || r.RunID != run.RunID || r.Time.IsZero() {
			t.Fatalf("record lacks id, run id or time: %+v", r)
		}
	}
	if recs[3].Usage == nil || recs[3].Usage.InputTokens == 0 {
		t.Errorf("assistant record has no usage: %+v", recs[3].Usage)
	}

	// Restart: the transcript is on disk, not in memory.
	c.Close()
	gw.stop(t)
	gw2 := startGateway(t, stateDir)
	c2 := dialProc(t, gw2, stateDir)
	after, err := c2.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Records, after.Records); diff != "" {
		t.Fatalf("history changed across restart (-before +after):\n%s", diff)
	}
	sl, err := c2.SessionsList(ctx, api.SessionsListParams{})
	if err != nil || len(sl.Sessions) != 1 || sl.Sessions[0].Key != key || sl.Sessions[0].Title == "" {
		t.Fatalf("sessions after restart = %+v, %v", sl, err)
	}
	gw2.stop(t)

	// The approval and the exec left a verifiable audit trail.
	verify := exec.Command(genosBin, "audit", "verify")
	verify.Env = append(os.Environ(), paths.EnvStateDir+"="+stateDir)
	out, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "intact: 3 records") {
		t.Fatalf("genos audit verify: %v\n%s", err, out)
	}
}

// TestSecondInstanceRefused checks the single-instance lock from the outside.
func TestSecondInstanceRefused(t *testing.T) {
	stateDir := t.TempDir()
	gw := startGateway(t, stateDir)
	cmd := exec.Command(genosBin, "gateway", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), paths.EnvStateDir+"="+stateDir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second gateway started:\n%s", out)
	}
	if !strings.Contains(string(out), "already running") || !strings.Contains(string(out), stateDir) {
		t.Fatalf("second instance message unclear:\n%s", out)
	}
	gw.stop(t)
}

// TestGatewayWithoutModelAnswersClearly: no config at all still starts, and
// chat explains what to do.
func TestGatewayWithoutModelAnswersClearly(t *testing.T) {
	stateDir := t.TempDir()
	gw := startGateway(t, stateDir)
	c := dialProc(t, gw, stateDir)
	_, err := c.ChatSend(context.Background(), api.ChatSendParams{Message: "hello", IdempotencyKey: "k"})
	if !api.IsCode(err, api.CodeNoModel) || !strings.Contains(err.Error(), "genos setup") {
		t.Fatalf("chat without a model: %v", err)
	}
	gw.stop(t)
}

// TestCLIChatOneShot runs `genos chat "..."` against a gateway process.
func TestCLIChatOneShot(t *testing.T) {
	stateDir := t.TempDir()
	model := modeltest.New()
	defer model.Close()
	cfg := config.Default()
	cfg.Model.Provider = "anthropic"
	cfg.Model.BaseURL = model.URL()
	cfg.Model.Model = "loopback-claude"
	cfg.Model.APIKeyEnv = "E2E_ANTHROPIC_KEY"
	if err := config.Save(paths.ConfigFile(stateDir), cfg); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_ANTHROPIC_KEY", "sk-ant-test")
	model.Enqueue(modeltest.Reply{Chunks: []string{"Hello ", "from ", "Claude-shaped SSE."}})
	gw := startGateway(t, stateDir)
	// No URL given: the CLI finds the port the gateway recorded in the
	// state dir (it listens on a random one here, not the config's).
	cmd := exec.Command(genosBin, "chat", "hi there")
	cmd.Env = append(os.Environ(), paths.EnvStateDir+"="+stateDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("genos chat: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Hello from Claude-shaped SSE.") {
		t.Fatalf("genos chat output:\n%s", out)
	}
	reqs := model.Requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Path, "messages") || reqs[0].Headers.Get("X-Api-Key") != "sk-ant-test" {
		t.Fatalf("anthropic provider not used: %+v", reqs)
	}
	gw.stop(t)
	if _, err := os.Stat(paths.AddrFile(stateDir)); !os.IsNotExist(err) {
		t.Fatalf("gateway.addr should be removed when the gateway exits: %v", err)
	}
}
