//! # Stage 4b: chat templates — a conversation becomes one prompt
//!
//! An instruction-tuned model was trained on conversations written in one exact format, and it
//! only behaves if we write ours the same way. The format ships with the model as a Jinja
//! template (`tokenizer_config.json`'s `chat_template`, or GGUF `tokenizer.chat_template`).
//! SmolLM2 uses ChatML:
//!
//! ```text
//! <|im_start|>system\nYou are a helpful AI assistant named SmolLM, …<|im_end|>\n
//! <|im_start|>user\nWhat is the capital of France?<|im_end|>\n
//! <|im_start|>assistant\n            ← add_generation_prompt: the model writes from here,
//!                                      and says it is done with <|im_end|> (a stop token)
//! ```
//!
//! We render the model's own template with `minijinja` and the variables Hugging Face's
//! `apply_chat_template` passes (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`,
//! `raise_exception`, `strftime_now`), plus the Python string methods templates call
//! (`.strip()`, `.startswith()`, …). The rendered text is then encoded with special tokens
//! recognised (`<|im_start|>` → id 1), never through BPE. Reference: transformers
//! `PreTrainedTokenizerBase.apply_chat_template` (it renders, then tokenizes without adding
//! BOS/EOS); checked against it in `tests/chat_template.rs`. A model whose file says prompts
//! start with BOS gets it if the template did not write it (`Tokenizer::with_bos`).
//!
//! A file without a template gets a default by its vocabulary: Gemma's turn format when it has
//! `<start_of_turn>`, ChatML otherwise.
//!
//! ```text
//! <bos><start_of_turn>user\n{system}\n\nWhat is the capital of France?<end_of_turn>\n
//! <start_of_turn>model\n            ← the reply ends with <end_of_turn> (a stop token)
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::tokenizer::Tokenizer;
use crate::{Error, Result};
use minijinja::value::{from_args, Rest, Value, ValueKind};
use minijinja::{context, Environment, ErrorKind};
use serde::Serialize;

mod tojson;

/// One turn of a conversation: `role` is `system`, `user`, `assistant` or `tool` (the result
/// of a tool call, answering the call named by `tool_call_id`). An assistant turn may carry the
/// `tool_calls` it made. Templates see exactly these fields; `tool_call_id` and `tool_calls`
/// only when they are set (`message.tool_calls is defined`).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

/// A call of the function `name` that an assistant turn made; `arguments` is the JSON text
/// of the arguments object, exactly as the model wrote it (OpenAI's wire shape keeps it a
/// string too). Templates see Hugging Face's shape: `{"id", "type": "function",
/// "function": {"name", "arguments": <the parsed object>}}`.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(from = "WireCall")]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A tool call as read from JSON (a conversation file): OpenAI's or Hugging Face's shape,
/// `arguments` a JSON string or an object.
#[derive(serde::Deserialize)]
struct WireCall {
    #[serde(default)]
    id: String,
    function: WireFunction,
}

#[derive(serde::Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Option<serde_json::Value>,
}

impl From<WireCall> for ToolCall {
    fn from(w: WireCall) -> ToolCall {
        let arguments = match w.function.arguments {
            Some(serde_json::Value::String(s)) => s,
            None | Some(serde_json::Value::Null) => "{}".to_string(),
            Some(v) => v.to_string(),
        };
        ToolCall {
            id: w.id,
            name: w.function.name,
            arguments,
        }
    }
}

impl Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // Templates index `arguments` as a mapping (`tool_call.arguments | tojson`): parsed when
        // it is JSON, else the text as it came.
        let args = serde_json::from_str::<serde_json::Value>(&self.arguments)
            .unwrap_or_else(|_| serde_json::Value::String(self.arguments.clone()));
        serde_json::json!({
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": args},
        })
        .serialize(s)
    }
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message {
            role: role.to_string(),
            content: content.to_string(),
            tool_call_id: None,
            tool_calls: Vec::new(),
        }
    }
    pub fn system(content: &str) -> Message {
        Message::new("system", content)
    }
    pub fn user(content: &str) -> Message {
        Message::new("user", content)
    }
    pub fn assistant(content: &str) -> Message {
        Message::new("assistant", content)
    }
    /// The result of the tool call `call_id`.
    pub fn tool(content: &str, call_id: &str) -> Message {
        Message {
            tool_call_id: Some(call_id.to_string()),
            ..Message::new("tool", content)
        }
    }
}

