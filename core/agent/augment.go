package agent

import (
	"context"

	"github.com/genos-project/genos/core/tools"
)

// Augmenter prepares the context of one run from the user's message before
// the model is called: the memories relevant to it and the tools worth
// offering. It is called once per run; implementations embed the message at
// most once and use that one vector for both.
type Augmenter interface {
	Augment(ctx context.Context, message string, offered []tools.Tool) (Augmentation, error)
}

// Augmentation is what an Augmenter adds to a run.
type Augmentation struct {
	// Memory is a block for the system prompt (a TOON table of memories),
	// empty when nothing passed the relevance gate.
	Memory string
	// Tools is the subset of the offered tools to send, in their order; nil
	// sends all of them.
	Tools []tools.Tool
	// ToolTokensSaved and MemoryTokens feed the run's usage record.
	ToolTokensSaved int
	MemoryTokens    int
}
