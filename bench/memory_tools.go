package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/genos-project/genos/core/tools"
)

// The token-accounting scenarios: a realistic tool list (the built-in
// tools, the memory tools, and the tools an assistant like Genos grows
// into, defined here with real descriptions and schemas) and fixed
// messages, each with the tools a model would plausibly need for it.

// toolScenario is one inbound message and the tools it needs.
type toolScenario struct {
	message string
	needs   []string
}

// toolScenarios are the fixed messages of the token rows.
var toolScenarios = []toolScenario{
	{"Can you check the weather in Lisbon for this weekend and tell me if I need an umbrella?", []string{"weather"}},
	{"Remind me every Monday at 8 to put the bins out.", []string{"cron_add"}},
	{"Send an email to Gerrit asking when the cupboard door and the silicone joint will be fixed.", []string{"email_send"}},
	{"What's on my calendar tomorrow afternoon?", []string{"calendar_list"}},
	{"Open notes/atlas-report.md and shorten it to five bullet points in a new file.", []string{"read", "write"}},
	{"Fetch https://heron-utrecht.nl/menu and tell me whether they still have the celeriac dish.", []string{"web_fetch"}},
	{"Tell the session I have with Tomás on Telegram that dinner is at seven.", []string{"sessions_send"}},
	{"Read me the packing list for Lagos out loud, I'm driving.", []string{"tts_speak", "memory_search"}},
	{"What's in this photo I just sent you? Is that a lipoma on Pepper's shoulder?", []string{"image_describe"}},
	{"Run the tests in the project folder and tell me what failed.", []string{"exec"}},
	{"What did my cardiologist say about running?", []string{"memory_search"}},
	{"Put the dentist on 10 September at 08:30 in my calendar and remind me the evening before.", []string{"calendar_add", "cron_add"}},
	{"Remember that Ada's swimming training moved to Thursdays.", []string{"memory_write"}},
	{"Find out when the Singelloop registration opens this year.", []string{"web_search"}},
}

// futureTool is a tool Genos does not ship yet but a personal assistant
// offers (GenosOS and OpenClaw do); only its spec matters here.
type futureTool struct {
	name, description string
	schema            string
	category          tools.Category
	examples          []string
}

