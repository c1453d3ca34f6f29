package windows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// Environment switches of the screenshot test. screenshotOutEnv puts the
// test binary in child mode (see TestMain): open the real window named by
// screenshotWindowEnv and write a PNG of it to the given path.
// screenshotCopyEnv, when set in the parent, names a directory that gets a
// copy of each PNG for people to look at.
const (
	screenshotOutEnv    = "GENOS_TEST_SCREENSHOT_OUT"
	screenshotWindowEnv = "GENOS_TEST_SCREENSHOT_WINDOW"
	screenshotCopyEnv   = "GENOS_TEST_SCREENSHOT_DIR"
	screenshotTitle     = "Genos screenshot test"
)

// screenshotChild runs in the re-executed test binary, on the main
// goroutine as GLFW requires: it opens the real Fyne app with one window on
// a fake gateway, lets it render, captures it into out and quits.
func screenshotChild(window, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	gw := fakegw.Start(ctx)
	defer gw.Close()
	gw.SetHistory(testSession, screenshotHistory())
	gw.SetApprovals(screenshotApprovals())
	c, err := gw.DialContext(ctx)
	if err != nil {
		cancel()
		return err
	}
	defer c.Close()
	defer cancel() // before the client closes, so the window does not report a lost connection
	a := fyneapp.NewWithID("io.genos.app.screenshot-test")
	fx := new(UI)

	var win fyne.Window
	var ready func() error
	switch window {
	case "chat":
		w := NewChat(ctx, a, c, ChatOptions{SessionKey: testSession, Title: screenshotTitle, OnOpenApprovals: func() {}, UI: fx})
		win, ready = w.win, func() error { return chatScenario(ctx, gw, w) }
	case "approvals":
		w := NewApprovals(ctx, a, c, ApprovalsOptions{UI: fx})
		w.win.SetTitle(screenshotTitle)
		win, ready = w.win, func() error {
			return waitUntil(ctx, "approval cards", func() bool { return len(w.cards) == 2 })
		}
	case "onboarding":
		w := NewOnboarding(ctx, a, OnboardingOptions{UI: fx, Save: func(context.Context, Setup) error { return nil },
			Probe: func(context.Context) (LocalServer, bool) {
				time.Sleep(300 * time.Millisecond) // arrive after the first layout, as a real probe does
				return LocalServer{BaseURL: "http://127.0.0.1:11434/v1", Models: []string{"llama3.2:3b", "qwen2.5:7b"}}, true
			}})
		w.win.SetTitle(screenshotTitle)
		win, ready = w.win, func() error {
			if err := waitUntil(ctx, "probe result", func() bool { return w.found != nil }); err != nil {
				return err
			}
			// An inline error below the form, as after a failed save.
			fyne.DoAndWait(func() {
				w.showError("Genos could not use this setup. Check the fields and try again.\nDetails: model server answered 404: model not found")
			})
			return nil
		}
	case "chat-locked":
		gw.SetVault(api.VaultStatus{State: api.VaultLocked}, "")
		w := NewChat(ctx, a, c, ChatOptions{SessionKey: testSession, Title: screenshotTitle, OnUnlock: func() {}, UI: fx})
		win, ready = w.win, func() error { return waitUntil(ctx, "the locked line", w.Locked) }
	case "unlock":
		gw.SetVault(api.VaultStatus{State: api.VaultLocked, QueuedInbound: 2}, "")
		w := NewUnlock(ctx, a, c, UnlockOptions{UI: fx})
		w.SetStatus(gw.Vault())
		w.win.SetTitle(screenshotTitle)
		win, ready = w.win, func() error { return unlockScenario(ctx, w) }
	case "onboarding-vault":
		gw.SetVault(api.VaultStatus{State: api.VaultNone}, "")
		w := NewOnboarding(ctx, a, OnboardingOptions{UI: fx, Vault: c, Save: func(context.Context, Setup) error { return nil }})
		w.win.SetTitle(screenshotTitle)
		win, ready = w.win, func() error { return vaultStepScenario(ctx, w) }
	case "channels":
		w := NewChannels(ctx, a, c, ChannelsOptions{UI: fx})
		w.win.SetTitle(screenshotTitle)
		win, ready = w.win, func() error { return channelsScenario(ctx, gw, w) }
	case "pairing":
		gw.SetPairings(screenshotPairings())
		w := NewPairing(ctx, a, c, PairingOptions{UI: fx})
		w.win.SetTitle(screenshotTitle)
		win, ready = w.win, func() error {
			return waitUntil(ctx, "pairing cards", func() bool { return len(w.cards) == 2 })
		}
	default:
		return fmt.Errorf("unknown window %q", window)
	}

	result := make(chan error, 1)
	go func() {
		result <- capture(ctx, win, ready, out)
		fyne.Do(a.Quit)
	}()
	win.Show()
	a.Run()
	return <-result
}

