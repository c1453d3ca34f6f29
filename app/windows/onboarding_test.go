package windows

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"github.com/google/go-cmp/cmp"
)

func TestSetupValidate(t *testing.T) {
	t.Parallel()
	ok := Setup{Provider: ProviderOpenAI, BaseURL: DefaultOpenAIURL, Model: "gpt-4.1-mini", APIKey: "sk-test"}
	tests := []struct {
		name  string
		edit  func(*Setup)
		wants []string // substrings of the joined error; none means valid
	}{
		{"valid hosted", func(*Setup) {}, nil},
		{"valid local without key", func(s *Setup) { s.BaseURL, s.APIKey = "http://127.0.0.1:11434/v1", "" }, nil},
		{"valid LAN without key", func(s *Setup) { s.BaseURL, s.APIKey = "http://192.168.1.20:1234/v1", "" }, nil},
		{"valid localhost with key over http", func(s *Setup) { s.BaseURL = "http://localhost:8080/v1" }, nil},
		{"valid anthropic", func(s *Setup) {
			s.Provider, s.BaseURL, s.Model = ProviderAnthropic, DefaultAnthropicURL, "claude-sonnet-4-5"
		}, nil},
		{"no provider", func(s *Setup) { s.Provider = "" }, []string{"Choose a provider."}},
		{"empty URL", func(s *Setup) { s.BaseURL = "" }, []string{"Enter the server address"}},
		{"URL without scheme", func(s *Setup) { s.BaseURL = "api.openai.com/v1" }, []string{"must look like https://"}},
		{"ftp URL", func(s *Setup) { s.BaseURL = "ftp://example.com" }, []string{"must look like https://"}},
		{"URL with credentials", func(s *Setup) { s.BaseURL = "https://u:p@example.com/v1" }, []string{"credentials"}},
		{"URL with query", func(s *Setup) { s.BaseURL = "https://example.com/v1?x=1" }, []string{"query"}},
		{"key over plain http to the internet", func(s *Setup) { s.BaseURL = "http://example.com/v1" }, []string{"Use https://"}},
		{"no model", func(s *Setup) { s.Model = "" }, []string{"Enter a model name."}},
		{"model with spaces", func(s *Setup) { s.Model = "gpt 4" }, []string{"cannot contain spaces"}},
		{"model too long", func(s *Setup) { s.Model = strings.Repeat("m", maxModelLen+1) }, []string{"too long"}},
		{"anthropic needs a key", func(s *Setup) { s.Provider, s.BaseURL, s.APIKey = ProviderAnthropic, DefaultAnthropicURL, "" }, []string{"Anthropic API key"}},
		{"hosted openai needs a key", func(s *Setup) { s.APIKey = "" }, []string{"Enter an API key"}},
		{"key with a line break", func(s *Setup) { s.APIKey = "sk-a\nb" }, []string{"spaces or line breaks"}},
		{"every problem at once", func(s *Setup) { *s = Setup{Provider: ProviderAnthropic} }, []string{"Enter the server address", "Enter a model name.", "Anthropic API key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ok
			tt.edit(&s)
			err := s.normalize().validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("validate(%+v) = %v, want nil", s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validate(%+v) = nil, want errors %q", s, tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("validate error %q lacks %q", err, w)
				}
			}
		})
	}
}

// saveRecorder is a fake SaveSetup.
type saveRecorder struct {
	calls chan Setup
	err   error
}

func (r *saveRecorder) save(_ context.Context, s Setup) error {
	r.calls <- s
	return r.err
}

func newTestOnboarding(t *testing.T, rec *saveRecorder, probe func(context.Context) (LocalServer, bool)) (*Onboarding, chan struct{}) {
	t.Helper()
	a := test.NewTempApp(t)
	done := make(chan struct{}, 1)
	w := NewOnboarding(t.Context(), a, OnboardingOptions{UI: testUI, Save: rec.save, Probe: probe, OnDone: func() { done <- struct{}{} }})
	t.Cleanup(func() { w.ui.Locked(w.Close) })
	w.ui.Locked(w.Show)
	return w, done
}