// futureTools makes the tool list as long as a real assistant's.
var futureTools = []futureTool{
	{"web_search", "Search the web and return the top results (title, URL, snippet). Use for current events, opening hours, prices, anything not in memory or the workspace.",
		`{"type":"object","properties":{"query":{"type":"string","description":"Search terms."},"count":{"type":"integer","minimum":1,"maximum":10,"description":"Number of results (default 5)."},"freshness":{"type":"string","enum":["day","week","month","any"],"description":"Only results this recent."}},"required":["query"],"additionalProperties":false}`, tools.CategoryNetwork,
		[]string{"look up the opening hours of the museum", "search the news about the train strike", "find reviews of this restaurant"}},
	{"web_fetch", "Fetch a web page or file by URL and return its readable text (HTML converted to Markdown). Use when the user gives a link or a search result needs reading in full.",
		`{"type":"object","properties":{"url":{"type":"string","description":"http or https URL."},"max_chars":{"type":"integer","minimum":100,"maximum":200000,"description":"Truncate the text after this many characters (default 20000)."}},"required":["url"],"additionalProperties":false}`, tools.CategoryNetwork,
		[]string{"read this article for me", "summarise the page at this link", "what does this URL say"}},
	{"weather", "Current weather and a forecast of up to 7 days for a place: temperature, rain probability, wind. Use for questions about the weather or what to wear.",
		`{"type":"object","properties":{"location":{"type":"string","description":"City or place name, or lat,lon."},"days":{"type":"integer","minimum":1,"maximum":7,"description":"Forecast days (default 3)."}},"required":["location"],"additionalProperties":false}`, tools.CategoryNetwork,
		[]string{"will it rain tomorrow", "how cold is it in Manchester", "do I need a coat this weekend"}},
	{"calendar_list", "List the user's calendar events in a time range, with title, time, place and attendees.",
		`{"type":"object","properties":{"from":{"type":"string","format":"date-time","description":"Start of the range (ISO 8601)."},"to":{"type":"string","format":"date-time","description":"End of the range (ISO 8601)."},"calendar":{"type":"string","description":"Calendar name; default all."}},"required":["from","to"],"additionalProperties":false}`, tools.CategoryRead,
		[]string{"what do I have on Friday", "am I free on Tuesday evening", "show my appointments next week"}},
	{"calendar_add", "Create an event in the user's calendar. Confirm the date and time with the user when they are ambiguous.",
		`{"type":"object","properties":{"title":{"type":"string"},"start":{"type":"string","format":"date-time"},"end":{"type":"string","format":"date-time"},"location":{"type":"string"},"notes":{"type":"string"},"calendar":{"type":"string","description":"Calendar name; default the primary one."}},"required":["title","start"],"additionalProperties":false}`, tools.CategoryWrite,
		[]string{"put lunch with Ines on Thursday at noon in my agenda", "book the meeting in my calendar", "add the flight to my schedule"}},
	{"email_send", "Send an email from the user's account. Always show the draft to the user and send only after they approve it.",
		`{"type":"object","properties":{"to":{"type":"array","items":{"type":"string","format":"email"},"minItems":1},"cc":{"type":"array","items":{"type":"string","format":"email"}},"subject":{"type":"string"},"body":{"type":"string","description":"Plain text body."},"reply_to_id":{"type":"string","description":"Message id when replying."}},"required":["to","subject","body"],"additionalProperties":false}`, tools.CategoryMessaging,
		[]string{"email the landlord about the leak", "reply to Priya that I agree", "write to the school that Ada is ill"}},
	{"email_search", "Search the user's mailbox and return matching messages (sender, subject, date, snippet, id).",
		`{"type":"object","properties":{"query":{"type":"string","description":"Words, from:, to:, subject:, before:, after: filters."},"limit":{"type":"integer","minimum":1,"maximum":50}},"required":["query"],"additionalProperties":false}`, tools.CategoryRead,
		[]string{"find the email with the booking confirmation", "did the accountant write back", "look for the invoice from the plumber"}},
	{"sessions_send", "Send a message into another of the user's chat sessions (another channel or agent), for example to tell a contact on Telegram something on the user's behalf.",
		`{"type":"object","properties":{"session":{"type":"string","description":"Session key or contact name."},"text":{"type":"string"}},"required":["session","text"],"additionalProperties":false}`, tools.CategorySessions,
		[]string{"tell Tomás on Telegram I am running late", "message my other chat that the file is ready", "forward this to the family session"}},
	{"sessions_list", "List the user's recent chat sessions across channels with their last activity, to find one to read or write to.",
		`{"type":"object","properties":{"channel":{"type":"string","description":"Only this channel, e.g. telegram."},"limit":{"type":"integer","minimum":1,"maximum":100}},"additionalProperties":false}`, tools.CategorySessions,
		[]string{"which chats were active today", "show my conversations on WhatsApp", "list my sessions"}},
	{"cron_add", "Schedule a reminder or a recurring task: at a time, or on a cron schedule. The agent runs the prompt at that time and messages the user.",
		`{"type":"object","properties":{"schedule":{"type":"string","description":"ISO 8601 time for once, or a 5-field cron expression."},"prompt":{"type":"string","description":"What to do or say when it fires."},"timezone":{"type":"string","description":"IANA zone; default the user's."}},"required":["schedule","prompt"],"additionalProperties":false}`, tools.CategoryConfig,
		[]string{"remind me to call mum on Sunday", "every morning at 7 send me the agenda", "wake me at 6 tomorrow"}},
	{"cron_list", "List scheduled reminders and recurring tasks with their next run, so the user can review or cancel them.",
		`{"type":"object","properties":{},"additionalProperties":false}`, tools.CategoryRead,
		[]string{"which reminders have I set", "show my scheduled tasks", "what is planned to run tonight"}},
	{"tts_speak", "Speak text aloud to the user with text-to-speech (voice replies in the app or as a voice note on the channel).",
		`{"type":"object","properties":{"text":{"type":"string"},"voice":{"type":"string","description":"Voice name; default the user's choice."},"speed":{"type":"number","minimum":0.5,"maximum":2}},"required":["text"],"additionalProperties":false}`, tools.CategoryMessaging,
		[]string{"say it out loud", "read this to me", "answer with a voice message"}},
	{"image_describe", "Describe an image the user sent or a file in the workspace: objects, text in it, anything unusual. Use for photos, screenshots and scans.",
		`{"type":"object","properties":{"image":{"type":"string","description":"Attachment id or workspace path."},"question":{"type":"string","description":"What to look for."}},"required":["image"],"additionalProperties":false}`, tools.CategoryRead,
		[]string{"what is in this picture", "read the text on this screenshot", "is this mushroom edible from the photo"}},
	{"config_manage", "Read or change Genos settings for this agent: model, channels, tool approvals, memory options.",
		`{"type":"object","properties":{"action":{"type":"string","enum":["get","set"]},"path":{"type":"string","description":"Dotted setting path, e.g. memory.prefetch."},"value":{"description":"New value for set."}},"required":["action","path"],"additionalProperties":false}`, tools.CategoryConfig,
		[]string{"switch the model to a cheaper one", "turn off memory prefetch", "allow the exec tool without asking"}},
}

// benchTools returns the full tool list: builtins, memory tools (mem) and
// the future tools, in that order. Run is never called.
func benchTools(mem []tools.Tool) []tools.Tool {
	out := tools.Builtins(tools.BuiltinOptions{})
	out = append(out, mem...)
	for _, f := range futureTools {
		out = append(out, tools.Tool{
			Name: f.name, Description: f.description, Schema: json.RawMessage(f.schema), Category: f.category, Examples: f.examples,
			Run: func(context.Context, tools.Env, json.RawMessage) (tools.Result, error) {
				return tools.Result{}, errors.New("bench tool: not runnable")
			},
		})
	}
	return out
}

// toolSpecJSON is a tool as an OpenAI-compatible request sends it.
func toolSpecJSON(t tools.Tool) (string, error) {
	b, err := json.Marshal(map[string]any{"type": "function", "function": map[string]any{
		"name": t.Name, "description": t.Description, "parameters": t.Schema,
	}})
	return string(b), err
}

// checkScenarios verifies that every tool a scenario needs is in the list.
func checkScenarios(ts []tools.Tool) error {
	var errs []error
	for _, s := range toolScenarios {
		for _, n := range s.needs {
			if !slices.ContainsFunc(ts, func(t tools.Tool) bool { return t.Name == n }) {
				errs = append(errs, fmt.Errorf("scenario %q needs unknown tool %s", s.message, n))
			}
		}
	}
	return errors.Join(errs...)
}

// names lists tool names.
func names(ts []tools.Tool) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return strings.Join(out, " ")
}
