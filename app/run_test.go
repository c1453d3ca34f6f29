//go:build unix

package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/app/internal/xvfb"
)

// TestRunRealDriver runs Run with the GL driver and the Linux systray under
// Xvfb and a private D-Bus session, and checks that cancelling its context
// quits cleanly (no systray panic, Run returns nil).
func TestRunRealDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the real-driver run in -short mode")
	}
	display := xvfb.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := xvfb.Command(ctx, t, display, "TestRunRealDriver", runChildEnv+"=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err := cmd.Run()
	out := logs.String()
	if err != nil {
		t.Fatalf("app child: %v\n%s", err, out)
	}
	if strings.Contains(out, "panic:") || !strings.Contains(out, "Run returned cleanly") {
		t.Errorf("app child did not finish cleanly:\n%s", out)
	}
	t.Logf("app child output:\n%s", out)
}
