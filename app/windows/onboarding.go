package windows

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/api"
)

// OnboardingOptions configures the onboarding window.
type OnboardingOptions struct {
	// Save persists the setup and reconfigures the daemon. Required.
	Save func(ctx context.Context, s Setup) error
	// Probe looks for a local model server; optional.
	Probe func(ctx context.Context) (LocalServer, bool)
	// Vault, when set, adds a first step that creates the vault if the
	// daemon has none yet. Without it onboarding only sets up the model.
	Vault VaultSetupClient
	// OnVaultCreated runs on the UI goroutine after the vault was created;
	// optional.
	OnVaultCreated func(api.VaultStatus)
	// OnDone runs on the UI goroutine after a successful save, once the
	// window is hidden; the app opens the chat from here.
	OnDone func()
	// Logger receives diagnostics; the API key is never logged.
	Logger *slog.Logger
	// UI serialises widget updates; nil gives the window its own. Share
	// the app's.
	UI *UI
}

// Provider labels shown in the select, in order.
const (
	labelOpenAI    = "OpenAI-compatible (OpenAI, Ollama, LM Studio…)"
	labelAnthropic = "Anthropic"
)

const (
	probeTimeout = 3 * time.Second
	saveTimeout  = 60 * time.Second
)

// Model names suggested per provider; the field accepts any name.
var (
	suggestedOpenAI    = []string{"gpt-4.1-mini", "gpt-4.1", "gpt-4o"}
	suggestedAnthropic = []string{"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"}
)

// Onboarding is the window that sets up the model provider.
type Onboarding struct {
	ctx    context.Context
	cancel context.CancelFunc
	opts   OnboardingOptions
	log    *slog.Logger
	ui     *UI

	win       fyne.Window
	page      fyne.CanvasObject // the step shown
	modelPage fyne.CanvasObject
	title     *widget.Label
	step      *widget.RichText
	provider  *widget.Select
	baseURL   *widget.Entry
	model     *widget.SelectEntry
	apiKey    *widget.Entry
	local     *widget.Label
	errLabel  *widget.Label
	progress  *widget.ProgressBarInfinite
	save      *widget.Button

	found   *LocalServer // the probed local server, if any
	options []string     // the model suggestions offered

	vault vaultStep
}

