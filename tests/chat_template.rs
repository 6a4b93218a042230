//! Chat templates (src/chat.rs): SmolLM2's own template, read from the GGUF, renders the same
//! text and the same ids as transformers' `apply_chat_template` (fixture from
//! scripts/fixtures_sampling.py), and the Python-isms other templates use work.

use glassbox::chat::{ChatTemplate, Message, CHATML_TEMPLATE};
use glassbox::formats::gguf::GgufFile;
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sampling/chat_smollm2.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("run scripts/fixtures_sampling.py"))
        .unwrap()
}

fn messages(v: &Value) -> Vec<Message> {
    serde_json::from_value(v["messages"].clone()).unwrap()
}

/// The default model (fetched on first use, like every command; GLASSBOX_DATA may point at it).
fn smollm2() -> GgufFile {
    let path = glassbox::data::default_model().expect("the default model");
    GgufFile::open(&path).expect("open the GGUF")
}

#[test]
fn smollm2_template_renders_like_transformers() {
    let gguf = smollm2();
    let source = gguf
        .get_str("tokenizer.chat_template")
        .expect("SmolLM2 ships a chat template");
    let t = ChatTemplate::new(source, "<|im_start|>", "<|im_end|>").unwrap();
    for conv in fixture()["conversations"].as_array().unwrap() {
        let got = t
            .render(
                &messages(conv),
                conv["add_generation_prompt"].as_bool().unwrap(),
            )
            .unwrap();
        assert_eq!(
            got,
            conv["text"].as_str().unwrap(),
            "conversation {}",
            conv["name"]
        );
    }
}

#[test]
fn chatml_fallback_and_python_methods() {
    let t = ChatTemplate::new(CHATML_TEMPLATE, "", "").unwrap();
    let out = t.render(&[Message::user("hi")], true).unwrap();
    assert_eq!(
        out,
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );

    let src = "{% for m in messages %}[{{ m['content'].strip() }}|{{ m.content.upper() }}|\
               {{ m.content.startswith('  a') }}|{{ m.content.replace('a', 'o').strip(' ') }}|\
               {{ m.get('missing', 'dflt') }}]{% endfor %}{{ bos_token }}{{ eos_token }}";
    let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
    let out = t.render(&[Message::user("  abc  ")], false).unwrap();
    assert_eq!(out, "[abc|  ABC  |True|obc|dflt]<s></s>");

    let t = ChatTemplate::new("{{ raise_exception('roles must alternate') }}", "", "").unwrap();
    let err = t.render(&[], false).unwrap_err().to_string();
    assert!(err.contains("roles must alternate"), "{err}");

    assert!(ChatTemplate::new("{% for %}", "", "").is_err());
}

#[test]
fn smollm2_chat_ids_equal_apply_chat_template_ids() {
    use glassbox::chat::stop_token_ids;
    use glassbox::tokenizer::Tokenizer;
    let gguf = smollm2();
    let tok = Tokenizer::from_gguf(&gguf).unwrap();
    let t = ChatTemplate::for_model(gguf.get_str("tokenizer.chat_template"), &tok).unwrap();
    for conv in fixture()["conversations"].as_array().unwrap() {
        let want: Vec<u32> = conv["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let got = t
            .encode(
                &tok,
                &messages(conv),
                conv["add_generation_prompt"].as_bool().unwrap(),
            )
            .unwrap();
        assert_eq!(got, want, "conversation {}", conv["name"]);
    }
    // ChatML's control tokens are single special ids, and <|im_end|> ends a reply
    assert_eq!(tok.token_id("<|im_start|>"), Some(1));
    assert_eq!(tok.token_id("<|im_end|>"), Some(2));
    assert!(stop_token_ids(&tok).contains(&2));
}
