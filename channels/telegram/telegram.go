// Package telegram is the Telegram channel adapter: it long-polls the Bot API
// for messages, hands them to the gateway as chat.Inbound, and delivers
// replies (split, converted to Telegram HTML, streamed by editing one
// message). It talks to the Bot API through github.com/go-telegram/bot for
// the send methods and does getUpdates itself, because offset tracking is
// what makes delivery at-least-once and the library advances the offset
// before its handlers run.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// Name is the channel's id in config, session keys and provenance.
const Name = "telegram"

// Defaults for the zero values of Options.
const (
	DefaultAPIURL           = "https://api.telegram.org"
	DefaultMaxDownloadBytes = 20 << 20 // the Bot API's own getFile limit
	DefaultEditEvery        = time.Second
	DefaultPollTimeout      = 30 * time.Second
)

// tokenPattern is the shape of a BotFather token: the bot's numeric id, a
// colon and a secret. Checking it up front turns a pasted-wrong token into a
// clear config error instead of a 404 from the API.
var tokenPattern = regexp.MustCompile(`^\d+:[A-Za-z0-9_-]{30,}$`)

// Options configures an Adapter. Only Token is required.
type Options struct {
	// Token is the bot token from @BotFather. It is never logged.
	Token string
	// APIURL is the Bot API base URL; empty means DefaultAPIURL. Tests
	// point it at a loopback server.
	APIURL string
	// HTTPClient makes every request; nil means a client without a global
	// timeout (each call sets its own deadline, long polls included). A
	// client with a Timeout must allow more than PollTimeout.
	HTTPClient *http.Client
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// MaxDownloadBytes caps an inbound file. A larger one is recorded as an
	// attachment without data and "[file too large]" is added to the text.
	// Zero means DefaultMaxDownloadBytes.
	MaxDownloadBytes int64
	// SaveFile, when set, receives each downloaded inbound file and returns
	// where it stored it (the gateway seals it); the attachment then holds
	// Path and no Data. Nil keeps the bytes in chat.Attachment.Data.
	SaveFile func(ctx context.Context, name string, data []byte) (path string, err error)
	// EditEvery is the minimum interval between edits of a streamed reply.
	// Zero means DefaultEditEvery.
	EditEvery time.Duration
	// PollTimeout is the long-poll timeout sent to getUpdates (whole
	// seconds, at least one). Zero means DefaultPollTimeout.
	PollTimeout time.Duration
}

// Adapter is a Telegram bot connection. Create it with New and run it with
// Run; Send, Stream and Typing may be called concurrently with Run.
type Adapter struct {
	token       string
	apiURL      string
	http        *http.Client
	bot         *bot.Bot
	log         *slog.Logger
	maxDownload int64
	saveFile    func(ctx context.Context, name string, data []byte) (string, error)
	editEvery   time.Duration
	pollTimeout time.Duration
	health      *channels.Health

	// Tuning that tests shrink; set only before Run.
	pollGrace   time.Duration // how long past PollTimeout a poll may hang
	callTimeout time.Duration // deadline for one non-poll API call
	backoff     channels.Backoff
	maxWait     time.Duration // longest retry_after Send waits out by itself
	clock       channels.Clock

	running atomic.Bool
}

// New validates opts and returns an Adapter. It makes no network call: Run
// checks the token with getMe.
func New(opts Options) (*Adapter, error) {
	if !tokenPattern.MatchString(opts.Token) {
		return nil, errors.New("telegram: bot token is malformed (expected <bot id>:<secret> from @BotFather)")
	}
	api := strings.TrimRight(opts.APIURL, "/")
	if api == "" {
		api = DefaultAPIURL
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("telegram: api url %q must be an absolute http(s) URL", opts.APIURL)
	}
	if opts.MaxDownloadBytes < 0 || opts.EditEvery < 0 || opts.PollTimeout < 0 {
		return nil, errors.New("telegram: max download bytes, edit interval and poll timeout must not be negative")
	}
	if opts.PollTimeout != 0 && opts.PollTimeout < time.Second {
		return nil, errors.New("telegram: poll timeout must be at least 1s")
	}
	a := &Adapter{
		token:       opts.Token,
		apiURL:      api,
		http:        opts.HTTPClient,
		log:         opts.Logger,
		maxDownload: opts.MaxDownloadBytes,
		saveFile:    opts.SaveFile,
		editEvery:   opts.EditEvery,
		pollTimeout: opts.PollTimeout,
		pollGrace:   15 * time.Second,
		callTimeout: 60 * time.Second,
		backoff:     channels.Backoff{Min: 500 * time.Millisecond, Max: time.Minute},
		maxWait:     time.Minute,
		clock:       channels.SystemClock{},
	}
	if a.http == nil {
		a.http = &http.Client{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("channel", Name)
	if a.maxDownload == 0 {
		a.maxDownload = DefaultMaxDownloadBytes
	}
	if a.editEvery == 0 {
		a.editEvery = DefaultEditEvery
	}
	if a.pollTimeout == 0 {
		a.pollTimeout = DefaultPollTimeout
	}
	if t := a.http.Timeout; t != 0 && t <= a.pollTimeout {
		return nil, fmt.Errorf("telegram: http client timeout %s must exceed the poll timeout %s", t, a.pollTimeout)
	}
	a.health = channels.NewHealth(Name, func() time.Time { return a.clock.Now() })
	b, err := bot.New(opts.Token,
		bot.WithServerURL(api),
		bot.WithHTTPClient(a.pollTimeout, statusClient{a.http}),
		bot.WithSkipGetMe(),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
		bot.WithErrorsHandler(func(err error) {
			a.log.Debug("telegram library error", "err", a.redact(err))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", a.redact(err))
	}
	a.bot = b
	return a, nil
}

// Name returns "telegram".
func (a *Adapter) Name() string { return Name }

// Status reports the adapter's health; Account is "@<bot username>" once
// getMe has succeeded.
func (a *Adapter) Status() chat.ChannelStatus { return a.health.Status() }

// OnStatus registers f to hear every status change (for the tray and
// channels.status events).
func (a *Adapter) OnStatus(f func(chat.ChannelStatus)) { a.health.OnChange(f) }
