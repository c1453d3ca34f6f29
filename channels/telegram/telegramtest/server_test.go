package telegramtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-telegram/bot/models"
	"github.com/google/go-cmp/cmp"
)

// answer is a decoded Bot API reply.
type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// post calls method with JSON params and returns the HTTP status and the
// decoded answer (zero when the body is not JSON).
func post(t *testing.T, s *Server, token, method string, params any) (int, answer, error) {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.URL()+"/bot"+token+"/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, answer{}, err
	}
	defer resp.Body.Close()
	var a answer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a, nil
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, mode string
		limit            int
		want             string // visible text
		err              string // substring of the error; "" means valid
	}{
		{"plain", "a < b & c", "", 10, "a < b & c", ""},
		{"html", `<b>bold</b> &amp; <a href="https://x.org">link</a>`, "HTML", 100, "bold & link", ""},
		{"nested", "<b><i>x</i></b>", "HTML", 10, "x", ""},
		{"numeric entity", "&#60;tag&#62;", "HTML", 10, "<tag>", ""},
		{"bare less-than", "a < b", "HTML", 10, "", "unclosed start tag"},
		{"bare greater-than", "a > b", "HTML", 10, "", "unexpected >"},
		{"bare ampersand", "fish & chips", "HTML", 20, "", "character entity expected"},
		{"unknown entity", "&bogus;", "HTML", 10, "", "unsupported entity"},
		{"unsupported tag", "<div>x</div>", "HTML", 10, "", `unsupported start tag "div"`},
		{"misnested", "<b><i>x</b></i>", "HTML", 10, "", "can't find end tag"},
		{"unclosed", "<b>x", "HTML", 10, "", "can't find end tag"},
		{"markdown mode", "*x*", "MarkdownV2", 10, "", "unsupported parse_mode"},
		{"blank", "<b> </b>", "HTML", 10, "", "message text is empty"},
		{"tags do not count", "<b>" + strings.Repeat("x", 10) + "</b>", "HTML", 10, strings.Repeat("x", 10), ""},
		{"utf-16 units", strings.Repeat("😀", 6), "", 11, "", "message is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CheckText(tt.text, tt.mode, tt.limit)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "Bad Request: ") {
					t.Fatalf("CheckText = %q, %v; want a Bad Request error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CheckText = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestLongPollAndOffsets(t *testing.T) {
	t.Parallel()
	s := New(t)
	// A poll with nothing queued is held until an update arrives.
	type polled struct {
		code int
		a    answer
		err  error
	}
	got := make(chan polled, 1)
	go func() {
		code, a, err := post(t, s, Token, "getUpdates", map[string]any{"offset": 0, "timeout": 30})
		got <- polled{code, a, err}
	}()
	s.WaitFor("the poll to arrive", func() bool { return s.Polls() == 1 })
	id := s.Queue(&models.Message{ID: 1, Chat: models.Chat{ID: 5, Type: models.ChatTypePrivate}, Text: "hi"})
	p := <-got
	if p.err != nil || p.code != http.StatusOK || !p.a.OK {
		t.Fatalf("poll = %d %+v %v", p.code, p.a, p.err)
	}
	var ups []models.Update
	if err := json.Unmarshal(p.a.Result, &ups); err != nil || len(ups) != 1 || ups[0].ID != id || ups[0].Message.Text != "hi" {
		t.Fatalf("updates = %+v, %v; want update %d", ups, err, id)
	}
	// Not confirmed yet: a poll without the next offset gets it again.
	if s.Pending() != 1 {
		t.Fatalf("pending = %d before confirmation, want 1", s.Pending())
	}
	if _, a, err := post(t, s, Token, "getUpdates", map[string]any{"offset": id + 1, "timeout": 1}); err != nil || !a.OK || string(a.Result) != "[]" {
		t.Fatalf("confirming poll = %+v, %v; want an empty result after the timeout", a, err)
	}
	if s.Pending() != 0 {
		t.Fatalf("pending = %d after confirmation, want 0", s.Pending())
	}
}

func TestFaultsAndErrors(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.Inject("sendMessage", Fault{Code: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7})
	s.Inject("sendMessage", Fault{RawStatus: 502})
	s.Inject("sendMessage", Fault{Drop: true})
	msg := map[string]any{"chat_id": 42, "text": "hello"}

	code, a, err := post(t, s, Token, "sendMessage", msg)
	if err != nil || code != 429 || a.OK || a.ErrorCode != 429 || a.Parameters == nil || a.Parameters.RetryAfter != 7 {
		t.Fatalf("rate limit = %d %+v %v", code, a, err)
	}
	if code, _, err := post(t, s, Token, "sendMessage", msg); err != nil || code != 502 {
		t.Fatalf("proxy page = %d %v", code, err)
	}
	if _, _, err := post(t, s, Token, "sendMessage", msg); err == nil {
		t.Fatal("dropped connection answered")
	}
	if code, a, err := post(t, s, Token, "sendMessage", msg); err != nil || code != 200 || !a.OK {
		t.Fatalf("after the faults = %d %+v %v", code, a, err)
	}
	if code, a, _ := post(t, s, "1:wrong", "getMe", nil); code != 401 || a.ErrorCode != 401 {
		t.Fatalf("wrong token = %d %+v", code, a)
	}
	if code, a, _ := post(t, s, Token, "sendMessage", map[string]any{"chat_id": 42, "text": "<x>", "parse_mode": "HTML"}); code != 400 || !strings.Contains(a.Description, "can't parse entities") {
		t.Fatalf("bad HTML = %d %+v", code, a)
	}
	var codes []int
	for _, c := range s.Calls("sendMessage") {
		codes = append(codes, c.Code)
	}
	if diff := cmp.Diff([]int{429, -1, -1, 0}, codes[:4]); diff != "" {
		t.Errorf("recorded codes (-want +got):\n%s", diff)
	}
	if n := len(s.OKCalls("sendMessage")); n != 1 {
		t.Errorf("%d successful sends, want 1", n)
	}
}

func TestEditsAndSent(t *testing.T) {
	t.Parallel()
	s := New(t)
	_, a, err := post(t, s, Token, "sendMessage", map[string]any{"chat_id": -100, "text": "<b>draft</b>", "parse_mode": "HTML"})
	if err != nil || !a.OK {
		t.Fatalf("send = %+v, %v", a, err)
	}
	var m models.Message
	if err := json.Unmarshal(a.Result, &m); err != nil {
		t.Fatal(err)
	}
	edit := map[string]any{"chat_id": -100, "message_id": m.ID, "text": "final &amp; done", "parse_mode": "HTML"}
	if _, a, _ := post(t, s, Token, "editMessageText", edit); !a.OK {
		t.Fatalf("edit = %+v", a)
	}
	if _, a, _ := post(t, s, Token, "editMessageText", edit); a.OK || !strings.Contains(a.Description, "not modified") {
		t.Fatalf("identical edit = %+v, want not modified", a)
	}
	edit["message_id"] = m.ID + 100
	if _, a, _ := post(t, s, Token, "editMessageText", edit); a.OK || !strings.Contains(a.Description, "not found") {
		t.Fatalf("edit of a missing message = %+v", a)
	}
	want := []Message{{Chat: -100, ID: m.ID, Text: "final &amp; done", ParseMode: "HTML", Visible: "final & done", Edits: 1}}
	if diff := cmp.Diff(want, s.Sent(-100)); diff != "" {
		t.Errorf("Sent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{-100}, s.Chats()); diff != "" {
		t.Errorf("Chats (-want +got):\n%s", diff)
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AddFile("f1", File{UniqueID: "u1", Path: "documents/a.txt", Size: 3, Data: []byte("abc")})
	_, a, _ := post(t, s, Token, "getFile", map[string]any{"file_id": "f1"})
	var f models.File
	if err := json.Unmarshal(a.Result, &f); err != nil || f.FilePath != "documents/a.txt" || f.FileSize != 3 {
		t.Fatalf("getFile = %+v, %v", f, err)
	}
	resp, err := http.Get(s.URL() + "/file/bot" + Token + "/" + url.PathEscape("documents") + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || b.String() != "abc" {
		t.Fatalf("download = %d %q", resp.StatusCode, b.String())
	}
}
