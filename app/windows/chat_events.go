package windows

import (
	"encoding/json"
	"strings"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/genos-project/genos/core/api"
)

// maxFinished bounds the memory of ended runs kept to recognise a late
// chat.send answer.
const maxFinished = 256

// onEvent applies one gateway event to the window. It runs on the UI thread.
func (w *Chat) onEvent(f api.Frame) {
	// Decide before the content grows whether to keep the end in view.
	if w.atBottom() {
		defer w.scroll.ScrollToBottom()
	}
	switch f.Event {
	case api.EventChat:
		var ev api.ChatEvent
		if err := json.Unmarshal(f.Payload, &ev); err != nil {
			w.log.Warn("bad chat event", "err", err)
			return
		}
		if ev.SessionKey == w.opts.SessionKey {
			w.onChat(ev)
			w.reflow()
		}
	case api.EventAgent:
		var ev api.AgentEvent
		if err := json.Unmarshal(f.Payload, &ev); err != nil {
			w.log.Warn("bad agent event", "err", err)
			return
		}
		if ev.SessionKey == w.opts.SessionKey {
			w.onAgent(ev)
			w.reflow()
		}
	case api.EventApprovalRequested:
		var a api.Approval
		if err := json.Unmarshal(f.Payload, &a); err != nil {
			w.log.Warn("bad approval event", "err", err)
			return
		}
		if a.SessionKey == w.opts.SessionKey {
			w.onApprovalRequested(a)
		}
	case api.EventApprovalResolved:
		var ev api.ApprovalResolvedEvent
		if err := json.Unmarshal(f.Payload, &ev); err != nil {
			w.log.Warn("bad approval event", "err", err)
			return
		}
		w.onApprovalResolved(ev)
		w.reflow()
	}
}

// reflow lays the transcript out again after a row changed height in place
// (streamed text, a line's new state). Fyne does not pass a child's new
// minimum size up to its containers, and refreshing the scroll would redraw
// every row.
func (w *Chat) reflow() {
	content := w.scroll.Content
	content.Resize(content.MinSize().Max(w.scroll.Size()))
	w.list.Layout.Layout(w.list.Objects, w.list.Size())
}

func (w *Chat) onChat(ev api.ChatEvent) {
	switch ev.State {
	case api.ChatDelta:
		w.markActive(ev.RunID)
		seg := w.segment(ev.RunID)
		seg.setMarkdown(seg.raw + ev.Delta)
	case api.ChatFinal:
		text := ""
		if ev.Message != nil {
			text = ev.Message.Content
		}
		seg, streaming := w.segments[ev.RunID]
		switch {
		case streaming && strings.TrimSpace(text) != "":
			seg.setMarkdown(text) // the final message is authoritative
		case !streaming && strings.TrimSpace(text) != "":
			seg = newAssistantItem(w.app, text, messageTime(ev))
			seg.run = ev.RunID
			w.appendLive(seg)
		}
		if ev.Message != nil {
			for _, tc := range ev.Message.ToolCalls {
				w.appendLive(newLineItem(itemTool, toolLine(tc.Name, tc.Arguments, ""), nil))
			}
		}
		w.finish(ev.RunID)
	case api.ChatAborted:
		w.dropEmptySegment(ev.RunID)
		it := newLineItem(itemNotice, stoppedText(ev.ErrorMessage), nil)
		it.run = ev.RunID
		w.appendLive(it)
		w.finish(ev.RunID)
	case api.ChatError:
		w.dropEmptySegment(ev.RunID)
		msg := strings.TrimSpace(ev.ErrorMessage)
		if msg == "" {
			msg = "The reply failed for an unknown reason."
		}
		w.appendLive(newErrorItem(msg))
		w.finish(ev.RunID)
	default:
		w.log.Debug("unknown chat event state", "state", ev.State)
	}
}

// messageTime is when the final message was written, or now when the event
// carries none.
func messageTime(ev api.ChatEvent) time.Time {
	if ev.Message != nil && !ev.Message.Time.IsZero() {
		return ev.Message.Time
	}
	return time.Now()
}

