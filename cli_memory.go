package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
)

const memoryUsage = `usage: genos memory search [--limit N] [--mode hybrid|bm25|vector] QUERY...
       genos memory status
       genos memory reindex

  search    search the agent's memory notes (MEMORY.md and memory/*.md)
  status    how many notes and chunks are indexed, and with which embedder
  reindex   chunk and embed every note again (after changing the embedder)`

const sessionsUsage = `usage: genos sessions compact [SESSION_KEY]

  compact   summarise the older turns of a session (default: the main session) now`

// runMemory implements `genos memory ...`.
func runMemory(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(memoryUsage)
	}
	var search api.MemorySearchParams
	switch args[0] {
	case "status", "reindex":
		if len(args) != 1 {
			return errors.New(memoryUsage)
		}
	case "search":
		fs := flag.NewFlagSet("memory search", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.IntVar(&search.Limit, "limit", 5, "hits to show")
		fs.StringVar(&search.Mode, "mode", "", "hybrid, bm25 or vector")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%v\n%s", err, memoryUsage)
		}
		search.Query = strings.Join(fs.Args(), " ")
		if strings.TrimSpace(search.Query) == "" {
			return errors.New(memoryUsage)
		}
	default:
		return errors.New(memoryUsage)
	}
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	switch args[0] {
	case "status":
		st, err := c.MemoryStatus(ctx)
		if err != nil {
			return err
		}
		printMemoryStatus(stdout, st)
	case "reindex":
		fmt.Fprintln(stdout, "Reindexing memory…")
		st, err := c.MemoryReindex(ctx)
		if err != nil {
			return err
		}
		printMemoryStatus(stdout, st)
	case "search":
		res, err := c.MemorySearch(ctx, search)
		if err != nil {
			return err
		}
		printMemoryHits(stdout, res)
	}
	return nil
}

func printMemoryStatus(w io.Writer, st api.MemoryStatus) {
	fmt.Fprintf(w, "Notes:     %d\n", st.Notes)
	fmt.Fprintf(w, "Chunks:    %d\n", st.Chunks)
	if st.Embedder != "" {
		fmt.Fprintf(w, "Embedder:  %s (%d dimensions)\n", st.Embedder, st.Dimensions)
		fmt.Fprintf(w, "Cache:     %d vectors, %d hits, %d misses since unlock\n", st.CacheEntries, st.CacheHits, st.CacheMisses)
	} else {
		fmt.Fprintln(w, "Embedder:  none")
	}
	fmt.Fprintf(w, "Search:    %s\n", st.Mode)
	if !st.LastSync.IsZero() {
		fmt.Fprintf(w, "Synced:    %s\n", st.LastSync.Local().Format(time.DateTime))
	}
	switch st.IndexFrom {
	case "snapshot":
		fmt.Fprintf(w, "Unlocked:  index loaded from its sealed snapshot in %d ms\n", st.OpenMillis)
	case "rows":
		fmt.Fprintf(w, "Unlocked:  index rebuilt in %d ms", st.OpenMillis)
		if st.IndexNote != "" {
			fmt.Fprintf(w, " (%s)", st.IndexNote)
		}
		fmt.Fprintln(w)
	}
	if st.SnapshotError != "" {
		fmt.Fprintf(w, "Snapshot:  could not be saved: %s\n", st.SnapshotError)
	}
	if st.Damaged > 0 {
		fmt.Fprintf(w, "Damaged:   %d stored chunks could not be opened and were skipped (genos memory reindex rebuilds them)\n", st.Damaged)
	}
	if st.Notice != "" {
		fmt.Fprintf(w, "Note:      %s\n", st.Notice)
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "Problem:   %s\n", st.LastError)
	}
}

func printMemoryHits(w io.Writer, res api.MemorySearchResult) {
	if res.Notice != "" {
		fmt.Fprintf(w, "(%s)\n", res.Notice)
	}
	if len(res.Hits) == 0 {
		fmt.Fprintln(w, "No matching memories.")
		return
	}
	for _, h := range res.Hits {
		fmt.Fprintf(w, "%d. %s  lines %d-%d  score %.2f\n", h.Rank, h.Source, h.StartLine, h.EndLine, h.Score)
		for _, line := range strings.Split(strings.TrimSpace(h.Text), "\n") {
			fmt.Fprintf(w, "   %s\n", line)
		}
		fmt.Fprintln(w)
	}
}

// runSessions implements `genos sessions ...`.
func runSessions(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "compact" || len(args) > 2 {
		return errors.New(sessionsUsage)
	}
	key := ""
	if len(args) == 2 {
		key = args[1]
	}
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.SessionsCompact(ctx, api.SessionsCompactParams{SessionKey: key})
	if err != nil {
		return err
	}
	switch {
	case res.Compacted:
		fmt.Fprintf(stdout, "Compacted %d records: about %d tokens of context down to %d.\n", res.Records, res.TokensBefore, res.TokensAfter)
	case res.Message != "":
		fmt.Fprintln(stdout, res.Message)
	default:
		fmt.Fprintln(stdout, "Nothing to compact yet.")
	}
	return nil
}