// NewOnboarding builds the onboarding window and starts probing for a local
// model server. It panics if opts.Save is nil, a programming error.
func NewOnboarding(ctx context.Context, a fyne.App, opts OnboardingOptions) *Onboarding {
	if opts.Save == nil {
		panic("windows.NewOnboarding: Save is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Onboarding{ctx: ctx, cancel: cancel, opts: opts, log: log, ui: orNewUI(opts.UI)}
	w.build(a)
	if opts.Vault != nil {
		w.buildVaultStep()
		w.showPage(w.vault.checking)
		go w.checkVault()
	} else {
		w.showPage(w.modelPage)
	}
	if opts.Probe != nil {
		w.local.SetText("Looking for a model server on this computer…")
		go w.probe()
	} else {
		w.local.Hide()
	}
	return w
}

func (w *Onboarding) build(a fyne.App) {
	w.win = a.NewWindow("Set Up Genos")
	w.win.SetCloseIntercept(w.win.Hide)

	w.baseURL = widget.NewEntry()
	w.baseURL.SetPlaceHolder("https://api.openai.com/v1")
	w.model = widget.NewSelectEntry(nil)
	w.model.SetPlaceHolder("Model name, e.g. gpt-4.1-mini")
	w.apiKey = widget.NewPasswordEntry()
	w.apiKey.SetPlaceHolder("sk-…")
	w.provider = widget.NewSelect([]string{labelOpenAI, labelAnthropic}, w.providerChanged)

	w.local = widget.NewLabel("")
	w.local.Wrapping = fyne.TextWrapWord
	w.local.Importance = widget.LowImportance
	w.errLabel = widget.NewLabel("")
	w.errLabel.Wrapping = fyne.TextWrapWord
	w.errLabel.Importance = widget.DangerImportance
	w.errLabel.Hide()
	w.progress = widget.NewProgressBarInfinite()
	w.progress.Stop()
	w.progress.Hide()
	w.save = widget.NewButton("Save and Start Chatting", w.submit)
	w.save.Importance = widget.HighImportance

	w.title = newTitle("Welcome to Genos")
	w.step = newCaption("Step 2 of 2")
	w.step.Hide()
	intro := widget.NewLabel("Choose the model Genos should think with. " +
		"A local server (Ollama, LM Studio) needs no key; hosted providers need an API key, which stays on this computer.")
	intro.Wrapping = fyne.TextWrapWord

	form := widget.NewForm(
		&widget.FormItem{Text: "Provider", Widget: w.provider},
		&widget.FormItem{Text: "Base URL", Widget: w.baseURL, HintText: "Where the model server answers"},
		&widget.FormItem{Text: "Model", Widget: w.model},
		&widget.FormItem{Text: "API key", Widget: w.apiKey, HintText: "Optional for servers on this computer or network"},
	)
	w.modelPage = container.NewVBox(w.step, w.title, intro, w.local, form, w.errLabel, w.progress,
		container.NewHBox(layout.NewSpacer(), w.save))
	w.provider.SetSelected(labelOpenAI)
}

// Show shows the window.
func (w *Onboarding) Show() {
	w.win.Show()
	w.win.RequestFocus()
}

// Window returns the underlying Fyne window.
func (w *Onboarding) Window() fyne.Window { return w.win }

// Close destroys the window. Call it on the UI goroutine.
func (w *Onboarding) Close() {
	w.cancel()
	w.win.Close()
}

func (w *Onboarding) providerID() string {
	if w.provider.Selected == labelAnthropic {
		return ProviderAnthropic
	}
	return ProviderOpenAI
}

// providerChanged prefills the base URL and model suggestions for the new
// provider, unless the user typed their own URL.
func (w *Onboarding) providerChanged(string) {
	cur := strings.TrimRight(strings.TrimSpace(w.baseURL.Text), "/")
	untouched := cur == "" || cur == DefaultOpenAIURL || cur == DefaultAnthropicURL ||
		(w.found != nil && cur == strings.TrimRight(w.found.BaseURL, "/"))
	switch w.providerID() {
	case ProviderAnthropic:
		if untouched {
			w.baseURL.SetText(DefaultAnthropicURL)
		}
		w.setModelOptions(suggestedAnthropic)
		w.apiKey.SetPlaceHolder("sk-ant-…")
	default:
		if w.found != nil {
			if untouched {
				w.baseURL.SetText(w.found.BaseURL)
			}
			w.setModelOptions(w.found.Models)
		} else {
			if untouched {
				w.baseURL.SetText(DefaultOpenAIURL)
			}
			w.setModelOptions(suggestedOpenAI)
		}
		w.apiKey.SetPlaceHolder("sk-… (not needed for a local server)")
	}
}

func (w *Onboarding) setModelOptions(opts []string) {
	w.options = opts
	w.model.SetOptions(opts)
}

func (w *Onboarding) probe() {
	ctx, cancel := context.WithTimeout(w.ctx, probeTimeout)
	defer cancel()
	srv, ok := w.opts.Probe(ctx)
	w.ui.post(w.ctx, func() {
		if !ok || strings.TrimSpace(srv.BaseURL) == "" {
			w.local.SetText("No model server found on this computer. Enter a provider below.")
			w.fit()
			return
		}
		w.found = &srv
		w.local.Importance = widget.SuccessImportance
		n := len(srv.Models)
		w.local.SetText(fmt.Sprintf("Found a model server on this computer at %s with %d model%s. It is selected below.",
			srv.BaseURL, n, plural(n)))
		w.provider.SetSelected(labelOpenAI)
		w.providerChanged(labelOpenAI)
		if w.model.Text == "" && n > 0 {
			w.model.SetText(srv.Models[0])
		}
		w.fit()
	})
}

func (w *Onboarding) setup() Setup {
	return Setup{Provider: w.providerID(), BaseURL: w.baseURL.Text, Model: w.model.Text, APIKey: w.apiKey.Text}.normalize()
}

func (w *Onboarding) showError(msg string) {
	w.errLabel.SetText(msg)
	w.errLabel.Show()
	w.fit()
}

// fit lays the form out again and grows the window when a label's new text
// needs more lines: Fyne re-lays out neither for a changed label text, so
// the text would be clipped.
func (w *Onboarding) fit() { fitWindow(w.win) }

// fitWindow lays win's content out again and grows the window when it needs
// more room than it has.
func fitWindow(win fyne.Window) {
	c := win.Content()
	c.Refresh()
	size, need := win.Canvas().Size(), c.MinSize()
	if need.Width > size.Width || need.Height > size.Height {
		win.Resize(need.Max(size))
	}
}

func (w *Onboarding) submit() {
	s := w.setup()
	if err := s.validate(); err != nil {
		w.showError(err.Error())
		return
	}
	w.errLabel.Hide()
	w.setBusy(true)
	go func() {
		ctx, cancel := context.WithTimeout(w.ctx, saveTimeout)
		defer cancel()
		err := w.opts.Save(ctx, s)
		w.ui.post(w.ctx, func() {
			w.setBusy(false)
			if err != nil {
				w.log.Warn("save setup", "provider", s.Provider, "err", err)
				w.showError("Genos could not use this setup. Check the fields and try again.\nDetails: " + err.Error())
				return
			}
			w.apiKey.SetText("") // do not keep the key in the UI longer than needed
			w.win.Hide()
			if w.opts.OnDone != nil {
				w.opts.OnDone()
			}
		})
	}()
}

func (w *Onboarding) setBusy(busy bool) {
	for _, d := range []fyne.Disableable{w.provider, w.baseURL, w.model, w.apiKey, w.save} {
		if busy {
			d.Disable()
		} else {
			d.Enable()
		}
	}
	if busy {
		w.progress.Show()
		w.progress.Start()
	} else {
		w.progress.Stop()
		w.progress.Hide()
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
