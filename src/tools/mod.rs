//! # Stage 6e: tool calls — a schema the model fills in to ask for a function
//!
//! A tool call is structured output whose schema the *application* chose: "call one of these
//! functions, with arguments that fit its parameters". A template that reads `tools` (Llama
//! 3.x) lists them itself and gets its own call syntax (llama.rs). SmolLM2's chat template
//! knows nothing of tools, so for it this module does what llama.cpp's "generic" format does:
//!
//! ```text
//! request: tools [get_weather(city), …], tool_choice auto, messages
//!    │ 1. describe the tools in the system prompt                          generic.rs
//!    │ 2. render earlier calls and results as the text the model would write
//!    │ 3. one schema: {"tool_call": {"name": <a tool>, "arguments": <its parameters>}}
//!    │                or (auto) {"response": "<text>"}                     generic.rs
//!    ▼ the mask (constrain/) makes the model write exactly one such object
//! {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}
//!    │ split as it streams: name first, then argument fragments            split.rs
//!    ▼
//! message.tool_calls[{id: "call_…", type: "function", function: {name, arguments: "{…}"}}]
//! ```
//!
//! [`plan`] is the one place that decides, for one request, what the template sees, which
//! schema the mask follows and how the reply is split.

pub mod generic;
pub mod llama;
pub mod split;

pub use split::{Delta, Shape, Splitter, GENERIC, LLAMA3_JSON};

use crate::chat::Message;
use serde_json::Value;

/// A function the model may call (OpenAI's `tools[i].function`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema (the subset `constrain::compile` takes) for the arguments object.
    pub parameters: Value,
}

/// OpenAI's `tool_choice`.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolChoice {
    /// Never call a tool: a plain answer (the tools are described, as not callable now).
    None,
    /// The model decides: a call, or an answer.
    Auto,
    /// A call of some tool.
    Required,
    /// A call of this tool.
    Function(String),
}

/// What a chat request asks the answer to look like: `response_format`, `tools`, `tool_choice`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// `response_format`'s schema (`json_object`: `{"type": "object"}`); `None`: free text.
    pub format: Option<Value>,
    pub tools: Vec<Tool>,
    pub choice: ToolChoice,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            format: None,
            tools: Vec::new(),
            choice: ToolChoice::Auto,
        }
    }
}

impl Reply {
    /// Whether the answer may be a tool call.
    pub fn calls_tools(&self) -> bool {
        !self.tools.is_empty() && self.choice != ToolChoice::None
    }
}

/// What one request needs from this module.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The conversation as the template should see it.
    pub messages: Vec<Message>,
    /// The template's `tools` (OpenAI's list), for a template that renders them itself.
    pub tools: Option<Value>,
    /// The schema the mask follows; `None`: no mask.
    pub schema: Option<Value>,
    /// How to split the reply into content and calls; `None`: the reply is the content.
    pub shape: Option<Shape>,
}

// ANCHOR: plan
/// Decide, for one request, what the template sees, which schema the mask follows and how the
/// reply is split. `template_reads_tools`: the chat template renders tools itself
/// ([`crate::chat::template_reads_tools`], e.g. Llama 3.x).
///
/// ```text
/// template        tool_choice        tools rendered by      mask                      split
/// reads `tools`   required / named   the template           {"name","parameters"}     LLAMA3_JSON
/// reads `tools`   none (or no tools) — (messages as they are) response_format, if any  —
/// reads `tools`   auto               generic (below): a mask cannot yet say "free text, or
///                                    a call", so auto keeps the format that can say it
/// anything else   any                generic: described in the system message,
///                                    {"tool_call"} | {"response"}                    GENERIC
/// ```
pub fn plan(reply: &Reply, messages: &[Message], template_reads_tools: bool) -> Plan {
    if template_reads_tools && reply.choice != ToolChoice::Auto {
        return own_syntax(reply, messages);
    }
    if template_reads_tools && !reply.calls_tools() {
        return own_syntax(reply, messages); // no tools: nothing to describe
    }
    let mut messages = generic::history(messages);
    if !reply.tools.is_empty() {
        // described under `none` too: the model may need to know what an earlier call did
        generic::add_system(
            &mut messages,
            &generic::describe(&reply.tools, &reply.choice),
        );
    }
    if !reply.calls_tools() {
        return Plan {
            messages,
            tools: None,
            schema: reply.format.clone(),
            shape: None,
        };
    }
    Plan {
        messages,
        tools: None,
        schema: Some(generic::schema(
            &reply.tools,
            &reply.choice,
            reply.format.as_ref(),
        )),
        shape: Some(GENERIC),
    }
}

/// A template with its own tool syntax: the messages as they came (it writes past calls and
/// results itself), the tools in its context when a call is asked for, and the mask and split
/// of Llama 3's JSON call. Under `none` the tools are not rendered: the template's tool text is
/// an instruction to call one.
fn own_syntax(reply: &Reply, messages: &[Message]) -> Plan {
    if !reply.calls_tools() {
        return Plan {
            messages: messages.to_vec(),
            tools: None,
            schema: reply.format.clone(),
            shape: None,
        };
    }
    Plan {
        messages: messages.to_vec(),
        tools: Some(llama::tools_json(&reply.tools)),
        schema: Some(llama::schema(&reply.tools, &reply.choice)),
        shape: Some(LLAMA3_JSON),
    }
}
// ANCHOR_END: plan
