package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/memory"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tokens"
	"github.com/genos-project/genos/core/tools"
)

// filterRun is the token accounting of one filter mode over the scenarios.
type filterRun struct {
	mode                 string
	promptAll, promptSel int // summed over scenarios
	specsAll, specsSel   int
	reportedSaved        int // Selection.TokensSaved, summed
	needed, kept         int // tools the scenarios need, and how many the filter kept
	offered, selected    int // tools offered and sent, summed
	missing              []string
}

// toolFilterRows measures prompt tokens with and without the tool filter
// on the fixed scenarios: BM25 (no embedder) always, and the real
// embedder when one is named.
func toolFilterRows(ctx context.Context, emb *benchEmbedder) ([]row, []string, error) {
	dir, err := os.MkdirTemp("", "genos-bench-tools-")
	if err != nil {
		return nil, nil, fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	ws := filepath.Join(dir, "workspace")
	if err := os.MkdirAll(ws, 0o700); err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, filepath.Join(dir, "genos.db"))
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	m, err := memory.Open(ctx, memory.Options{AgentID: benchAgent, Workspace: ws, DB: db})
	if err != nil {
		return nil, nil, err
	}
	defer m.Close()
	all := benchTools(m.Tools())
	if err := checkScenarios(all); err != nil {
		return nil, nil, err
	}
	system, err := agent.SystemPrompt(agent.Info{Name: "Genos"}, ws, nil, evalNow)
	if err != nil {
		return nil, nil, err
	}
	specTok := map[string]int{}
	for _, t := range all {
		spec, err := toolSpecJSON(t)
		if err != nil {
			return nil, nil, fmt.Errorf("tool %s: %w", t.Name, err)
		}
		specTok[t.Name] = tokens.Estimate(spec)
	}

	var rows []row
	var notes []string
	modes := []*benchEmbedder{nil}
	if emb != nil {
		modes = append(modes, emb)
	}
	for _, e := range modes {
		r, err := runFilter(ctx, all, e, system, specTok)
		if err != nil {
			return rows, notes, err
		}
		cmd := fmt.Sprintf("in process, core/tools filter (%s): %d fixed messages (bench/memory_tools.go), %d tools offered (%s); prompt = tokens.Estimate of the system prompt (agent.SystemPrompt, empty workspace, %d tokens) + each tool spec as OpenAI-compatible JSON + the message",
			r.mode, len(toolScenarios), len(all), names(all), tokens.Estimate(system))
		rows = append(rows, row{
			Name: "prompt tokens per message, without → with the tool filter (" + r.mode + ")",
			Value: fmt.Sprintf("%.0f → %.0f (%s); tool specs %.0f → %.0f; %.1f of %d tools sent on average; needed tools kept %d/%d; filter-reported saving %.0f per message",
				avg(r.promptAll), avg(r.promptSel), pctChange(r.promptSel, r.promptAll), avg(r.specsAll), avg(r.specsSel),
				float64(r.selected)/float64(len(toolScenarios)), len(all), r.kept, r.needed, avg(r.reportedSaved)),
			Command: cmd,
		})
		if len(r.missing) > 0 {
			notes = append(notes, fmt.Sprintf("Tool filter (%s) hid a tool a scenario needs: %s.", r.mode, strings.Join(r.missing, "; ")))
		}
	}
	if emb == nil {
		rows = append(rows, row{Name: "prompt tokens per message with the tool filter (embedder)", Value: noEmbedderNote, Command: "in process, core/tools filter"})
	}
	return rows, notes, nil
}

func avg(total int) float64 { return float64(total) / float64(len(toolScenarios)) }

// runFilter builds the filter over all (with the embedder of e, or BM25
// when e is nil) and applies it to every scenario.
func runFilter(ctx context.Context, all []tools.Tool, e *benchEmbedder, system string, specTok map[string]int) (filterRun, error) {
	r := filterRun{mode: "BM25, no embedder"}
	var em embed.Embedder
	if e != nil {
		r.mode, em = "embedder "+e.desc, e.e
	}
	f, err := tools.NewFilter(ctx, all, em, tools.FilterOptions{})
	if err != nil {
		return r, fmt.Errorf("new filter (%s): %w", r.mode, err)
	}
	base := tokens.Estimate(system)
	for _, s := range toolScenarios {
		var vec []float32
		if em != nil {
			vs, err := em.Embed(ctx, []string{s.message})
			if err != nil {
				return r, fmt.Errorf("embed a scenario: %w", err)
			}
			if len(vs) != 1 {
				return r, errors.New("embed a scenario: no vector")
			}
			vec = vs[0]
		}
		sel := f.Select(s.message, vec, all)
		if sel.Tools == nil {
			sel.Tools = all // nil sends every offered tool
		}
		msg := tokens.Estimate(s.message)
		specsAll, specsSel := 0, 0
		for _, t := range all {
			specsAll += specTok[t.Name]
		}
		for _, t := range sel.Tools {
			specsSel += specTok[t.Name]
		}
		r.specsAll += specsAll
		r.specsSel += specsSel
		r.promptAll += base + specsAll + msg
		r.promptSel += base + specsSel + msg
		r.reportedSaved += sel.TokensSaved
		r.selected += len(sel.Tools)
		for _, n := range s.needs {
			r.needed++
			if slices.ContainsFunc(sel.Tools, func(t tools.Tool) bool { return t.Name == n }) {
				r.kept++
			} else {
				r.missing = append(r.missing, fmt.Sprintf("%s for %q", n, s.message))
			}
		}
	}
	return r, nil
}