// ANCHOR: bounds
/// A template is a program that came with the model file, so rendering one is bounded, and a
/// hostile template gets an error instead of running for hours or filling memory (with the
/// exceptions below):
///
/// ```text
/// work     10^7 minijinja instructions per render ("fuel"; 0.3-0.4 s when a loop spends it
///          all, release build; ChatML over 2000 messages takes ~10^5)
/// output   16 MiB of prompt text (millions of tokens, past any context window)
/// strings  the Python methods added here (`replace`, …) build at most 16 MiB
/// ```
///
/// Not bounded: what one of minijinja's own operators costs. Fuel counts instructions, not
/// their size, so a template that doubles a string in a loop (`ns.s ~ ns.s`) can still build
/// one of 2^n bytes within its fuel (thirty doublings of 1000 bytes ask for 1 GB: the
/// allocation fails and the process aborts), and an instruction on a long string costs time
/// in proportion (`'z' in s` repeated until the fuel ends: 21 s for a 160 kB `s`, so about 35
/// minutes for 16 MB). minijinja has no hook on its operators; only a process limit
/// (`ulimit -v`, a container) bounds those. Jinja2's sandbox, which `transformers` renders
/// with, bounds neither.
pub const RENDER_FUEL: u64 = 10_000_000;
/// The most bytes one render may produce, and one string method may build.
pub const MAX_RENDER_BYTES: usize = 16 << 20;
// ANCHOR_END: bounds

/// ChatML, for models that ship no template (SmolLM2's own template is this plus a default
/// system prompt).
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// ANCHOR: gemma_template
/// Gemma's turn format, for Gemma files that ship no template: roles `user` and `model`
/// (the assistant), a system prompt folded into the first user turn, each turn's text
/// trimmed, turns alternating (as Google's template and llama.cpp's built-in `gemma` format).
pub const GEMMA_TEMPLATE: &str = "{{ bos_token }}\
{% if messages and messages[0]['role'] == 'system' %}\
{% set first_user_prefix = messages[0]['content'] | trim + '\\n\\n' %}{% set loop_messages = messages[1:] %}\
{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}\
{% for message in loop_messages %}\
{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\
{{ raise_exception('Gemma conversations alternate user/assistant/user/... (after an optional system message)') }}\
{% endif %}\
{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}\
{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\\n' }}\
{% endfor %}\
{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";
// ANCHOR_END: gemma_template

/// A compiled chat template together with the BOS/EOS texts it may refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    reads_tools: bool,
}

