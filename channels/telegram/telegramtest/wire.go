package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"
)

// maxBody bounds a request body (the Bot API's own upload limit is 50 MB).
const maxBody = 64 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/file/bot") {
		s.serveFile(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || r.Method != http.MethodPost {
		reply(w, http.StatusNotFound, nil, "Not Found", 0)
		return
	}
	s.mu.Lock()
	want := s.token
	s.mu.Unlock()
	if token != want {
		reply(w, http.StatusUnauthorized, nil, "Unauthorized", 0)
		return
	}
	params, files, err := parseBody(r)
	if err != nil {
		reply(w, http.StatusBadRequest, nil, "Bad Request: "+err.Error(), 0)
		return
	}
	if method == "getUpdates" {
		s.getUpdates(w, r, params)
		return
	}
	if f, ok := s.popFault(method, params); ok {
		s.applyFault(w, r, method, params, f)
		return
	}
	code, desc, result := s.handle(method, params, files)
	s.record(Call{Method: method, Params: params, Files: files, Code: code})
	reply(w, code, result, desc, 0)
}

// applyFault answers a request with f and records the call.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, method string, params map[string]string, f Fault) {
	switch {
	case f.Drop:
		hijackClose(w)
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case f.RawStatus != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.RawStatus)
		io.WriteString(w, "<html><body>bad gateway</body></html>")
	default:
		reply(w, f.Code, nil, f.Description, f.RetryAfter)
	}
	code := f.Code
	if code == 0 {
		code = -1
	}
	s.record(Call{Method: method, Params: params, Code: code})
}

func hijackClose(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// reply writes a Bot API answer: {"ok":true,"result":...} for code 0,
// otherwise the error with the code as HTTP status.
func reply(w http.ResponseWriter, code int, result any, desc string, retryAfter int) {
	w.Header().Set("Content-Type", "application/json")
	body := map[string]any{"ok": code == 0}
	if code == 0 {
		body["result"] = result
	} else {
		w.WriteHeader(code)
		body["error_code"] = code
		body["description"] = desc
		if retryAfter > 0 {
			body["parameters"] = map[string]any{"retry_after": retryAfter}
		}
	}
	json.NewEncoder(w).Encode(body)
}

// parseBody reads JSON, urlencoded or multipart parameters as the Bot API
// does: every value as its text (JSON strings unquoted, others raw).
func parseBody(r *http.Request) (map[string]string, map[string]Upload, error) {
	params := map[string]string{}
	files := map[string]Upload{}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, nil, err
	}
	if len(body) > maxBody {
		return nil, nil, errors.New("request entity too large")
	}
	if len(body) == 0 { // a method without parameters
		return params, files, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, nil, err
		}
		for k, v := range raw {
			var str string
			if json.Unmarshal(v, &str) == nil {
				params[k] = str
			} else {
				params[k] = string(v)
			}
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxBody); err != nil {
			return nil, nil, err
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v[0]
		}
		for k, fhs := range r.MultipartForm.File {
			fh := fhs[0]
			rd, err := fh.Open()
			if err != nil {
				return nil, nil, err
			}
			data, err := io.ReadAll(rd)
			rd.Close()
			if err != nil {
				return nil, nil, err
			}
			files[k] = Upload{Name: fh.Filename, Data: data}
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, nil, err
		}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
	}
	return params, files, nil
}

