//go:build unix

package windows

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/genos-project/genos/app/internal/xvfb"
)

// TestWindowScreenshots renders the real windows with the GL driver under
// Xvfb and checks each capture is a plausible picture. Each window runs in a
// re-executed child (see TestMain), because GLFW needs the main goroutine.
func TestWindowScreenshots(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the real-window screenshots in -short mode")
	}
	display := xvfb.Start(t)
	for _, window := range []string{"chat", "approvals", "onboarding", "chat-locked", "unlock", "onboarding-vault",
		"channels", "pairing"} {
		t.Run(window, func(t *testing.T) { screenshot(t, display, window) })
	}
}

func screenshot(t *testing.T, display, window string) {
	out := filepath.Join(t.TempDir(), window+"-window.png")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := xvfb.Command(ctx, t, display, "TestWindowScreenshots", screenshotOutEnv+"="+out, screenshotWindowEnv+"="+window)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Run(); err != nil {
		t.Fatalf("screenshot child: %v\n%s", err, logs.String())
	}
	t.Logf("screenshot child output:\n%s", logs.String())

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("child wrote no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 300 || b.Dx() > 2400 || b.Dy() < 300 || b.Dy() > 2400 {
		t.Errorf("screenshot is %dx%d, want a window-sized image", b.Dx(), b.Dy())
	}
	if n := distinctColours(img, 64); n < 8 {
		t.Errorf("screenshot has only %d distinct colours; the window did not render", n)
	}
	if dir := os.Getenv(screenshotCopyEnv); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, window+"-window.png"), data, 0o644); err != nil {
			t.Errorf("copy screenshot: %v", err)
		}
	}
}
