"""The offline HTML page for remote participants (one file: markup, script and audio).

The page holds clip ids, audio and playing orders only: no category, source or
model name, so nothing in it (source or DOM) says what a clip is.  Answers are
kept in the browser's localStorage after every clip (a closed tab resumes),
and the results file is signed with HMAC-SHA256 under a key derived from the
test's secret (see :mod:`musestudio.listening.remote` for what that guards).

SHA-256 is written out in the script rather than taken from ``crypto.subtle``
because Web Crypto exists only in "secure contexts", and whether a page opened
from a ``file://`` URL is one differs between browsers; the page must sign
the same way everywhere.  The browser test checks it against Python's hashlib.
"""

from __future__ import annotations

PAGE_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; media-src data:; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>Listening test</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; background: #f7f7f4; }
 h1 { font-size: 1.5rem; } .card { background: #fff; border-radius: 10px; padding: 1.2rem 1.5rem; box-shadow: 0 1px 4px #0002; }
 .scale { margin: 1rem 0; } .scale label { font-weight: 600; } .help { color: #5a6272; font-size: .9rem; }
 .scale input[type=range] { width: 70%; vertical-align: middle; } .value { display: inline-block; width: 7rem; margin-left: .6rem; }
 button { font-size: 1rem; padding: .5rem 1.2rem; margin-top: .8rem; } button:disabled { opacity: .5; }
 .choice { margin: 1rem 0; } textarea { width: 100%; min-height: 4rem; } .hidden { display: none; }
 .progress { color: #5a6272; } audio { width: 100%; margin: .6rem 0; } #saved-text { width: 100%; min-height: 6rem; font-size: .8rem; }
</style>
</head>
<body>
<h1 id="title"></h1>
<div class="card" id="start-page">
 <p>You will hear a number of short piano pieces. Some were played by people, some were made by a computer.
 Listen to each piece to the end, then rate it on four scales from 1 (poor) to 5 (excellent) and say whether you
 think a human or an AI made it. There are no right or wrong ratings: your own impression is what counts.</p>
 <p><label for="participant-number">Participant number (from the person who sent you this page; leave empty if you have none):</label>
 <input id="participant-number" type="number" min="1" step="1" style="width:6rem"></p>
 <button id="start">Start</button> <button id="resume" class="hidden">Continue where I stopped</button>
 <p class="help" id="start-note"></p>
</div>
<div class="card hidden" id="clip-page">
 <div class="progress" id="progress"></div>
 <audio id="player" controls preload="auto"></audio>
 <div class="help" id="listen-note">Listen to the whole piece before answering.</div>
 <div id="scales"></div>
 <div class="choice"><b>Who made this piece?</b><br>
  <label><input type="radio" name="who" value="human" id="who-human"> A human</label>
  <label><input type="radio" name="who" value="ai" id="who-ai"> An AI</label></div>
 <label for="comment">Comment (optional):</label><textarea id="comment" maxlength="4000"></textarea>
 <button id="next" disabled>Next</button>
</div>
<div class="card hidden" id="end-page">
 <p>Thank you! Save your answers as a file and send it back to the person who gave you this page.</p>
 <button id="save">Save results file</button>
 <p class="help" id="save-note"></p>
 <textarea id="saved-text" class="hidden" readonly></textarea>
</div>
<script type="application/json" id="test-data">__TEST_DATA__</script>
<script type="application/json" id="audio-data">__AUDIO_DATA__</script>
<script>
"use strict";
const TEST = JSON.parse(document.getElementById("test-data").textContent);
const AUDIO = JSON.parse(document.getElementById("audio-data").textContent);
const STORE_KEY = "musestudio-listening-" + TEST.test_id;
const $ = (id) => document.getElementById(id);

// --- SHA-256 and HMAC (see the module docstring for why not crypto.subtle) ---
function primeFractions(count, root) {
  const out = new Uint32Array(count); let n = 2, k = 0;
  while (k < count) {
    let prime = true; for (let d = 2; d * d <= n; d++) { if (n % d === 0) { prime = false; break; } }
    if (prime) { const r = Math.pow(n, 1 / root); out[k++] = Math.floor((r - Math.floor(r)) * 4294967296); }
    n++;
  }
  return out;
}
const SHA_K = primeFractions(64, 3), SHA_H0 = primeFractions(8, 2);
function sha256(bytes) {
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  const len = bytes.length, blocks = (len + 9 + 63) >> 6, buf = new Uint8Array(blocks * 64);
  buf.set(bytes); buf[len] = 0x80;
  const view = new DataView(buf.buffer), bits = len * 8;
  view.setUint32(buf.length - 4, bits >>> 0); view.setUint32(buf.length - 8, Math.floor(bits / 4294967296));
  const H = Uint32Array.from(SHA_H0), W = new Uint32Array(64);
  for (let off = 0; off < buf.length; off += 64) {
    for (let t = 0; t < 16; t++) W[t] = view.getUint32(off + 4 * t);
    for (let t = 16; t < 64; t++) {
      const a = W[t - 15], b = W[t - 2];
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3), s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let t = 0; t < 64; t++) {
      const S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25), ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + SHA_K[t] + W[t]) | 0;
      const S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22), maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  const out = new Uint8Array(32), ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, H[i]);
  return out;
}
function hexToBytes(hex) { const out = new Uint8Array(hex.length / 2); for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16); return out; }
function bytesToHex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
function hmacSha256(keyBytes, msgBytes) {
  const block = new Uint8Array(64); block.set(keyBytes.length > 64 ? sha256(keyBytes) : keyBytes);
  const inner = new Uint8Array(64 + msgBytes.length), outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
  inner.set(msgBytes, 64); outer.set(sha256(inner), 64);
  return sha256(outer);
}
function signText(text) { return bytesToHex(hmacSha256(hexToBytes(TEST.key), new TextEncoder().encode(text))); }
window.musestudioSha256Hex = (text) => bytesToHex(sha256(new TextEncoder().encode(text)));

