//go:build nogui

package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// runApp in a build without the UI (-tags nogui, used for the pure-Go server
// binary) runs the gateway and says so.
func runApp(ctx context.Context, args []string, stderr io.Writer) error {
	fmt.Fprintln(stderr, "This build of Genos has no desktop app: starting the headless gateway (genos gateway).")
	return runGateway(ctx, args, os.Stdout, stderr)
}