// waitUntil polls cond on the UI goroutine until it holds or ctx ends.
func waitUntil(ctx context.Context, what string, cond func() bool) error {
	for {
		var ok bool
		fyne.DoAndWait(func() { ok = cond() })
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("window never showed %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// capture waits for the scenario, lets a few frames draw and writes a PNG
// of win to out.
func capture(ctx context.Context, win fyne.Window, ready func() error, out string) error {
	if err := ready(); err != nil {
		return err
	}
	time.Sleep(time.Second) // let a few frames draw; only the picture depends on it
	var img image.Image
	fyne.DoAndWait(func() { img = win.Canvas().Capture() })
	if img == nil || distinctColours(img, 2) < 2 {
		// Fyne reads the GL front buffer, which Mesa's software renderer
		// under Xvfb leaves empty; ask the X server for the window instead.
		fmt.Fprintln(os.Stderr, "screenshot: Canvas().Capture() is blank here, capturing the X11 window")
		var err error
		if img, err = captureX11(ctx, screenshotTitle); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("encode screenshot: %w", err)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// chatScenario shows a run in progress below the history: the user's
// question, a reply streamed in pieces long enough to wrap, a tool at work
// and an approval the run waits for.
func chatScenario(ctx context.Context, gw *fakegw.Server, w *Chat) error {
	if err := waitUntil(ctx, "the history", func() bool { return w.hasText("Here is what I found") }); err != nil {
		return err
	}
	fyne.DoAndWait(func() {
		w.input.SetText("Thanks! Could you also clear the build cache?")
		w.submit()
	})
	if _, err := gw.AwaitRequest(ctx, api.MethodChatSend, 1); err != nil {
		return err
	}
	for _, d := range []string{"Sure — the Go build cache ", "is safe to delete: Go rebuilds what it needs, ",
		"only the next builds are slower. ", "Let me check how big it is first."} {
		gw.Emit(api.EventChat, api.ChatEvent{RunID: "run-1", SessionKey: testSession, State: api.ChatDelta, Delta: d})
	}
	gw.Emit(api.EventAgent, api.AgentEvent{RunID: "run-1", SessionKey: testSession, Phase: api.ToolStart,
		Tool: "exec", ToolCallID: "c9", Args: json.RawMessage(`{"command":"du -sh ~/.cache/go-build"}`)})
	gw.Emit(api.EventAgent, api.AgentEvent{RunID: "run-1", SessionKey: testSession, Phase: api.ToolEnd,
		Tool: "exec", ToolCallID: "c9", Result: "1.2G"})
	gw.Emit(api.EventApprovalRequested, api.Approval{ID: "ap1", SessionKey: testSession, RunID: "run-1", Tool: "exec"})
	return waitUntil(ctx, "the approval wait", func() bool { return w.hasText("Waiting for your approval") })
}

// unlockScenario shows the unlock window after a wrong passphrase: the
// inline error, the cleared field and the queued-messages line.
func unlockScenario(ctx context.Context, w *Unlock) error {
	fyne.DoAndWait(func() {
		w.pass.SetText("not my passphrase")
		w.submit()
	})
	return waitUntil(ctx, "the wrong-passphrase error", func() bool { return w.errLabel.Visible() && !w.busy })
}

// vaultStepScenario shows onboarding's first step with a passphrase typed
// (and its strength hint) and a confirmation that does not match.
func vaultStepScenario(ctx context.Context, w *Onboarding) error {
	if err := waitUntil(ctx, "the vault step", func() bool { return w.page == w.vault.page }); err != nil {
		return err
	}
	fyne.DoAndWait(func() {
		w.vault.pass.SetText("correct horse battery")
		w.vault.confirm.SetText("correct horse")
		w.createVault()
	})
	return waitUntil(ctx, "the mismatch error", func() bool { return w.vault.errLabel.Visible() })
}

// captureX11 grabs the named window from the X server with ImageMagick.
func captureX11(ctx context.Context, title string) (image.Image, error) {
	imp, err := exec.LookPath("import")
	if err != nil {
		return nil, errors.New("the window capture is blank and ImageMagick's import is not installed")
	}
	out, err := exec.CommandContext(ctx, imp, "-window", title, "png:-").Output()
	if err != nil {
		return nil, fmt.Errorf("import -window %q: %w", title, err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("decode X11 capture: %w", err)
	}
	return img, nil
}

func screenshotApprovals() []api.Approval {
	now := time.Now()
	return []api.Approval{
		{ID: "ap1", AgentID: "main", SessionKey: testSession, RunID: "run-1", Tool: "exec", Category: "shell",
			Reason:    "runs a command on your computer",
			Args:      json.RawMessage(`{"command":"go clean -cache","cwd":"/home/me/src/genos","timeoutMs":60000}`),
			CreatedAt: now.Add(-20 * time.Second), ExpiresAt: now.Add(4*time.Minute + 40*time.Second)},
		{ID: "ap2", AgentID: "main", SessionKey: "agent:main:telegram:42", Tool: "web_fetch", Category: "network",
			Args:      json.RawMessage(`{"url":"https://example.com/a/very/long/path/that/keeps/going/until/it/has/to/wrap/somewhere/sensible?q=1","method":"GET"}`),
			CreatedAt: now.Add(-5 * time.Second), ExpiresAt: now.Add(55 * time.Second)},
	}
}

func screenshotHistory() []chat.Record {
	ts := time.Now().Add(-10 * time.Minute)
	return []chat.Record{
		{ID: "h1", Role: chat.RoleUser, Time: ts,
			Content: "Which folders in my home directory take the most space? Please keep it short."},
		{ID: "h2", Role: chat.RoleAssistant, Time: ts, ToolCalls: []chat.ToolCall{
			{ID: "t1", Name: "exec", Arguments: json.RawMessage(`{"command":"du -sh ~/* | sort -rh | head -3"}`)},
		}},
		{ID: "h3", Role: chat.RoleTool, ToolName: "exec", ToolCallID: "t1", Time: ts,
			Content: "38G\t/home/me/Videos\n12G\t/home/me/.cache\n4.1G\t/home/me/Downloads"},
		{ID: "h4", Role: chat.RoleAssistant, Time: ts, Model: "test-model",
			Content: "Here is what I found:\n\n1. **Videos** — 38 GB\n2. **.cache** — 12 GB (safe to clear)\n3. **Downloads** — 4.1 GB\n\n" +
				"Clearing the cache is the quickest win; it refills as programs need it."},
	}
}

// distinctColours counts the colours of img (sampling every other pixel),
// stopping at limit.
func distinctColours(img image.Image, limit int) int {
	seen := make(map[[4]uint32]bool)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r >> 8, g >> 8, bl >> 8, a >> 8}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
