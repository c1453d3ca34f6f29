package windows

import (
	"fmt"
	"os"
	"testing"
)

// TestMain switches the test binary into the screenshot child when
// TestChatWindowScreenshot re-executes it: GLFW must run on the main
// goroutine, which only TestMain has.
func TestMain(m *testing.M) {
	if out := os.Getenv(screenshotOutEnv); out != "" {
		if err := screenshotChild(os.Getenv(screenshotWindowEnv), out); err != nil {
			fmt.Fprintln(os.Stderr, "screenshot child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