// ANCHOR: pycompat
/// Python `str` and `dict` methods that Hugging Face templates call, which Jinja2 has (it runs
/// on Python objects) and minijinja does not.
fn python_methods(
    state: &minijinja::State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> std::result::Result<Value, minijinja::Error> {
    let unknown = || Err(minijinja::Error::from(ErrorKind::UnknownMethod));
    if let Some(s) = value.as_str() {
        let (a, b): (Option<&str>, Option<&str>) = match method {
            "replace" | "split" | "strip" | "lstrip" | "rstrip" | "startswith" | "endswith" => {
                from_args(args)?
            }
            _ => {
                let _: () = from_args(args)?;
                (None, None)
            }
        };
        let chars =
            |c: Option<&str>| -> Vec<char> { c.map(|c| c.chars().collect()).unwrap_or_default() };
        let out = match method {
            "strip" if a.is_some() => Value::from(s.trim_matches(&chars(a)[..])),
            "lstrip" if a.is_some() => Value::from(s.trim_start_matches(&chars(a)[..])),
            "rstrip" if a.is_some() => Value::from(s.trim_end_matches(&chars(a)[..])),
            "strip" => Value::from(s.trim()),
            "lstrip" => Value::from(s.trim_start()),
            "rstrip" => Value::from(s.trim_end()),
            "upper" => Value::from(s.to_uppercase()),
            "lower" => Value::from(s.to_lowercase()),
            "startswith" => Value::from(s.starts_with(a.unwrap_or(""))),
            "endswith" => Value::from(s.ends_with(a.unwrap_or(""))),
            "replace" => {
                let (from, to) = (a.unwrap_or(""), b.unwrap_or(""));
                // an empty `from` matches at every char boundary, as Python's does
                let hits = if from.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.matches(from).count()
                };
                if s.len() + hits.saturating_mul(to.len()) > MAX_RENDER_BYTES {
                    return Err(minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "`replace` would build a string over {} MiB",
                            MAX_RENDER_BYTES >> 20
                        ),
                    ));
                }
                Value::from(s.replace(from, to))
            }
            "split" => match a {
                Some(sep) => Value::from(s.split(sep).map(Value::from).collect::<Vec<_>>()),
                None => Value::from(s.split_whitespace().map(Value::from).collect::<Vec<_>>()),
            },
            "title" | "capitalize" => state.apply_filter(method, std::slice::from_ref(value))?,
            _ => return unknown(),
        };
        return Ok(out);
    }
    if value.kind() == ValueKind::Map {
        match method {
            "items" => {
                let _: () = from_args(args)?;
                return state.apply_filter("items", std::slice::from_ref(value));
            }
            "keys" | "values" => {
                let _: () = from_args(args)?;
                let keys: Vec<Value> = value.try_iter()?.collect();
                if method == "keys" {
                    return Ok(Value::from(keys));
                }
                let vals: std::result::Result<Vec<Value>, _> =
                    keys.iter().map(|k| value.get_item(k)).collect();
                return Ok(Value::from(vals?));
            }
            "get" => {
                let (key, default): (Value, Rest<Value>) = from_args(args)?;
                let v = value.get_item(&key)?;
                return Ok(if v.is_undefined() {
                    default.first().cloned().unwrap_or(Value::from(()))
                } else {
                    v
                });
            }
            _ => {}
        }
    }
    unknown()
}
// ANCHOR_END: pycompat