// getUpdates confirms the updates before offset, then holds the poll until
// an update is ready or the timeout passes.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, params map[string]string) {
	offset, _ := strconv.ParseInt(params["offset"], 10, 64)
	timeout, _ := strconv.Atoi(params["timeout"])
	s.mu.Lock()
	s.polls++
	kept := s.updates[:0]
	for _, u := range s.updates {
		if u.ID >= offset {
			kept = append(kept, u)
		}
	}
	s.updates = kept
	s.notifyLocked()
	s.mu.Unlock()

	f, faulted := s.popFault("getUpdates", params)
	if faulted && !f.Drop {
		s.applyFault(w, r, "getUpdates", params, f)
		return
	}
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ready := append([]models.Update(nil), s.updates...)
		ch := s.changed
		s.mu.Unlock()
		if len(ready) > 0 {
			if faulted { // the connection drops just as updates are ready
				s.applyFault(w, r, "getUpdates", params, f)
				return
			}
			reply(w, 0, ready, "", 0)
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			reply(w, 0, []models.Update{}, "", 0)
			return
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// handle answers the non-polling methods; code 0 means success.
func (s *Server) handle(method string, p map[string]string, files map[string]Upload) (int, string, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "getMe":
		return 0, "", models.User{ID: botIDOf(s.token), IsBot: true, FirstName: "Genos", Username: BotName}
	case "deleteWebhook":
		return 0, "", true
	case "sendChatAction":
		if p["chat_id"] == "" {
			return 400, "Bad Request: chat_id is empty", nil
		}
		return 0, "", true
	case "sendMessage":
		chat, err := strconv.ParseInt(p["chat_id"], 10, 64)
		if err != nil {
			return 400, "Bad Request: chat not found", nil
		}
		visible, err := CheckText(p["text"], p["parse_mode"], MessageLimit)
		if err != nil {
			return 400, err.Error(), nil
		}
		s.nextMsg++
		s.messages[msgKey{chat, s.nextMsg}] = &Message{Chat: chat, ID: s.nextMsg, Text: p["text"], ParseMode: p["parse_mode"],
			Visible: visible, Thread: p["message_thread_id"]}
		return 0, "", models.Message{ID: s.nextMsg, Chat: models.Chat{ID: chat}, Date: 1700000000, Text: visible}
	case "editMessageText":
		chat, _ := strconv.ParseInt(p["chat_id"], 10, 64)
		id, _ := strconv.Atoi(p["message_id"])
		m, ok := s.messages[msgKey{chat, id}]
		if !ok {
			return 400, "Bad Request: message to edit not found", nil
		}
		visible, err := CheckText(p["text"], p["parse_mode"], MessageLimit)
		if err != nil {
			return 400, err.Error(), nil
		}
		if m.Text == p["text"] && m.ParseMode == p["parse_mode"] {
			return 400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", nil
		}
		m.Text, m.ParseMode, m.Visible = p["text"], p["parse_mode"], visible
		m.Edits++
		return 0, "", models.Message{ID: id, Chat: models.Chat{ID: chat}, Date: 1700000000, Text: visible}
	case "sendPhoto", "sendDocument":
		field := map[string]string{"sendPhoto": "photo", "sendDocument": "document"}[method]
		if _, ok := files[field]; !ok {
			return 400, "Bad Request: there is no " + field + " in the request", nil
		}
		if p["caption"] != "" {
			if _, err := CheckText(p["caption"], p["parse_mode"], CaptionLimit); err != nil {
				return 400, strings.Replace(err.Error(), "message is too long", "message caption is too long", 1), nil
			}
		}
		chat, _ := strconv.ParseInt(p["chat_id"], 10, 64)
		s.nextMsg++
		return 0, "", models.Message{ID: s.nextMsg, Chat: models.Chat{ID: chat}, Date: 1700000000}
	case "getFile":
		f, ok := s.files[p["file_id"]]
		if !ok {
			return 400, "Bad Request: invalid file_id", nil
		}
		if f.Size > 20<<20 {
			return 400, "Bad Request: file is too big", nil
		}
		return 0, "", models.File{FileID: p["file_id"], FileUniqueID: f.UniqueID, FileSize: f.Size, FilePath: f.Path}
	}
	return 404, "Not Found: method not found", nil
}

// botIDOf is the numeric bot id at the start of a token.
func botIDOf(token string) int64 {
	id, _ := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	return id
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/file/bot")
	token, path, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != s.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	for _, f := range s.files {
		if f.Path == path {
			w.Write(f.Data)
			return
		}
	}
	http.NotFound(w, r)
}
