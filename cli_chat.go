package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/genos-project/genos/core/api"
)

func runChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sessionKey := fs.String("session", "", "session key (default: the default agent's main session)")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if *sessionKey == "" {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		*sessionKey = "agent:" + st.DefaultAgent.ID + ":main"
	}
	in := newLineReader(stdin)
	interactive := isTerminal(stdin)
	s := &chatSession{c: c, key: *sessionKey, in: in, out: stdout, errw: stderr, interactive: interactive}

	if msg := strings.TrimSpace(strings.Join(fs.Args(), " ")); msg != "" {
		return s.send(ctx, msg)
	}
	if interactive {
		fmt.Fprintf(stdout, "Chatting in %s. Type /quit to leave, /abort to stop a reply.\n", *sessionKey)
	}
	for {
		if interactive {
			fmt.Fprint(stdout, "\n› ")
		}
		line, err := in.read(ctx)
		if ctx.Err() != nil {
			fmt.Fprintln(stdout)
			return nil // Ctrl-C at the prompt leaves
		}
		line = strings.TrimSpace(line)
		if line == "/quit" || line == "/exit" {
			return nil
		}
		if line != "" && line != "/abort" {
			if serr := s.send(ctx, line); serr != nil {
				if ctx.Err() != nil {
					return nil
				}
				fmt.Fprintf(stderr, "error: %v\n", serr)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type chatSession struct {
	c           *api.Client
	key         string
	in          *lineReader
	out, errw   io.Writer
	interactive bool
}

// send starts a run and streams its events until the run ends. Approval
// requests for the run are asked at the terminal when there is one;
// otherwise the command to answer them is printed.
func (s *chatSession) send(ctx context.Context, msg string) error {
	events, unsub := s.c.Subscribe(4096)
	defer unsub()
	res, err := s.c.ChatSend(ctx, api.ChatSendParams{SessionKey: s.key, Message: msg, IdempotencyKey: newIdemKey()})
	if err != nil {
		return err
	}
	streamed := false
	for {
		select {
		case <-ctx.Done():
			// Ctrl-C stops the reply, not just the client.
			_, _ = s.c.ChatAbort(context.WithoutCancel(ctx), api.ChatAbortParams{SessionKey: s.key, RunID: res.RunID})
			fmt.Fprintln(s.out, "\n[stopped]")
			return ctx.Err()
		case f, ok := <-events:
			if !ok {
				return errors.New("lost the connection to the gateway")
			}
			done, err := s.handle(ctx, f, res.RunID, &streamed)
			if done || err != nil {
				return err
			}
		}
	}
}

func (s *chatSession) handle(ctx context.Context, f api.Frame, runID string, streamed *bool) (bool, error) {
	switch f.Event {
	case api.EventChat:
		var ev api.ChatEvent
		if json.Unmarshal(f.Payload, &ev) != nil || ev.RunID != runID {
			return false, nil
		}
		switch ev.State {
		case api.ChatDelta:
			*streamed = true
			fmt.Fprint(s.out, ev.Delta)
		case api.ChatFinal:
			if !*streamed && ev.Message != nil {
				fmt.Fprint(s.out, ev.Message.Content)
			}
			fmt.Fprintln(s.out)
			return true, nil
		case api.ChatAborted:
			fmt.Fprintln(s.out, "\n[stopped]")
			return true, nil
		case api.ChatError:
			fmt.Fprintln(s.out)
			return true, errors.New(ev.ErrorMessage)
		}
	case api.EventAgent:
		var ev api.AgentEvent
		if json.Unmarshal(f.Payload, &ev) != nil || ev.RunID != runID {
			return false, nil
		}
		if ev.Phase == api.ToolStart {
			fmt.Fprintf(s.errw, "\n⚙ %s %s\n", ev.Tool, oneLine(describeArgs(ev.Args, ""), 120))
		} else if ev.IsError {
			fmt.Fprintf(s.errw, "⚙ %s failed: %s\n", ev.Tool, oneLine(ev.Result, 200))
		}
	case api.EventApprovalRequested:
		var a api.Approval
		if json.Unmarshal(f.Payload, &a) != nil || a.RunID != runID {
			return false, nil
		}
		return false, s.askApproval(ctx, a)
	}
	return false, nil
}

func (s *chatSession) askApproval(ctx context.Context, a api.Approval) error {
	fmt.Fprintf(s.errw, "\nApproval needed for %s:\n", a.Tool)
	printApproval(s.errw, a)
	if !s.interactive {
		fmt.Fprintf(s.errw, "Answer with: genos approvals resolve %s allow-once|allow-always|deny\n", a.ID)
		return nil
	}
	fmt.Fprint(s.errw, "Allow? [y]es once, [a]lways, [N]o: ")
	line, _ := s.in.read(ctx) // Ctrl-C here denies
	decision := api.DecisionDeny
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		decision = api.DecisionAllowOnce
	case "a", "always":
		decision = api.DecisionAllowAlways
	}
	_, err := s.c.ApprovalsResolve(context.WithoutCancel(ctx), api.ApprovalsResolveParams{ID: a.ID, Decision: decision})
	if api.IsCode(err, api.CodeNotFound) {
		fmt.Fprintln(s.errw, "That approval was already answered or has expired.")
		return nil
	}
	return err
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func newIdemKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lineReader reads stdin lines on its own goroutine so that a prompt can
// give up when ctx ends (Ctrl-C) instead of blocking in a read.
type lineReader struct {
	lines chan lineResult
}

type lineResult struct {
	line string
	err  error
}

func newLineReader(r io.Reader) *lineReader {
	l := &lineReader{lines: make(chan lineResult)}
	br := bufio.NewReader(r)
	go func() {
		for {
			line, err := br.ReadString('\n')
			l.lines <- lineResult{line, err}
			if err != nil {
				close(l.lines)
				return
			}
		}
	}()
	return l
}

// read returns the next line, io.EOF after the last, or ctx.Err().
func (l *lineReader) read(ctx context.Context) (string, error) {
	select {
	case r, ok := <-l.lines:
		if !ok {
			return "", io.EOF
		}
		return r.line, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
