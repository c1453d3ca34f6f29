package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/vault"
)

const memoryUsage = `usage: genos memory search [--limit N] [--mode hybrid|bm25|vector] QUERY...
       genos memory status
       genos memory reindex
       genos memory embedder none|openai|onnx [flags]

  search    search the agent's memory notes (MEMORY.md and memory/*.md)
  status    how many notes and chunks are indexed, and with which embedder
  reindex   chunk and embed every note again
  embedder  choose what turns notes into vectors for semantic search:
              none     keywords only (the default)
              openai   any OpenAI-compatible /v1/embeddings server:
                       --base-url URL (default OpenAI's; Ollama: http://127.0.0.1:11434/v1)
                       --model NAME, [--api-key-env VAR] (a remote server's key is asked for otherwise),
                       [--dimensions N]
              onnx     a local BERT-family model: --onnx-model PATH (vocab.txt beside it)
            The embedder is tried once before it is saved (--no-check skips that).`

const sessionsUsage = `usage: genos sessions compact [SESSION_KEY]

  compact   summarise the older turns of a session (default: the main session) now`

// runMemory implements `genos memory ...`.
func runMemory(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(memoryUsage)
	}
	if args[0] == "embedder" {
		return runEmbedder(ctx, args[1:], stdin, stdout)
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

// runEmbedder implements `genos memory embedder ...`: it checks the
// embedder, then writes it to the (sealed) config, like genos setup does
// for the model.
func runEmbedder(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(memoryUsage)
	}
	var s daemon.EmbedderSetup
	switch args[0] {
	case "none":
	case config.EmbedderOpenAI, config.EmbedderONNX:
		s.Kind = args[0]
	default:
		return fmt.Errorf("unknown embedder %q\n%s", args[0], memoryUsage)
	}
	fs := flag.NewFlagSet("memory embedder", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.BaseURL, "base-url", "", "")
	fs.StringVar(&s.Model, "model", "", "")
	fs.StringVar(&s.APIKeyEnv, "api-key-env", "", "")
	fs.IntVar(&s.Dimensions, "dimensions", 0, "")
	fs.StringVar(&s.ONNXModel, "onnx-model", "", "")
	noCheck := fs.Bool("no-check", false, "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return fmt.Errorf("%v\n%s", orArgs(err, fs.Args()), memoryUsage)
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	if s.Kind == config.EmbedderOpenAI && s.APIKeyEnv == "" && !isLoopbackURL(s.BaseURL) {
		s.APIKey = readSecret(stdout, in, stdin, "API key of the embeddings server (input hidden)")
		if s.APIKey == "" {
			return errors.New("a remote embeddings server needs an API key (or --api-key-env)")
		}
	}
	if s.Kind != "" && !*noCheck {
		fmt.Fprintln(stdout, "Checking the embedder…")
		name, dims, err := daemon.CheckEmbedder(ctx, dir, s)
		if err != nil {
			return fmt.Errorf("the embedder does not work: %w", err)
		}
		fmt.Fprintf(stdout, "It answers: %s, %d dimensions.\n", name, dims)
	}
	var v *vault.Vault
	if daemon.HasVault(dir) {
		p, ok := os.LookupEnv("GENOS_VAULT_PASSPHRASE")
		if !ok || p == "" {
			p = readSecret(stdout, in, stdin, "Vault passphrase")
		}
		if v, err = daemon.OpenVault(dir, []byte(p)); err != nil {
			return err
		}
		defer v.Lock()
	}
	if err := daemon.SaveEmbedder(dir, s, v); err != nil {
		return err
	}
	if s.Kind == "" {
		fmt.Fprintln(stdout, "Saved: no embedder; memory search uses keywords only.")
	} else {
		fmt.Fprintf(stdout, "Saved: %s embedder.\n", s.Kind)
	}
	fmt.Fprintln(stdout, "A running Genos uses it after a restart or the next vault unlock; notes are then embedded in the background.")
	return nil
}

func orArgs(err error, rest []string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected arguments %q", rest)
}
