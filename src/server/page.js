// The glass-box page: a chat over POST /v1/chat/completions with stream: true and
// logprobs: true, top_logprobs: 5. Every streamed token becomes a <span class="tok"> coloured
// by its probability; hovering or clicking it shows the five most likely tokens at that step.
// Plain JavaScript, no build step, no network but this server.
"use strict";

const $ = (id) => document.getElementById(id);
const conversation = []; // {role, content} of the conversation so far

// p in [0, 1] → a background colour: red (unlikely) through yellow to green (certain).
function colour(p) {
  const hue = Math.round(120 * Math.max(0, Math.min(1, p)));
  return `hsl(${hue}, 85%, 78%)`;
}

function legend() {
  for (const p of [0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]) {
    const sw = document.createElement("span");
    sw.className = "sw";
    sw.style.background = colour(p);
    sw.title = `p = ${p}`;
    $("legend").appendChild(sw);
  }
  $("legend").appendChild(document.createTextNode(" 0 → 1"));
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function showModel() {
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    const j = await r.json();
    $("model").textContent = r.ok ? `${j.data[0].id} · context ${j.data[0].meta.n_ctx}` : j.error.message;
  } catch (e) {
    $("model").textContent = String(e);
  }
}

function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role;
  div.appendChild(label);
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = text || "";
  div.appendChild(body);
  $("chat").appendChild(div);
  window.scrollTo(0, document.body.scrollHeight);
  return div;
}

// The alternatives box for one token span.
function showAlts(span) {
  const box = $("alts");
  const top = JSON.parse(span.dataset.top);
  const rows = top.map((t) => {
    const p = Math.exp(t.logprob);
    const chosen = t.token === span.dataset.token ? " class=\"chosen\"" : "";
    const text = JSON.stringify(t.token).slice(1, -1);
    return `<tr${chosen}><td>${escapeHtml(text)}</td><td>${(100 * p).toFixed(1)}%</td>` +
      `<td><span class="bar" style="width:${Math.max(1, Math.round(80 * p))}px"></span></td></tr>`;
  });
  const p = Math.exp(parseFloat(span.dataset.logprob));
  box.innerHTML = `<table><caption>chosen: p = ${(100 * p).toFixed(1)}% · top ${top.length}</caption>` +
    rows.join("") + "</table>";
  const r = span.getBoundingClientRect();
  box.style.left = `${window.scrollX + r.left}px`;
  box.style.top = `${window.scrollY + r.bottom + 4}px`;
  box.style.display = "block";
  document.querySelectorAll(".tok.picked").forEach((s) => s.classList.remove("picked"));
  span.classList.add("picked");
}

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" })[c]);
}

// One SSE stream → calls onEvent(json) for each `data:` event, stops at [DONE].
async function readSse(response, onEvent) {
  const reader = response.body.getReader();
  const text = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += text.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue; // ": keep-alive" comments
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function send(question) {
  conversation.push({ role: "user", content: question });
  bubble("user", question);
  const div = bubble("assistant", "");
  const body = div.querySelector(".body");
  const stats = document.createElement("div");
  stats.className = "stats";
  div.appendChild(stats);
  const bytes = new TextDecoder(); // tokens may split a character: decode their bytes in order
  const req = {
    messages: conversation,
    stream: true,
    stream_options: { include_usage: true },
    logprobs: true,
    top_logprobs: 5,
    temperature: parseFloat($("temperature").value),
    top_p: parseFloat($("top_p").value),
    max_tokens: parseInt($("max_tokens").value, 10),
  };
  if ($("seed").value !== "") req.seed = parseInt($("seed").value, 10);
  const t0 = performance.now();
  let tFirst = null, nTokens = 0, answer = "";
  const show = (extra) => {
    const now = performance.now();
    const ttft = tFirst === null ? "–" : `${(tFirst - t0).toFixed(0)} ms`;
    const rate = nTokens > 1 ? (nTokens - 1) / ((now - tFirst) / 1000) : 0;
    stats.textContent = `${nTokens} tokens · time to first token ${ttft} · ${rate.toFixed(1)} tok/s` + (extra || "");
  };
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(req) });
    if (!r.ok) throw new Error((await r.json()).error.message);
    await readSse(r, (j) => {
      if (j.error) throw new Error(j.error.message);
      if (j.usage && j.choices.length === 0) {
        const u = j.usage;
        show(` · prompt ${u.prompt_tokens} tokens (${u.prompt_tokens_details.cached_tokens} reused from the cache)`);
        return;
      }
      const c = j.choices[0];
      const entries = (c.logprobs && c.logprobs.content) || [];
      for (const e of entries) {
        if (tFirst === null) tFirst = performance.now();
        nTokens += 1;
        const span = document.createElement("span");
        span.className = "tok";
        span.textContent = bytes.decode(new Uint8Array(e.bytes), { stream: true });
        span.style.background = colour(Math.exp(e.logprob));
        span.dataset.token = e.token;
        span.dataset.logprob = e.logprob;
        span.dataset.top = JSON.stringify(e.top_logprobs);
        span.addEventListener("mouseenter", () => showAlts(span));
        span.addEventListener("click", () => showAlts(span));
        body.appendChild(span);
      }
      if (c.delta && c.delta.content) answer += c.delta.content;
      if (entries.length === 0 && c.delta && c.delta.content) body.appendChild(document.createTextNode(c.delta.content));
      show();
    });
    conversation.push({ role: "assistant", content: answer });
  } catch (e) {
    div.classList.add("error");
    body.appendChild(document.createTextNode(" [error: " + e.message + "]"));
    conversation.pop();
  }
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("input").value.trim();
  if (!q) return;
  $("input").value = "";
  $("send").disabled = true;
  send(q).finally(() => { $("send").disabled = false; $("input").focus(); });
});
$("input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("form").requestSubmit(); }
});
$("reset").addEventListener("click", () => {
  conversation.length = 0;
  document.querySelectorAll(".msg").forEach((m) => m.remove());
  $("alts").style.display = "none";
});
$("key").addEventListener("change", showModel);
document.addEventListener("click", (ev) => {
  if (!ev.target.classList.contains("tok")) $("alts").style.display = "none";
});
legend();
showModel();
