// Package channels holds what every messaging adapter shares: Markdown
// conversion to each platform's formatting and splitting at its length
// limit (Chunks), classified errors, reconnect backoff, health reporting
// and a watchdog for connections that stop delivering. Adapters live in
// subpackages and import no core package but core/chat.
package channels