// --- state -------------------------------------------------------------------
let state = null;
function randomHex(n) { const b = new Uint8Array(n); crypto.getRandomValues(b); return bytesToHex(b); }
function participantId() {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", b = new Uint8Array(5); crypto.getRandomValues(b);
  return "P-" + Array.from(b, (x) => alphabet[x % alphabet.length]).join("");
}
function persist() { try { localStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode: answers stay in memory */ } }
function loadSaved() { try { const s = JSON.parse(localStorage.getItem(STORE_KEY) || "null"); return s && s.test_id === TEST.test_id ? s : null; } catch (e) { return null; } }
function nowIso() { return new Date().toISOString().replace(/\.\d+Z$/, "+00:00"); }

function startNew() {
  const raw = $("participant-number").value.trim();
  const n = parseInt(raw, 10);
  const slot = Number.isFinite(n) && n >= 1 ? (n - 1) % TEST.slots.length : Math.floor(Math.random() * TEST.slots.length);
  state = { test_id: TEST.test_id, session_id: randomHex(8), participant: participantId(), slot: slot,
            plan: TEST.slots[slot], started_at: nowIso(), finished_at: null, answers: [], saved: false };
  persist(); showClip();
}

// --- pages -------------------------------------------------------------------
function show(page) { for (const id of ["start-page", "clip-page", "end-page"]) $(id).classList.toggle("hidden", id !== page); }
let listenedEnough = false, listenStart = 0, listened = 0;
function buildScales() {
  const box = $("scales");
  for (const dim of TEST.dimensions) {
    const div = document.createElement("div"); div.className = "scale";
    div.innerHTML = '<label></label> <span class="help"></span><br><input type="range" min="1" max="5" step="1" value="3"><span class="value"></span>';
    div.querySelector("label").textContent = dim.label;
    div.querySelector(".help").textContent = dim.help;
    const input = div.querySelector("input"); input.id = "rate-" + dim.key; input.setAttribute("aria-label", dim.label);
    const value = div.querySelector(".value"); value.id = "value-" + dim.key;
    input.addEventListener("input", () => { value.textContent = TEST.scale_labels[input.value]; });
    box.appendChild(div);
  }
}
function resetAnswer() {
  for (const dim of TEST.dimensions) { $("rate-" + dim.key).value = 3; $("value-" + dim.key).textContent = TEST.scale_labels["3"]; }
  $("who-human").checked = false; $("who-ai").checked = false; $("comment").value = "";
}
function updateNext() { $("next").disabled = !(listenedEnough && ($("who-human").checked || $("who-ai").checked)); }
function showClip() {
  const pos = state.answers.length;
  if (pos >= state.plan.length) { finish(); return; }
  show("clip-page"); resetAnswer();
  $("progress").textContent = "Piece " + (pos + 1) + " of " + state.plan.length + " (participant " + state.participant + ")";
  listenedEnough = false; listened = 0; listenStart = 0; updateNext();
  const player = $("player"); player.src = AUDIO[state.plan[pos]]; player.load();
}
function recordAnswer() {
  const pos = state.answers.length, clip = state.plan[pos], answer = { position: pos, clip_id: clip };
  for (const dim of TEST.dimensions) answer[dim.key] = parseInt($("rate-" + dim.key).value, 10);
  answer.judged_human = $("who-human").checked;
  answer.comment = $("comment").value.slice(0, 4000);
  answer.listened_seconds = Math.round(listened * 10) / 10;
  answer.answered_at = nowIso();
  state.answers.push(answer); persist();
  $("player").pause(); showClip();
}
function payloadText() {
  return JSON.stringify({ format: "musestudio-listening-results", version: 1, test_id: TEST.test_id, test_title: TEST.title,
    session_id: state.session_id, participant: state.participant, slot: state.slot, plan: state.plan,
    started_at: state.started_at, finished_at: state.finished_at, answers: state.answers });
}
function finish() {
  if (!state.finished_at) { state.finished_at = nowIso(); persist(); }
  show("end-page");
}
function save() {
  const payload = payloadText();
  const text = JSON.stringify({ payload: payload, signature: signText(payload) });
  const name = "listening-results-" + TEST.test_id.slice(0, 8) + "-" + state.participant + ".json";
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a"); a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
  state.saved = true; persist();
  $("save-note").textContent = "Saved as " + name + " in your downloads folder. If no file appeared, copy the text below into a file with that name.";
  $("saved-text").value = text; $("saved-text").classList.remove("hidden");
}

// --- wiring ------------------------------------------------------------------
$("title").textContent = TEST.title;
document.title = TEST.title;
buildScales();
const player = $("player");
player.addEventListener("play", () => { listenStart = player.currentTime; });
player.addEventListener("timeupdate", () => {
  if (!player.paused) { listened = Math.max(listened, player.currentTime); }
  if (player.duration && player.currentTime >= player.duration - 0.25) { listenedEnough = true; updateNext(); }
});
player.addEventListener("ended", () => { listened = player.duration || listened; listenedEnough = true; updateNext(); });
$("who-human").addEventListener("change", updateNext);
$("who-ai").addEventListener("change", updateNext);
$("next").addEventListener("click", recordAnswer);
$("start").addEventListener("click", startNew);
$("resume").addEventListener("click", () => { state = loadSaved(); showClip(); });
$("save").addEventListener("click", save);
const saved = loadSaved();
if (saved && !saved.saved) {
  $("resume").classList.remove("hidden");
  $("start-note").textContent = "You answered " + saved.answers.length + " of " + saved.plan.length + " pieces last time.";
}
</script>
</body>
</html>
"""
