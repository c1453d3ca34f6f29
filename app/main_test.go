package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/genos-project/genos/app/internal/fakegw"
	"github.com/genos-project/genos/core/api"
)

// runChildEnv switches the test binary into the child of TestRunRealDriver:
// Run must be called on the main goroutine, which only TestMain has.
const runChildEnv = "GENOS_TEST_RUN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(runChildEnv) != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "run child:", err)
			os.Exit(1)
		}
		fmt.Println("run child: Run returned cleanly")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild runs the real app against a fake gateway until the tray is up
// and the chat has loaded, then ends it through ctx as main.go's signal
// handling would.
func runChild() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw := fakegw.Start(ctx)
	defer gw.Close()
	go func() {
		// The chat opens at start on Linux and loads its history once the
		// status names the default agent.
		if _, err := gw.AwaitRequest(ctx, api.MethodChatHistory, 1); err == nil {
			time.Sleep(500 * time.Millisecond) // let the window draw a few frames
		}
		cancel()
	}()
	err := Run(ctx, Options{
		Connect:   gw.DialContext,
		SaveSetup: func(context.Context, Setup) error { return nil },
		Version:   "test",
	})
	if err != nil {
		return err
	}
	if len(gw.Requests(api.MethodChatHistory)) == 0 {
		return errors.New("the chat never loaded its history")
	}
	return nil
}