func TestOnboardingValidationErrorsAreInline(t *testing.T) {
	rec := &saveRecorder{calls: make(chan Setup, 1)}
	w, _ := newTestOnboarding(t, rec, nil)
	w.ui.Locked(func() {
		w.provider.SetSelected(labelAnthropic)
		test.Tap(w.save)
		if !w.errLabel.Visible() {
			t.Fatal("no inline error shown")
		}
		for _, want := range []string{"Enter a model name.", "Enter your Anthropic API key."} {
			if !strings.Contains(w.errLabel.Text, want) {
				t.Errorf("error %q lacks %q", w.errLabel.Text, want)
			}
		}
		if w.baseURL.Text != DefaultAnthropicURL {
			t.Errorf("base URL = %q, want the Anthropic default", w.baseURL.Text)
		}
	})
	select {
	case s := <-rec.calls:
		t.Errorf("SaveSetup called with invalid fields: %+v", s)
	default:
	}
}

func TestOnboardingSaves(t *testing.T) {
	rec := &saveRecorder{calls: make(chan Setup, 1)}
	w, done := newTestOnboarding(t, rec, nil)
	w.ui.Locked(func() {
		w.provider.SetSelected(labelAnthropic)
		test.Type(w.model, "claude-sonnet-4-5")
		test.Type(w.apiKey, "  sk-ant-secret ")
		test.Tap(w.save)
	})
	got := <-rec.calls
	want := Setup{Provider: ProviderAnthropic, BaseURL: DefaultAnthropicURL, Model: "claude-sonnet-4-5", APIKey: "sk-ant-secret"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SaveSetup got (-want +got):\n%s", diff)
	}
	<-done
	w.ui.Locked(func() {
		if w.apiKey.Text != "" {
			t.Error("API key left in the entry after saving")
		}
		if w.errLabel.Visible() {
			t.Errorf("error shown after a successful save: %q", w.errLabel.Text)
		}
	})
}

func TestOnboardingSaveErrorIsInline(t *testing.T) {
	rec := &saveRecorder{calls: make(chan Setup, 1), err: errors.New("model server answered 401: invalid API key")}
	w, done := newTestOnboarding(t, rec, nil)
	w.ui.Locked(func() {
		test.Type(w.model, "gpt-4.1-mini")
		test.Type(w.apiKey, "sk-wrong")
		test.Tap(w.save)
	})
	<-rec.calls
	waitFor(t, w.ui, "inline save error", func() bool { return w.errLabel.Visible() && !w.save.Disabled() })
	w.ui.Locked(func() {
		if !strings.Contains(w.errLabel.Text, "invalid API key") {
			t.Errorf("error = %q", w.errLabel.Text)
		}
		if w.apiKey.Text != "sk-wrong" {
			t.Error("the key was cleared although saving failed")
		}
	})
	select {
	case <-done:
		t.Error("OnDone called after a failed save")
	default:
	}
}

func TestOnboardingOffersLocalServer(t *testing.T) {
	rec := &saveRecorder{calls: make(chan Setup, 1)}
	probe := func(context.Context) (LocalServer, bool) {
		return LocalServer{BaseURL: "http://127.0.0.1:11434/v1", Models: []string{"llama3.2:3b", "qwen2.5:7b"}}, true
	}
	w, done := newTestOnboarding(t, rec, probe)
	waitFor(t, w.ui, "probe result", func() bool { return w.found != nil })
	w.ui.Locked(func() {
		if w.provider.Selected != labelOpenAI || w.baseURL.Text != "http://127.0.0.1:11434/v1" {
			t.Errorf("provider %q, URL %q; want the local server preselected", w.provider.Selected, w.baseURL.Text)
		}
		if diff := cmp.Diff([]string{"llama3.2:3b", "qwen2.5:7b"}, w.options); diff != "" {
			t.Errorf("model options (-want +got):\n%s", diff)
		}
		if !strings.Contains(w.local.Text, "Found a model server") {
			t.Errorf("local label = %q", w.local.Text)
		}
		test.Tap(w.save) // no key needed for a local server
	})
	got := <-rec.calls
	want := Setup{Provider: ProviderOpenAI, BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2:3b"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SaveSetup got (-want +got):\n%s", diff)
	}
	<-done
}

func TestOnboardingKeepsTypedURL(t *testing.T) {
	rec := &saveRecorder{calls: make(chan Setup, 1)}
	w, _ := newTestOnboarding(t, rec, nil)
	w.ui.Locked(func() {
		w.baseURL.SetText("https://llm.example.com/v1")
		w.provider.SetSelected(labelAnthropic)
		if w.baseURL.Text != "https://llm.example.com/v1" {
			t.Errorf("switching provider replaced a typed URL with %q", w.baseURL.Text)
		}
	})
}
