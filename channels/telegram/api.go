package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-telegram/bot"

	"github.com/genos-project/genos/channels"
)

// maxResponseBytes bounds a Bot API reply we read ourselves (a getUpdates
// batch of 100 updates is far below it).
const maxResponseBytes = 32 << 20

// statusKey is the context key under which a call leaves an *atomic.Int32
// for statusClient to record the HTTP status in. The library reports 5xx
// replies only as formatted text, so this is how a 502 from a proxy is told
// apart from a bad request.
type statusKey struct{}

// statusClient is the bot.HttpClient the library uses: the caller's client
// plus status recording.
type statusClient struct{ c *http.Client }

// Do implements bot.HttpClient.
func (s statusClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := s.c.Do(req)
	if rec, ok := req.Context().Value(statusKey{}).(*atomic.Int32); ok && resp != nil {
		rec.Store(int32(resp.StatusCode))
	}
	return resp, err
}

// apiError is a Bot API failure: an {"ok":false,...} reply, or an HTTP error
// status without a readable one.
type apiError struct {
	Method      string
	Code        int // error_code, or the HTTP status
	Description string
	RetryAfter  int // seconds, from parameters.retry_after
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.Method, e.Code, e.Description)
}

// call runs one library method under the adapter's per-call deadline and
// returns its error classified.
func call[T any](ctx context.Context, a *Adapter, op string, f func(context.Context) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, channels.Permanent(op, err)
	}
	var status atomic.Int32
	cctx := context.WithValue(ctx, statusKey{}, &status)
	cctx, cancel := context.WithTimeout(cctx, a.callTimeout)
	defer cancel()
	v, err := f(cctx)
	if err == nil {
		return v, nil
	}
	if ctx.Err() != nil {
		// The caller gave up: not worth retrying (KindOf would say so for
		// a bare context error too; this keeps the op name).
		return v, channels.Permanent(op, a.redact(err))
	}
	return v, a.classify(op, err, int(status.Load()))
}

// classify maps a failed call to a channels error class. Rate limits carry
// retry_after; a rejected request (400, 403 blocked by the user, 401/404 bad
// token) is permanent; server errors, conflicts and network failures are
// temporary.
func (a *Adapter) classify(op string, err error, status int) error {
	err = a.redact(err)
	var tm *bot.TooManyRequestsError
	var ae *apiError
	code := status
	switch {
	case errors.As(err, &tm):
		return channels.RateLimited(op, time.Duration(tm.RetryAfter)*time.Second, err)
	case errors.As(err, &ae):
		if ae.Code == http.StatusTooManyRequests {
			return channels.RateLimited(op, time.Duration(ae.RetryAfter)*time.Second, err)
		}
		code = ae.Code
	case bot.IsMigrateError(err), errors.Is(err, bot.ErrorBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, bot.ErrorUnauthorized):
		code = http.StatusUnauthorized
	case errors.Is(err, bot.ErrorForbidden):
		code = http.StatusForbidden
	case errors.Is(err, bot.ErrorNotFound):
		code = http.StatusNotFound
	case errors.Is(err, bot.ErrorConflict):
		code = http.StatusConflict
	}
	switch {
	case code == http.StatusTooManyRequests:
		return channels.RateLimited(op, 0, err)
	case code == http.StatusBadRequest, code == http.StatusUnauthorized,
		code == http.StatusForbidden, code == http.StatusNotFound:
		return channels.Permanent(op, err)
	case code >= 500:
		return channels.Temporary(op, &statusError{code: code, err: err})
	default: // 409, network errors, undecodable replies
		return channels.Temporary(op, err)
	}
}

// statusError remembers the HTTP status of a server error the library
// reported only as text, so health reasons can name it.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// statusOf returns the Bot API or HTTP code behind a classified error, or 0
// for a network error.
func statusOf(err error) int {
	var ae *apiError
	var se *statusError
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, bot.ErrorUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, bot.ErrorNotFound):
		return http.StatusNotFound
	case errors.Is(err, bot.ErrorConflict):
		return http.StatusConflict
	case errors.Is(err, bot.ErrorForbidden):
		return http.StatusForbidden
	case errors.Is(err, bot.ErrorBadRequest):
		return http.StatusBadRequest
	}
	return 0
}

// describes reports whether err carries a Bot API description containing
// substr (case-insensitive), such as "can't parse entities".
func describes(err error, substr string) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), substr)
}

// redactedError hides the bot token in an error's text; the token is part of
// every Bot API URL, so any net/url error would otherwise carry it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err with the token replaced wherever its text shows it.
func (a *Adapter) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), a.token) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, a.token, "<token>")
		if !strings.Contains(err.Error(), a.token) {
			return err
		}
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), a.token, "<token>"), err: err}
}

// rawCall posts params as JSON to a Bot API method and decodes the result
// into dest. Used for getUpdates, whose offset handling the library hides.
func (a *Adapter) rawCall(ctx context.Context, method string, params, dest any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.apiURL+"/bot"+a.token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return a.redact(fmt.Errorf("build %s request: %w", method, err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return a.redact(fmt.Errorf("%s: %w", method, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return a.redact(fmt.Errorf("read %s response: %w", method, err))
	}
	var r struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		if resp.StatusCode != http.StatusOK {
			return &apiError{Method: method, Code: resp.StatusCode, Description: http.StatusText(resp.StatusCode)}
		}
		return fmt.Errorf("decode %s response: %w", method, err)
	}
	if !r.OK {
		code := r.ErrorCode
		if code == 0 {
			code = resp.StatusCode
		}
		return &apiError{Method: method, Code: code, Description: r.Description, RetryAfter: r.Parameters.RetryAfter}
	}
	if dest != nil {
		if err := json.Unmarshal(r.Result, dest); err != nil {
			return fmt.Errorf("decode %s result: %w", method, err)
		}
	}
	return nil
}

// errTooLarge reports a file over the download cap.
var errTooLarge = errors.New("file too large")

// download fetches a file by its getFile path, reading at most max bytes.
func (a *Adapter) download(ctx context.Context, filePath string, limit int64) ([]byte, error) {
	if filePath == "" || strings.HasPrefix(filePath, "/") || strings.Contains(filePath, "\\") {
		return nil, channels.Permanent("download file", fmt.Errorf("unusable file path %q", filePath))
	}
	segs := strings.Split(filePath, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, channels.Permanent("download file", fmt.Errorf("unusable file path %q", filePath))
		}
		segs[i] = url.PathEscape(s)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*a.callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.apiURL+"/file/bot"+a.token+"/"+strings.Join(segs, "/"), nil)
	if err != nil {
		return nil, channels.Permanent("download file", a.redact(err))
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, channels.Temporary("download file", a.redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, a.classify("download file", &apiError{Method: "file download", Code: resp.StatusCode, Description: http.StatusText(resp.StatusCode)}, resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, channels.Temporary("download file", a.redact(err))
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}