impl ChatTemplate {
    /// Compile `source`. `bos_token`/`eos_token` are the texts the template may print.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        env.set_fuel(Some(RENDER_FUEL));
        // no debug info on errors (minijinja's source excerpt can panic: see `render_error`)
        env.set_debug(false);
        // Hugging Face renders with trim_blocks and lstrip_blocks on.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(python_methods);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        // `strftime_now("%d %b %Y")` (Llama 3.x): without a date crate, only the formats those
        // templates use are supported, from the system clock (UTC).
        env.add_function("strftime_now", |fmt: String| {
            Value::from(strftime_now(&fmt))
        });
        // Hugging Face's `tojson` is Python's `json.dumps` (no HTML escaping, `", "` and `": "`)
        env.add_filter("tojson", tojson::filter);
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| Error::invalid(format!("the chat template does not compile: {e}")))?;
        let reads_tools = template_reads_tools(&env)? && states_llama3_call_format(source);
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            reads_tools,
        })
    }

    /// Whether the template renders tools itself and asks for Llama 3.x's JSON call (see
    /// [`template_reads_tools`] and [`states_llama3_call_format`]); else the generic mode.
    pub fn reads_tools(&self) -> bool {
        self.reads_tools
    }

    /// The template for a file that has none: Gemma's turn format if the vocabulary has
    /// `<start_of_turn>`, else ChatML.
    pub fn default_for(tokenizer: &Tokenizer) -> &'static str {
        match tokenizer.token_id("<start_of_turn>") {
            Some(_) => GEMMA_TEMPLATE,
            None => CHATML_TEMPLATE,
        }
    }

    /// The model's template (or [`ChatTemplate::default_for`] it), with BOS/EOS texts from the
    /// tokenizer.
    pub fn for_model(template: Option<&str>, tokenizer: &Tokenizer) -> Result<ChatTemplate> {
        let text = |id: Option<u32>| {
            id.and_then(|i| tokenizer.token_bytes(i))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let bos = text(tokenizer.bos_id());
        let eos = text(tokenizer.eos_ids().first().copied());
        let source = template.unwrap_or_else(|| Self::default_for(tokenizer));
        ChatTemplate::new(source, &bos, &eos)
    }

    // ANCHOR: render
    /// The prompt text for `messages`; with `add_generation_prompt` it ends where the
    /// assistant's reply begins.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.render_with_tools(messages, None, add_generation_prompt)
    }

    /// [`ChatTemplate::render`] with `tools` in the context: OpenAI's list of
    /// `{"type": "function", "function": {name, description, parameters}}`, as
    /// `apply_chat_template(tools=...)` passes it (`none` when there are none, as there).
    pub fn render_with_tools(
        &self,
        messages: &[Message],
        tools: Option<&serde_json::Value>,
        add_generation_prompt: bool,
    ) -> Result<String> {
        let tmpl = self
            .env
            .get_template("chat")
            .map_err(|e| Error::invalid(e.to_string()))?;
        let mut out = CappedOutput(Vec::new());
        let ctx = context! {
            messages => messages,
            tools => tools,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        };
        // A template is untrusted input (it ships inside the model file), and the engine has
        // panicked on some (minijinja 2.24.0: `loop.cycle()` with no arguments divides by
        // zero): a panic while rendering is reported as this template's error, not a crash.
        let rendered = catch_unwind(AssertUnwindSafe(|| tmpl.render_captured_to(ctx, &mut out)))
            .map_err(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_string());
                Error::invalid(format!(
                    "rendering the chat template failed: the template engine panicked ({what})"
                ))
            })?;
        rendered.map_err(|e| {
            let why = match e.kind() {
                ErrorKind::OutOfFuel => {
                    format!("too much work (more than {RENDER_FUEL} template instructions)")
                }
                _ if out.0.len() >= MAX_RENDER_BYTES => {
                    format!("the prompt passed {} MiB", MAX_RENDER_BYTES >> 20)
                }
                _ => render_error(&e, tmpl.source()),
            };
            Error::invalid(format!("rendering the chat template failed: {why}"))
        })?;
        String::from_utf8(out.0).map_err(|e| Error::invalid(format!("chat template output: {e}")))
    }

    /// Render, then encode with special tokens recognised (`apply_chat_template(tokenize=True)`),
    /// BOS first if the model adds one and the template did not write it.
    pub fn encode(
        &self,
        tokenizer: &Tokenizer,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        self.encode_with_tools(tokenizer, messages, None, add_generation_prompt)
    }

    /// [`ChatTemplate::encode`] with `tools` in the context ([`ChatTemplate::render_with_tools`]).
    pub fn encode_with_tools(
        &self,
        tokenizer: &Tokenizer,
        messages: &[Message],
        tools: Option<&serde_json::Value>,
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        let text = self.render_with_tools(messages, tools, add_generation_prompt)?;
        Ok(tokenizer.encode_prompt(&text))
    }
    // ANCHOR_END: render
}

// ANCHOR: reads_tools
/// The rule that decides whether a template renders tools itself: it reads the variable
/// `tools` that `apply_chat_template(tools=...)` passes, i.e. `tools` is among the variables the
/// template uses without defining them first (minijinja's `undeclared_variables`, nested
/// lookups ignored). Llama 3.x (`{%- if not tools is defined %}`), Qwen 2.5, Hermes and Mistral
/// templates do; ChatML and SmolLM2's do not, and a template that merely prints the word
/// "tools" in its text is not counted. A template that reads `tools` was trained with its own
/// way of listing tools and its own call syntax, so it gets those ([`crate::tools::plan`]).
pub fn template_reads_tools(env: &Environment<'static>) -> Result<bool> {
    let tmpl = env
        .get_template("chat")
        .map_err(|e| Error::invalid(e.to_string()))?;
    Ok(tmpl.undeclared_variables(false).contains("tools"))
}

