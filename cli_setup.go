package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/vault"
)

// localServers are OpenAI-compatible servers people commonly run on their
// own machine, probed in this order so setup can offer them first.
var localServers = []struct{ name, url string }{
	{"Ollama", "http://127.0.0.1:11434/v1"},
	{"LM Studio", "http://127.0.0.1:1234/v1"},
	{"llama.cpp server", "http://127.0.0.1:8080/v1"},
}

// probeLocal finds the first local OpenAI-compatible server that answers
// /models, with the models it lists.
func probeLocal(ctx context.Context) (name, url string, models []string, ok bool) {
	for _, s := range localServers {
		p, err := model.NewOpenAI(model.Options{BaseURL: s.url, MaxRetries: -1, Timeout: 2 * time.Second})
		if err != nil {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		ms, err := p.Models(pctx)
		cancel()
		if err == nil {
			return s.name, s.url, ms, true
		}
	}
	return "", "", nil, false
}

func runSetup(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	provider := fs.String("provider", "", "openai (any OpenAI-compatible server) or anthropic")
	baseURL := fs.String("base-url", "", "API base URL, e.g. http://127.0.0.1:11434/v1 for Ollama")
	modelName := fs.String("model", "", "model name")
	keyEnv := fs.String("api-key-env", "", "read the API key from this environment variable instead of asking")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	ask := func(prompt, def string) string {
		if def != "" {
			fmt.Fprintf(stdout, "%s [%s]: ", prompt, def)
		} else {
			fmt.Fprintf(stdout, "%s: ", prompt)
		}
		line, _ := in.ReadString('\n')
		if line = strings.TrimSpace(line); line == "" {
			return def
		}
		return line
	}
	s := daemon.Setup{Provider: *provider, BaseURL: *baseURL, Model: *modelName}
	if *keyEnv != "" {
		s.APIKey = os.Getenv(*keyEnv)
		if s.APIKey == "" {
			return fmt.Errorf("environment variable %s is empty", *keyEnv)
		}
	}
	if s.Provider == "" {
		fmt.Fprintln(stdout, "Genos setup: choose the model your assistant uses.")
		if name, url, models, ok := probeLocal(ctx); ok {
			fmt.Fprintf(stdout, "Found %s at %s with %d model(s).\n", name, url, len(models))
			if yes(ask("Use it? (y/n)", "y")) {
				s.Provider, s.BaseURL = "openai", url
				s.Model = pickModel(stdout, ask, models)
			}
		}
	}
	if s.Provider == "" {
		fmt.Fprintln(stdout, "Providers: 1) OpenAI or any OpenAI-compatible server  2) Anthropic")
		switch ask("Provider", "1") {
		case "1", "openai":
			s.Provider = "openai"
		case "2", "anthropic":
			s.Provider = "anthropic"
		default:
			return errors.New("choose 1 (OpenAI-compatible) or 2 (Anthropic)")
		}
	}
	if s.BaseURL == "" && fs.NFlag() == 0 {
		def := "https://api.openai.com/v1"
		if s.Provider == "anthropic" {
			def = "https://api.anthropic.com"
		}
		s.BaseURL = ask("Base URL", def)
	}
	if s.APIKey == "" && !isLoopbackURL(s.BaseURL) {
		s.APIKey = readSecret(stdout, in, stdin, "API key (input hidden)")
		if s.APIKey == "" {
			return errors.New("an API key is needed for a remote provider")
		}
	}
	if s.Model == "" {
		p, err := model.New(s.Provider, model.Options{BaseURL: s.BaseURL, APIKey: s.APIKey, MaxRetries: -1, Timeout: 10 * time.Second})
		if err != nil {
			return err
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		models, lerr := p.Models(lctx)
		cancel()
		if lerr != nil {
			fmt.Fprintf(stdout, "Could not list models (%v); type the model name.\n", lerr)
		}
		s.Model = pickModel(stdout, ask, models)
	}
	var v *vault.Vault
	if daemon.HasVault(dir) {
		// The config and the key are sealed: setup needs the vault open.
		p, ok := os.LookupEnv("GENOS_VAULT_PASSPHRASE")
		if !ok || p == "" {
			p = readSecret(stdout, in, stdin, "Vault passphrase")
		}
		var err error
		if v, err = daemon.OpenVault(dir, []byte(p)); err != nil {
			return err
		}
		defer v.Lock()
	}
	if err := daemon.SaveSetup(dir, s, v); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Saved: %s · %s. A running gateway picks it up with the next message.\n", s.Provider, s.Model)
	return nil
}

func pickModel(stdout io.Writer, ask func(string, string) string, models []string) string {
	if len(models) == 0 {
		return ask("Model", "")
	}
	for i, m := range models {
		if i == 20 {
			fmt.Fprintf(stdout, "  … and %d more\n", len(models)-20)
			break
		}
		fmt.Fprintf(stdout, "  %d) %s\n", i+1, m)
	}
	answer := ask("Model (number or name)", "1")
	if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(models) {
		return models[n-1]
	}
	return answer
}

func yes(s string) bool {
	s = strings.ToLower(s)
	return s == "y" || s == "yes"
}

func isLoopbackURL(u string) bool {
	for _, p := range []string{"http://127.", "http://localhost", "http://[::1]"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// readSecret reads without echo from a terminal, or a plain line otherwise.
func readSecret(stdout io.Writer, in *bufio.Reader, stdin io.Reader, prompt string) string {
	fmt.Fprintf(stdout, "%s: ", prompt)
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stdout)
		if err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	line, _ := in.ReadString('\n')
	fmt.Fprintln(stdout) // the input was not echoed, so end the prompt's line
	return strings.TrimSpace(line)
}
