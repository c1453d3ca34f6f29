package chat

// Attachment is a file that travels with a message.
type Attachment struct {
	Name     string `json:"name"`
	MIME     string `json:"mime"`
	Size     int64  `json:"size"`
	Path     string `json:"path,omitempty"` // where the gateway stored it, sealed
	Data     []byte `json:"-"`
	Caption  string `json:"caption,omitempty"`
	Duration int    `json:"durationMs,omitempty"` // voice notes
}

// Inbound is a message a channel adapter hands to the gateway.
type Inbound struct {
	Channel   string `json:"channel"`
	Account   string `json:"account,omitempty"`
	Peer      string `json:"peer"`
	PeerName  string `json:"peerName,omitempty"` // display name, for the owner's eyes only
	Group     string `json:"group,omitempty"`
	Thread    string `json:"thread,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	Text      string `json:"text"`
	// Mentioned is true when a group message mentions the bot or replies to
	// one of its messages (the adapter decides, it knows the platform).
	Mentioned   bool         `json:"mentioned,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Provenance  Provenance   `json:"provenance"`
}

// Outbound is a reply the gateway asks a channel adapter to deliver.
type Outbound struct {
	Channel     string       `json:"channel"`
	Account     string       `json:"account,omitempty"`
	Peer        string       `json:"peer"`
	Group       string       `json:"group,omitempty"`
	Thread      string       `json:"thread,omitempty"`
	ReplyTo     string       `json:"replyTo,omitempty"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
}
