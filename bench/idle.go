package main

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// idleResult is the memory of an idle gateway with one client connected.
type idleResult struct {
	early, idle procMem // right after the client connected, and after the wait
	fds         int
}

// measureIdle starts a gateway on a fresh state dir, connects one client,
// waits o.idle and reads the gateway's memory.
func measureIdle(ctx context.Context, o *options, bin, modelURL string) (_ idleResult, err error) {
	dir, err := newStateDir(modelURL)
	if err != nil {
		return idleResult{}, err
	}
	defer o.cleanup(dir)
	g, err := startGateway(ctx, bin, dir)
	if err != nil {
		return idleResult{}, err
	}
	defer func() {
		if serr := g.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	token, err := g.token()
	if err != nil {
		return idleResult{}, err
	}
	c, err := g.dial(ctx, token, "genos-bench-idle")
	if err != nil {
		return idleResult{}, err
	}
	defer c.Close()
	var r idleResult
	if r.early, err = readProcMem(ctx, g.pid()); err != nil {
		return idleResult{}, err
	}
	t := time.NewTimer(o.idle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return idleResult{}, ctx.Err()
	case <-c.Done():
		return idleResult{}, fmt.Errorf("gateway closed the idle client's connection: %v", c.Err())
	case <-t.C:
	}
	// The connection must still work after the idle period (ticks, timeouts).
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Health(hctx); err != nil {
		return idleResult{}, fmt.Errorf("health after %s idle: %w", o.idle, err)
	}
	if r.idle, err = readProcMem(ctx, g.pid()); err != nil {
		return idleResult{}, err
	}
	r.fds = countFDs(g.pid())
	return r, nil
}

// idleRows renders one idle measurement; judged is false for the desktop
// build, whose UI libraries are linked in and which the target is not about.
func idleRows(o *options, bin string, r idleResult, judged bool) []row {
	source := "VmRSS from /proc/<pid>/status"
	if runtime.GOOS != "linux" {
		source = "ps -o rss= -p <pid>"
	}
	value := fmt.Sprintf("%s (right after connect %s", fmtMiB(r.idle.RSS), fmtMiB(r.early.RSS))
	if r.idle.Peak > 0 {
		value += ", peak " + fmtMiB(r.idle.Peak)
	}
	if r.idle.Threads > 0 {
		value += fmt.Sprintf(", %d threads", r.idle.Threads)
	}
	if r.fds >= 0 {
		value += fmt.Sprintf(", %d open fds", r.fds)
	}
	value += ")"
	rw := row{
		Name:    fmt.Sprintf("idle RSS after %s, 1 client connected", o.idle),
		Value:   value,
		Target:  "< " + fmtMiB(o.rssTarget),
		Verdict: judge(r.idle.RSS < o.rssTarget),
		Command: fmt.Sprintf("%s; connect 1 client; wait %s; health RPC; %s", gatewayCommand(bin), o.idle, source),
	}
	if !judged {
		rw.Name += " (desktop build, UI libraries linked)"
		rw.Target, rw.Verdict = "", verdictInfo
	}
	return []row{rw}
}
