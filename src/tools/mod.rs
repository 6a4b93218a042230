//! # Stage 6e: tool calls — a schema the model fills in to ask for a function
//!
//! A tool call is structured output whose schema the *application* chose: "call one of these
//! functions, with arguments that fit its parameters". SmolLM2's chat template knows nothing of
//! tools, so this module does what llama.cpp's "generic" format does for such models:
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
pub mod split;

pub use split::{Delta, Shape, Splitter, GENERIC};

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
    /// The schema the mask follows; `None`: no mask.
    pub schema: Option<Value>,
    /// How to split the reply into content and calls; `None`: the reply is the content.
    pub shape: Option<Shape>,
}

// ANCHOR: plan
/// Decide, for one request, what the template sees, which schema the mask follows and how the
/// reply is split.
///
/// Every template gets the generic format: tools described in the system prompt, earlier calls
/// and results written as the JSON the model itself writes. (Templates with their own tool
/// syntax, such as Llama 3.x's `{"name", "parameters"}`, would choose another [`Shape`] and
/// schema here; glassbox does not implement one yet.)
pub fn plan(reply: &Reply, messages: &[Message]) -> Plan {
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
            schema: reply.format.clone(),
            shape: None,
        };
    }
    Plan {
        messages,
        schema: Some(generic::schema(
            &reply.tools,
            &reply.choice,
            reply.format.as_ref(),
        )),
        shape: Some(GENERIC),
    }
}
// ANCHOR_END: plan
