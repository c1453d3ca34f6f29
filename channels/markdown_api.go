package channels

// TelegramHTML converts Markdown to Telegram's HTML parse mode: <b>, <i>,
// <s>, <code>, <pre><code class="language-x">, <a href>, <blockquote>;
// headings become bold, list items "• " lines, rules "———". Everything
// else is escaped (&, <, >, and quotes in href). The output is always
// valid for Telegram: balanced tags, only allowed tags, complete entities,
// valid UTF-8, and nesting within Telegram's rules (code is never inside
// another entity, links and code never inside a blockquote; such spans
// degrade to plain text, a link to "text (url)"). Only http, https, mailto
// and tg URLs become links. Unterminated markup is shown as typed.
func TelegramHTML(md string) string { return render(md, flavorTelegram) }

// WhatsAppText converts Markdown to WhatsApp formatting: *bold*, _italic_,
// ~strike~, ```mono``` blocks, `inline` code, "> " quotes; links become
// "text (url)", headings bold, list items "• " lines. WhatsApp has no
// escape syntax, so literal * _ ~ in the text are left as they are.
func WhatsAppText(md string) string { return render(md, flavorWhatsApp) }

// PlainText strips Markdown, for platforms without formatting and as the
// fallback when formatted text is rejected: markers go, code blocks keep
// their code, links become "text (url)", list items "• " lines, quotes
// "> " lines.
func PlainText(md string) string { return render(md, flavorPlain) }