// segment returns the assistant row currently streaming for run, starting a
// new one when the run has none (at its start, or after a tool call).
func (w *Chat) segment(run string) *item {
	if seg, ok := w.segments[run]; ok {
		return seg
	}
	seg := newAssistantItem(w.app, "", time.Now())
	seg.run = run
	w.segments[run] = seg
	w.appendLive(seg)
	return seg
}

// dropEmptySegment removes a streaming row that never received text, so a
// failed or stopped run does not leave an empty bubble behind.
func (w *Chat) dropEmptySegment(run string) {
	seg, ok := w.segments[run]
	if !ok || strings.TrimSpace(seg.raw) != "" {
		return
	}
	delete(w.segments, run)
	w.removeRow(seg)
}

func (w *Chat) removeRow(it *item) {
	w.list.Remove(it.root)
	for i, x := range w.items {
		if x == it {
			w.items = append(w.items[:i], w.items[i+1:]...)
			break
		}
	}
	for i, x := range w.live {
		if x == it {
			w.live = append(w.live[:i], w.live[i+1:]...)
			break
		}
	}
}

func (w *Chat) markActive(run string) {
	if run == "" || w.finished[run] || w.active[run] {
		return
	}
	w.active[run] = true
	w.updateRunState()
}

// finish ends a run: no more streaming into its row, Stop off when nothing
// else runs.
func (w *Chat) finish(run string) {
	delete(w.segments, run)
	delete(w.active, run)
	if len(w.finished) >= maxFinished {
		clear(w.finished)
	}
	w.finished[run] = true
	for id, it := range w.tools {
		if it.run == run {
			delete(w.tools, id)
			delete(w.toolArgs, id)
		}
	}
	w.updateRunState()
}

func (w *Chat) onAgent(ev api.AgentEvent) {
	w.markActive(ev.RunID)
	switch ev.Phase {
	case api.ToolStart:
		// Text after the tool call belongs below its activity line.
		delete(w.segments, ev.RunID)
		w.toolArgs[ev.ToolCallID] = ev.Args
		it := newLineItem(itemTool, toolLine(ev.Tool, ev.Args, "running"), nil)
		it.run = ev.RunID
		if ev.ToolCallID != "" {
			w.tools[ev.ToolCallID] = it
		}
		w.appendLive(it)
	case api.ToolEnd:
		state := "done"
		if ev.IsError {
			state = "failed"
		}
		args := ev.Args
		if len(args) == 0 {
			args = w.toolArgs[ev.ToolCallID]
		}
		text := toolLine(ev.Tool, args, state)
		if it, ok := w.tools[ev.ToolCallID]; ok {
			it.setLine(text)
		} else {
			it := newLineItem(itemTool, text, nil)
			it.run = ev.RunID
			w.appendLive(it)
		}
	}
}

func (w *Chat) onApprovalRequested(a api.Approval) {
	if _, ok := w.waits[a.ID]; ok {
		return
	}
	var btn *widget.Button
	if w.opts.OnOpenApprovals != nil {
		btn = widget.NewButton("Review…", w.opts.OnOpenApprovals)
	}
	it := newLineItem(itemNotice, "⏸ Waiting for your approval to run "+a.Tool+".", btn)
	it.run = a.RunID
	w.waits[a.ID] = it
	w.appendLive(it)
}

func (w *Chat) onApprovalResolved(ev api.ApprovalResolvedEvent) {
	it, ok := w.waits[ev.ID]
	if !ok {
		return
	}
	delete(w.waits, ev.ID)
	var text string
	switch ev.Decision {
	case api.DecisionAllowOnce, api.DecisionAllowAlways:
		text = "✓ Approved " + ev.Tool + "."
	case api.DecisionTimeout:
		text = "✗ The approval for " + ev.Tool + " timed out."
	default:
		text = "✗ Denied " + ev.Tool + "."
	}
	it.setLine(text)
	if it.action != nil {
		it.action.Hide()
	}
}