/// The one call syntax glassbox constrains and parses besides its generic format: Llama 3.x's
/// JSON call, which its template announces in these words. A template that reads `tools` but
/// asks for another syntax (Qwen 2.5's and Hermes' `<tool_call>` tags, Mistral's
/// `[TOOL_CALLS]`) keeps the generic mode rather than being held to a format it did not teach.
pub fn states_llama3_call_format(source: &str) -> bool {
    source.contains(
        r#"{"name": function name, "parameters": dictionary of argument name and its value}"#,
    )
}
// ANCHOR_END: reads_tools

/// What went wrong and where, for a template that fails while rendering: the line, the
/// expression (or, without one, the line's text) and minijinja's kind and detail:
/// ``line 1, at `message.content | trim`: invalid operation: …``.
///
/// Written here rather than by minijinja's `{:#}`, whose source excerpt is turned off in
/// [`ChatTemplate::new`] (`set_debug(false)`): it subtracts a span's start column from its end
/// column, and minijinja 2.24.0 gives the empty target of `{% for in x %}` a span that ends
/// before it starts, so a failing render panicked ("attempt to subtract with overflow",
/// a fuzz finding of issue 17). It also copied every variable the template had read (the
/// whole conversation) into the error. A span that is empty or backwards quotes the line.
fn render_error(e: &minijinja::Error, source: &str) -> String {
    /// The most characters of template text an error quotes.
    const QUOTE_CHARS: usize = 120;
    let what = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    let Some(n) = e.line() else {
        return what;
    };
    let expr = e
        .range()
        .filter(|r| r.start < r.end)
        .and_then(|r| source.get(r))
        .filter(|t| !t.contains('\n'));
    let (place, text) = match expr {
        Some(t) => ("at", t),
        None => ("in", source.lines().nth(n.saturating_sub(1)).unwrap_or("")),
    };
    let text = text.trim();
    let mut quote: String = text.chars().take(QUOTE_CHARS).collect();
    if quote.len() < text.len() {
        quote.push('…');
    }
    format!("line {n}, {place} `{quote}`: {what}")
}

/// Where a render writes: refuses to grow past [`MAX_RENDER_BYTES`].
struct CappedOutput(Vec<u8>);

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_RENDER_BYTES {
            self.0.resize(MAX_RENDER_BYTES, 0); // marks the overflow for `render`
            return Err(std::io::Error::other("chat template output too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The chat-end tokens a model may emit, found by name in the vocabulary: ChatML's
/// `<|im_end|>`, Llama 3's `<|eot_id|>` and `<|eom_id|>`, Gemma's `<end_of_turn>`, GPT-style
/// `<|endoftext|>`, plus the tokenizer's own EOS ids. Sorted, without duplicates.
pub fn stop_token_ids(tokenizer: &Tokenizer) -> Vec<u32> {
    let mut ids: Vec<u32> = tokenizer.eos_ids().to_vec();
    for name in [
        "<|im_end|>",
        "<|eot_id|>",
        "<|eom_id|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "<|end_of_text|>",
        "</s>",
    ] {
        if let Some(id) = tokenizer.token_id(name) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `strftime` for the formats chat templates use (`%d`, `%b`, `%B`, `%Y`, `%m`, `%H`, `%M`),
/// from the system clock in UTC.
fn strftime_now(fmt: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    // civil_from_days (Howard Hinnant): days since 1970-01-01 → (year, month, day)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let name = MONTHS[(month - 1) as usize];
    fmt.replace("%d", &format!("{day:02}"))
        .replace("%b", &name[..3])
        .replace("%B", name)
        .replace("%Y", &year.to_string())
        .replace("%m", &format!("{month:02}"))
        .replace("%H", &format!("{:02}", secs % 86_400 / 3600))
        .replace("%M", &format!("{:02}", secs % 3600 / 60))
}
